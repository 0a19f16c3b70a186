"""Benchmark: batched LAMMPS force backend vs a naive new-LAMMPS-per-displacement loop.

    .venv/bin/python benchmarks/phonons.py [--snapshots 20] [--repeats 3] [--sizes 1,2,3,4]

Li3N with the shipped eSNAP potential (relaxed cell), diagonal supercells n×n×n' (n' = n,
and the 4×4×3 cell that ``min_length=10`` picks). Each supercell gets the same set of
randomly displaced copies (phonopy's random-displacement generator, 0.03 Å); both methods
evaluate exactly those and their forces are checked to agree. Naive: ``single_point`` per
copy (a new LAMMPS instance, box, potential files, Ewald setup each time). Batched:
:class:`atomflow.phonons.backend.LammpsBackend` (one instance, ``scatter_atoms`` +
``run 1 pre no post no`` per copy, forces only). Times are the best of ``--repeats``.

What bounds the ratio: a fresh LAMMPS costs a few ms; the eSNAP force call costs ~70 µs per
atom. On large supercells the force call itself dominates both loops, so the ratio falls
towards 1 + (setup cost)/(force cost); on small cells the setup dominates.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from phonopy import Phonopy
from pymatgen.core import Structure

from atomflow.md.minimize import relax, single_point
from atomflow.phonons.backend import LammpsBackend
from atomflow.phonons.harmonic import to_phonopy_atoms, to_structure
from atomflow.potentials import get_potential
from atomflow.structures.li3n import build_li3n


def _best(fn, repeats: int) -> tuple[float, np.ndarray]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapshots", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default="1,2,3,4", help="n for n×n×n supercells; 4 means 4×4×3")
    args = ap.parse_args()

    pot = get_potential("li3n-esnap")
    unit = relax(build_li3n((1, 1, 1)), pot, cell="hexagonal").structure
    backend = LammpsBackend(pot)
    print(f"Li3N eSNAP, {args.snapshots} displaced copies per supercell, best of {args.repeats}")
    print(
        f"{'supercell':>10} {'atoms':>6} {'naive (s)':>10} {'batched (s)':>12} "
        f"{'ms/disp naive':>14} {'ms/disp batch':>14} {'ratio':>6}"
    )
    for n in (int(v) for v in args.sizes.split(",")):
        dims = (4, 4, 3) if n == 4 else (n, n, n)
        ph = Phonopy(to_phonopy_atoms(unit), supercell_matrix=np.diag(dims))
        ph.generate_displacements(distance=0.03, number_of_snapshots=args.snapshots, random_seed=1)
        sc = to_structure(ph.supercell)
        positions = [np.asarray(c.positions) for c in ph.supercells_with_displacements]

        def naive(sc=sc, positions=positions) -> np.ndarray:
            out = []
            for p in positions:
                s = Structure(sc.lattice, sc.species, p, coords_are_cartesian=True)
                out.append(single_point(s, pot)[1])  # forces in the LAMMPS frame
            return np.array(out)

        def batched(sc=sc, positions=positions) -> np.ndarray:
            return backend.forces(sc, positions)

        t_naive, f_naive = _best(naive, args.repeats)
        t_batch, f_batch = _best(batched, args.repeats)
        from atomflow.md.box import lammps_box

        rot = lammps_box(sc)[0].rot_mat
        err = float(np.abs(f_naive - f_batch @ rot).max())
        assert err < 1e-8, f"forces disagree by {err} eV/Å"
        k = len(positions)
        print(
            f"{'x'.join(map(str, dims)):>10} {len(sc):>6} {t_naive:>10.3f} {t_batch:>12.3f} "
            f"{1e3 * t_naive / k:>14.2f} {1e3 * t_batch / k:>14.2f} {t_naive / t_batch:>6.2f}"
        )


if __name__ == "__main__":
    main()
