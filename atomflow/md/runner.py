"""Run one MD protocol in-process with LAMMPS, capturing frames to H5MD and writing restarts.

The run proceeds in chunks of ``sample_every`` steps. After each production chunk the
unwrapped positions and the box are appended to ``traj.h5`` (no text dumps). Every
``restart_every`` steps a restart file is written; a killed run re-run in the same
directory continues from the newest readable restart, and frames after it are dropped
from the trajectory so that it stays continuous.

SIGTERM and SIGUSR1 (a scheduler's walltime warning) make the run write a restart at the
next chunk boundary and raise :class:`MDInterrupted`.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from atomflow.errors import AtomflowError
from atomflow.md import restarts
from atomflow.md.box import box_matrix, load_structure
from atomflow.md.protocols import MDProtocol, common_commands, integrator_commands
from atomflow.md.session import open_lammps, world
from atomflow.potentials import Potential
from atomflow.trajectory.h5md import H5MDWriter

TRAJECTORY = "traj.h5"
Progress = Callable[[float, str], None]


class MDInterrupted(AtomflowError):
    """The run stopped on a signal after writing a restart; re-run to continue."""

    requeue = True  # the engine marks the task interrupted (retryable), not failed


class MDUnstable(AtomflowError):
    """The run lost atoms or produced non-finite energies."""


@dataclass(frozen=True)
class MDResult:
    """Summary of a finished MD stage; arrays live in the trajectory file."""

    trajectory: str
    natoms: int
    steps: int
    equil_steps: int
    timestep_ps: float
    n_frames: int
    mean_temperature_K: float
    std_temperature_K: float
    resumed_from_step: int | None
    wall_s: float
    ns_per_day: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _StopFlag:
    """Collect SIGTERM/SIGUSR1 while a run is in progress (main thread only)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGUSR1):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.signum = signum

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _frame(lmp) -> tuple[np.ndarray, np.ndarray]:
    """Unwrapped positions (ordered by atom ID) and the box matrix, gathered over ranks."""
    n = int(lmp.get_natoms())
    x = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3)).reshape(n, 3)
    image = np.ctypeslib.as_array(lmp.gather_atoms("image", 0, 3)).reshape(n, 3)
    cell = box_matrix(lmp.extract_box())
    return x + image @ cell, cell


def _observables(lmp) -> dict[str, float]:
    return {
        "temperature": float(lmp.get_thermo("temp")),
        "potential_energy": float(lmp.get_thermo("pe")),
        "total_energy": float(lmp.get_thermo("etotal")),
        "pressure": float(lmp.get_thermo("press")),
        "volume": float(lmp.get_thermo("vol")),
    }


def _start_fresh(lmp, structure: Structure, potential: Potential, p: MDProtocol) -> None:
    load_structure(lmp, structure, potential)
    lmp.command(f"velocity all create {p.temperature_K} {p.seed} dist gaussian mom yes rot yes")


def _resume(workdir: Path, potential: Potential, log: Path):
    """Open LAMMPS from the newest readable restart; returns (lmp, step) or (None, None)."""
    for step, path in restarts.candidates(workdir):
        lmp = open_lammps(log=log)
        try:
            lmp.command(f"read_restart {path}")
            lmp.commands_list(potential.lammps_commands())
            return lmp, step
        except Exception:
            lmp.close()
    return None, None


def run_md(
    structure: Structure,
    potential: Potential,
    protocol: MDProtocol,
    workdir: str | Path,
    progress: Progress | None = None,
) -> MDResult:
    """Run ``protocol`` on ``structure`` in ``workdir`` (resuming if restarts exist there)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    p = protocol
    potential.check_elements(el.symbol for el in structure.composition.elements)
    t0 = time.perf_counter()
    log = workdir / "log.lammps"
    lmp, step = _resume(workdir, potential, log)
    resumed_from = step
    if lmp is None:
        lmp = open_lammps(log=log)
        _start_fresh(lmp, structure, potential, p)
        step = 0
    rank, _ = world(lmp)
    lmp.commands_list(common_commands(p) + integrator_commands(p))
    lmp.command(f"reset_timestep {step}")
    natoms = int(lmp.get_natoms())
    if natoms != len(structure):
        raise MDUnstable(f"LAMMPS holds {natoms} atoms, the structure has {len(structure)}")

    writer = None
    if p.trajectory and rank == 0:
        species = np.array([potential.type_of(s.specie.symbol) for s in structure], np.int32)
        writer = H5MDWriter(
            workdir / TRAJECTORY,
            species,
            list(potential.elements),
            p.timestep_ps,
            append=resumed_from is not None,
        )
        writer.truncate_after(step if step >= p.equil_steps else -1)

    temps: list[float] = []
    first = True
    steps_done_here = 0
    try:
        with _StopFlag() as stop:
            # gathers and thermo evaluations are collective: every rank takes part, rank 0 writes
            # (a run resumed at step >= equil_steps already holds the frame at that step)
            if p.trajectory and resumed_from is None and p.equil_steps == 0:
                lmp.command("run 0 post no")
                pos, cell = _frame(lmp)
                obs = _observables(lmp)
                if writer is not None:
                    writer.append(step, pos, cell, obs)
            while step < p.total_steps:
                n = min(p.sample_every, p.total_steps - step)
                lmp.command(f"run {n} pre {'yes' if first else 'no'} post no")
                first = False
                step += n
                steps_done_here += n
                if int(lmp.get_natoms()) != natoms:
                    raise MDUnstable(
                        f"atoms were lost at step {step}: {int(lmp.get_natoms())} "
                        f"of {natoms} remain; the potential is unstable here"
                    )
                obs = _observables(lmp)
                if not np.isfinite(obs["potential_energy"]):
                    raise MDUnstable(f"non-finite potential energy at step {step}")
                if step >= p.equil_steps:
                    temps.append(obs["temperature"])
                    if p.trajectory:
                        pos, cell = _frame(lmp)
                        if writer is not None:
                            writer.append(step, pos, cell, obs)
                            writer.flush()
                if step % p.restart_every == 0 or step == p.total_steps:
                    restarts.write(lmp, workdir, step, rank)
                    first = True  # write_restart re-initialises the system: next run sets up
                if progress is not None and rank == 0:
                    phase = "equilibration" if step <= p.equil_steps else "production"
                    progress(
                        step / p.total_steps,
                        f"{p.ensemble.upper()} {p.temperature_K:g} K {phase} "
                        f"step {step}/{p.total_steps}",
                    )
                if stop.signum is not None:
                    restarts.write(lmp, workdir, step, rank)
                    raise MDInterrupted(
                        f"stopped by signal {stop.signum} at step {step}; restart written in "
                        f"{workdir}; re-run to continue"
                    )
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            restarts.write(lmp, workdir, step, rank)
        raise
    finally:
        n_frames = 0
        if writer is not None:
            n_frames = writer.n_frames
            writer.close()
        lmp.close()

    wall = time.perf_counter() - t0
    result = MDResult(
        trajectory=str(workdir / TRAJECTORY) if p.trajectory else "",
        natoms=natoms,
        steps=p.steps,
        equil_steps=p.equil_steps,
        timestep_ps=p.timestep_ps,
        n_frames=n_frames,
        mean_temperature_K=float(np.mean(temps)) if temps else float("nan"),
        std_temperature_K=float(np.std(temps)) if temps else float("nan"),
        resumed_from_step=resumed_from,
        wall_s=wall,
        ns_per_day=steps_done_here * p.timestep_ps * 1e-3 / wall * 86400 if wall > 0 else 0.0,
    )
    if rank == 0:
        (workdir / "md_result.json").write_text(json.dumps(result.as_dict(), indent=1))
    return result
