"""MD with a candidate fit: find where it extrapolates (active learning) and test whether it
holds together (the stability gate).

A linear fit fails where it never saw data: a pair closer than any in training sits in a
region the model has no repulsion for. So every frame's closest approach per element pair
is compared with the training set's; frames below it, and the frames just before a crash,
are what the labeller should see next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from pymatgen.core import Structure

from atomflow.distill.dataset import pair_min_distances
from atomflow.md.protocols import MDProtocol
from atomflow.md.runner import TRAJECTORY, run_md
from atomflow.potentials import Potential
from atomflow.trajectory.h5md import read_h5md


def _read(path: Path):
    """The H5MD trajectory, or None when the run died before its first frame."""
    if not Path(path).is_file():
        return None
    try:
        return read_h5md(path)
    except Exception:
        return None


def trajectory_frames(traj) -> list[Atoms]:
    """Frames of a :class:`Trajectory` as wrapped ASE Atoms (empty for None)."""
    if traj is None:
        return []
    frames = []
    for k in range(len(traj.steps)):
        atoms = Atoms(
            symbols=[str(s) for s in traj.species],
            positions=traj.positions[k],
            cell=traj.cells[k],
            pbc=True,
        )
        atoms.wrap()
        atoms.info["md_step"] = int(traj.steps[k])
        frames.append(atoms)
    return frames


def below_training(
    closest: dict[str, float], train_min: dict[str, float], margin: float = 0.02
) -> dict[str, tuple[float, float]]:
    """Pairs closer than the training minimum (less ``margin`` Å): {pair: (now, train)}."""
    out = {}
    for pair, d in closest.items():
        ref = train_min.get(pair)
        if ref is None or d < ref - margin:
            out[pair] = (d, ref if ref is not None else float("nan"))
    return out


@dataclass
class MDProbe:
    """What one MD run with a fit showed."""

    temperature_K: float
    n_atoms: int
    steps_done: int
    crashed: bool
    message: str
    closest_pair_A: float
    flagged_frames: int
    temperatures: list[float] = field(default_factory=list)
    flagged_pairs: dict[str, tuple[float, float]] = field(default_factory=dict)
    closest_by_pair: dict[str, float] = field(default_factory=dict)


def probe(
    structure: Structure,
    potential: Potential,
    temperature_K: float,
    steps: int,
    workdir: Path,
    train_min: dict[str, float],
    timestep_fs: float = 1.0,
    sample_every: int = 50,
    seed: int = 1,
    ensemble: str = "nvt",
) -> tuple[MDProbe, list[Atoms], list[bool]]:
    """MD (NVT, or NPT at 1 bar with the studies' barostat) with ``potential``; return the
    summary, the frames and which frames extrapolate."""
    protocol = MDProtocol(
        ensemble=ensemble,
        temperature_K=temperature_K,
        steps=steps,
        timestep_fs=timestep_fs,
        sample_every=sample_every,
        restart_every=max(sample_every, steps // sample_every * sample_every),
        seed=seed,
    )
    workdir = Path(workdir)
    crashed, message = False, "ok"
    try:
        run_md(structure, potential, protocol, workdir)
    except Exception as exc:  # lost atoms, non-finite energy, LAMMPS errors: all a crash
        if getattr(exc, "requeue", False):  # stopped on a signal at a restart: not a verdict
            raise
        crashed, message = True, f"{type(exc).__name__}: {exc}"[:400]
    traj = _read(workdir / TRAJECTORY)
    frames = trajectory_frames(traj)
    flags, closest_all, flagged_pairs, by_pair = [], np.inf, {}, {}
    for atoms in frames:
        closest = pair_min_distances([atoms])
        bad = below_training(closest, train_min)
        flags.append(bool(bad))
        flagged_pairs.update(bad)
        for pair, d in closest.items():
            by_pair[pair] = min(d, by_pair.get(pair, np.inf))
        if closest:
            closest_all = min(closest_all, min(closest.values()))
    temps = [float(t) for t in traj.observables.get("temperature", [])] if traj else []
    summary = MDProbe(
        temperature_K=temperature_K,
        n_atoms=len(structure),
        steps_done=int(frames[-1].info["md_step"]) if frames else 0,
        crashed=crashed,
        message=message,
        closest_pair_A=float(closest_all),
        flagged_frames=int(sum(flags)),
        temperatures=temps,
        flagged_pairs={k: (round(v[0], 3), round(v[1], 3)) for k, v in flagged_pairs.items()},
        closest_by_pair={k: round(float(v), 3) for k, v in sorted(by_pair.items())},
    )
    return summary, frames, flags


#: frames before a crash that are labelled: the run-up the fit got wrong
RUN_UP = 5


def select_frames(
    frames: list[Atoms],
    flags: list[bool],
    crashed: bool,
    n: int,
    rng: np.random.Generator,
    floor_A: float = 0.0,
) -> list[Atoms]:
    """Frames for the labeller: extrapolating ones and the run-up to a crash, else none.

    Frames with a pair under ``floor_A`` (inside the repulsive baseline's range, typically
    the last moments of a blow-up) are skipped: their huge forces would swamp the fit.
    """
    candidates = [k for k, f in enumerate(flags) if f]
    if crashed and frames:
        candidates += list(range(max(0, len(frames) - RUN_UP), len(frames)))
    candidates = sorted(
        k
        for k in set(candidates)
        if min(pair_min_distances([frames[k]]).values(), default=np.inf) >= floor_A
    )
    if not candidates:
        return []
    if len(candidates) > n:
        candidates = sorted(rng.choice(candidates, size=n, replace=False).tolist())
    return [frames[k] for k in candidates]


def spread_frames(
    frames: list[Atoms], n: int, floor_A: float = 0.0, crashed: bool = False
) -> list[Atoms]:
    """``n`` frames evenly spaced over a run (the last included), none with a pair under
    ``floor_A``: for a drift no pair distance flags, such as a cell sliding into a false
    dense minimum at constant pressure. After a crash the last ``RUN_UP`` frames (as
    :func:`select_frames` takes them) join them; each frame is returned once."""
    kept = [
        k
        for k, f in enumerate(frames)
        if min(pair_min_distances([f]).values(), default=np.inf) >= floor_A
    ]
    if len(kept) <= n:
        picks = set(kept)
    else:
        picks = {kept[i] for i in np.linspace(len(kept) - 1, 0, n).round().astype(int)}
    if crashed:
        picks |= {k for k in kept if k >= len(frames) - RUN_UP}
    return [frames[k] for k in sorted(picks)]


def volume_per_atom(frames: list[Atoms]) -> np.ndarray:
    """Cell volume per atom of each frame, Å³."""
    return np.array([f.get_volume() / len(f) for f in frames])


#: a pair whose bond in the parent is shorter than the gate's closest-pair limit allows for
#: (C=N of carbodiimide, 1.23 Å, swings to about 1.1 Å at 1000 K) is held to this fraction of
#: its bond instead: a collapse still fails, the thermal swing of a short bond does not
BOND_FRACTION = 0.85
#: the issue's gate: no pair closer than this in the stability run
MIN_PAIR_A = 1.2


def pair_floors(bonds_A: dict[str, float], min_pair_A: float = MIN_PAIR_A) -> dict[str, float]:
    """The gate's closest-approach limit for each pair whose parent bond is too short for
    ``min_pair_A``: ``BOND_FRACTION`` of that bond; other pairs keep ``min_pair_A``."""
    return {
        pair: round(BOND_FRACTION * d, 3)
        for pair, d in sorted(bonds_A.items())
        if BOND_FRACTION * d < min_pair_A
    }


def equilibrated(n_frames: int) -> slice:
    """The frames a gate judges: a gate starts from the built crystal at rest, and its first
    fifth equilibrates (equipartition, thermal contacts)."""
    return slice(n_frames // 5, None)


def stability_verdict(
    p: MDProbe, steps: int, min_pair_A: float = MIN_PAIR_A, floors: dict[str, float] | None = None
) -> dict:
    """The gate: full length, no lost atoms, no pair under ``min_pair_A`` (or under its own
    floor from :func:`pair_floors`), T steady (mean within 5 % of the target, halves within
    3 %, after the first fifth)."""
    floors = floors or {}
    temps = np.asarray(p.temperatures, dtype=float)
    temps = temps[equilibrated(len(temps))]
    half = len(temps) // 2
    mean = float(temps.mean()) if len(temps) else float("nan")
    drift = float(abs(temps[half:].mean() - temps[:half].mean())) if half else float("nan")
    steady = bool(
        len(temps) > 3
        and abs(mean - p.temperature_K) < 0.05 * p.temperature_K
        and drift < 0.03 * p.temperature_K
    )
    if p.closest_by_pair:
        too_close = {
            pair: d for pair, d in p.closest_by_pair.items() if d <= floors.get(pair, min_pair_A)
        }
        apart = not too_close
    else:  # a crash before the first frame, or a summary without per-pair distances
        apart = p.closest_pair_A > min([min_pair_A, *floors.values()])
    ok = bool(not p.crashed and p.steps_done >= steps and apart and steady)
    return {
        "temperature_K": p.temperature_K,
        "atoms": p.n_atoms,
        "steps": p.steps_done,
        "closest_pair_A": round(p.closest_pair_A, 3),
        "lost_atoms_or_crash": p.crashed,
        "message": p.message,
        "mean_temperature_K": round(mean, 1),
        "temperature_drift_K": round(drift, 1),
        "temperature_steady": steady,
        "ok": ok,
        **({"pair_floors_A": floors, "closest_by_pair_A": p.closest_by_pair} if floors else {}),
    }
