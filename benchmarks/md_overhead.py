"""MD overhead: atomflow's in-process run (chunked, H5MD capture, restarts) vs the wheel's
``lmp`` executable writing a text dump of the same frames, on the same input.

Prints both wall times and the ratio (target ≤ 1.05).

    python benchmarks/md_overhead.py [--supercell 4] [--steps 4000] [--every 50]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.io import write as ase_write

from atomflow.md.protocols import MDProtocol, common_commands, integrator_commands
from atomflow.md.runner import run_md
from atomflow.potentials import get_potential
from atomflow.structures.li3n import build_li3n


def lmp_input(structure, pot, p: MDProtocol, data: Path, dump: Path) -> str:
    lines = [
        f"units {pot.units}",
        f"atom_style {pot.atom_style}",
        "atom_modify map array sort 0 0.0",
        "boundary p p p",
        f"read_data {data}",
        *pot.lammps_commands(),
        f"velocity all create {p.temperature_K} {p.seed} dist gaussian mom yes rot yes",
        *common_commands(p),
        *integrator_commands(p),
        f"dump traj all custom {p.sample_every} {dump} id type xu yu zu",
        f"restart {p.restart_every} restart.a restart.b",
        f"run {p.total_steps}",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--supercell", type=int, default=4)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--every", type=int, default=50)
    args = ap.parse_args()
    pot = get_potential("li3n-esnap")
    s = build_li3n((args.supercell,) * 3, li_vacancies=1)
    p = MDProtocol(
        ensemble="nvt",
        temperature_K=600,
        steps=args.steps,
        sample_every=args.every,
        restart_every=args.every * 20,
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        atoms = s.to_ase_atoms()
        atoms.set_initial_charges([pot.charges[el] for el in atoms.get_chemical_symbols()])
        ase_write(
            tmp / "cell.data",
            atoms,
            format="lammps-data",
            atom_style="charge",
            specorder=list(pot.elements),
            masses=True,
            units="metal",
        )
        (tmp / "in.md").write_text(lmp_input(s, pot, p, tmp / "cell.data", tmp / "traj.dump"))
        lmp = Path(sys.executable).parent / "lmp"
        t0 = time.perf_counter()
        subprocess.run(
            [str(lmp), "-in", "in.md", "-log", "none", "-screen", "none"], cwd=tmp, check=True
        )
        t_lmp = time.perf_counter() - t0
        frames = sum(1 for line in open(tmp / "traj.dump") if line.startswith("ITEM: TIMESTEP"))
        t0 = time.perf_counter()
        md = run_md(s, pot, p, tmp / "af")
        t_af = time.perf_counter() - t0
    print(f"{len(s)} atoms, {p.total_steps} steps, frame every {p.sample_every} steps")
    print(f"lmp executable + text dump : {t_lmp:8.2f} s  ({frames} frames)")
    print(f"atomflow run_md + H5MD     : {t_af:8.2f} s  ({md.n_frames} frames)")
    print(f"ratio atomflow / lmp       : {t_af / t_lmp:8.3f}   (target <= 1.05)")
    _ = np  # numpy imported for ASE's writer dtype handling


if __name__ == "__main__":
    main()
