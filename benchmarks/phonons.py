"""Benchmark: the batched LAMMPS force backend vs a naive new-LAMMPS-per-displacement loop.

    .venv/bin/python benchmarks/phonons.py [--repeats 5] [--sizes default] [--snapshots 0]
                                           [--potentials li3n-esnap,li2zrcl6n-pod]

Workload: exactly what :func:`atomflow.phonons.harmonic.compute_phonopy` hands the backend,
i.e. the undisplaced supercell plus phonopy's symmetry-reduced 0.01 Å displacements, on the
supercell that ``min_length=10`` picks (``--sizes 1x1x1,2x2x2`` for others;
``--snapshots N`` for N random 0.03 Å copies instead). Potentials: the shipped eSNAP on
relaxed Li3N (SNAP + coul/long + Ewald) and the shipped POD on ZBL on relaxed Li2ZrCl6 x = 0
(no Coulomb).

Four loops evaluate the same position sets; their forces are checked to agree (1e-8 eV/Å):

* naive: a new LAMMPS instance per configuration, :func:`atomflow.md.minimize.single_point`
  (LAMMPS defaults: its ``run 0`` also computes energy and virial, as any fresh run does).
* naive, same settings: a new instance per configuration with exactly the batched loop's
  LAMMPS settings (forces only), so the ratio shows what reusing the instance alone buys.
* batched: :class:`atomflow.phonons.backend.LammpsBackend` (one instance per call; first
  configuration through ``run 0``, then ``scatter_atoms`` + ``run 1 pre no post no``, forces
  only).
* old batched: the backend as it was, :class:`atomflow.md.batch.BatchEvaluator` with
  ``energy_stress=False`` (a reference ``run 0``, then every configuration through ``run 1``,
  each of which also computed energy and virial).

The loops are interleaved in each repeat and timed by wall clock and by CPU time of this
process (steadier on a shared machine); the best of ``--repeats`` is kept. A per-stage
breakdown (best of ``--repeats``, CPU time) shows where the time goes.

Also tried, not kept: LAMMPS ``rerun`` over a dump of all configurations (one command) cost
15.5 ms per configuration against 14.1 ms for this loop (eSNAP, 4x4x3, 20 snapshots, CPU
time): it rebuilds the neighbour lists and re-runs the kspace set-up for every snapshot and
needs files. A smaller neighbour skin (0.02-1 Å instead of 2 Å) did not change the force
call's cost for either potential.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable

import numpy as np
from phonopy import Phonopy
from pymatgen.core import Structure

from atomflow.md.batch import BatchEvaluator
from atomflow.md.box import lammps_box, load_structure
from atomflow.md.minimize import single_point
from atomflow.md.session import open_lammps
from atomflow.phonons.backend import FORCES_ONLY_COMMANDS, LammpsBackend
from atomflow.phonons.harmonic import relax_structure, supercell_for, to_phonopy_atoms, to_structure
from atomflow.potentials import Potential, get_potential


def _li3n() -> Structure:
    from atomflow.structures.li3n import build_li3n

    return build_li3n((1, 1, 1))


def _li2zrcl6() -> Structure:
    from atomflow.structures.li2zrcl6 import build_li2zrcl6

    return build_li2zrcl6(0.0, supercell=(1, 1, 1)).structure


CASES: dict[str, tuple[str, Callable[[], Structure]]] = {
    "li3n-esnap": ("Li3N", _li3n),
    "li2zrcl6n-pod": ("Li2ZrCl6", _li2zrcl6),
}


def _gather_f(lmp, n: int) -> np.ndarray:
    return np.ctypeslib.as_array(lmp.gather_atoms("f", 1, 3)).reshape(n, 3).copy()


def naive(sc: Structure, positions: list[np.ndarray], pot: Potential) -> np.ndarray:
    """A new LAMMPS per configuration: ``single_point`` (forces in the LAMMPS frame)."""
    out = []
    for p in positions:
        s = Structure(sc.lattice, sc.species, p, coords_are_cartesian=True)
        out.append(single_point(s, pot)[1])
    return np.array(out)


def naive_same_settings(sc: Structure, positions: list[np.ndarray], pot: Potential) -> np.ndarray:
    """A new LAMMPS per configuration with the batched loop's settings (LAMMPS frame)."""
    out = []
    for p in positions:
        lmp = open_lammps()
        try:
            load_structure(
                lmp, Structure(sc.lattice, sc.species, p, coords_are_cartesian=True), pot
            )
            lmp.commands_list([*FORCES_ONLY_COMMANDS, "run 0"])
            out.append(_gather_f(lmp, len(sc)))
        finally:
            lmp.close()
    return np.array(out)


def batched(sc: Structure, positions: list[np.ndarray], pot: Potential) -> np.ndarray:
    return LammpsBackend(pot).forces(sc, positions)


def old_batched(sc: Structure, positions: list[np.ndarray], pot: Potential) -> np.ndarray:
    """The backend before this benchmark's changes: BatchEvaluator(energy_stress=False)."""
    with BatchEvaluator(sc, pot, energy_stress=False) as ev:
        return np.array([ev.evaluate(p).forces_eV_A for p in positions])


def _timed(fn, *args) -> tuple[float, float, np.ndarray]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return time.perf_counter() - w0, time.process_time() - c0, out


def breakdown(sc: Structure, pot: Potential, repeats: int) -> dict[str, float]:
    """Best-of CPU times (ms) of the stages of one evaluation, in one instance after another."""
    t: dict[str, list[float]] = {}

    def clock(key: str, fn, *args):
        t0 = time.process_time()
        out = fn(*args)
        t.setdefault(key, []).append(1e3 * (time.process_time() - t0))
        return out

    for _ in range(repeats):
        lmp = clock("new LAMMPS instance", open_lammps)
        clock("box, atoms, potential files", load_structure, lmp, sc, pot)
        clock("run 0, defaults: lists, kspace set-up, F+E+virial", lmp.command, "run 0")
        clock("run 1 pre no: F+E+virial (old batched call)", lmp.command, "run 1 pre no post no")
        lmp.commands_list([*FORCES_ONLY_COMMANDS, "run 0"])
        clock("run 1 pre no: forces only (batched call)", lmp.command, "run 1 pre no post no")
        clock("close", lmp.close)
    return {k: min(v) for k, v in t.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", default="default", help="'default' (min_length=10) or 2x2x2,...")
    ap.add_argument("--snapshots", type=int, default=0, help="N random copies instead")
    ap.add_argument("--potentials", default=",".join(CASES))
    ap.add_argument("--no-breakdown", action="store_true")
    args = ap.parse_args()

    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    rows = []
    for name in args.potentials.split(","):
        formula, build = CASES[name]
        pot = get_potential(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            unit = relax_structure(build(), pot)
        sizes = (
            [supercell_for(unit)]
            if args.sizes == "default"
            else [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
        )
        for dims in sizes:
            ph = Phonopy(
                to_phonopy_atoms(unit), supercell_matrix=np.diag(dims), primitive_matrix="P"
            )
            if args.snapshots:
                ph.generate_displacements(
                    distance=0.03, number_of_snapshots=args.snapshots, random_seed=1
                )
            else:
                ph.generate_displacements(distance=0.01)
            sc = to_structure(ph.supercell)
            positions = [np.asarray(c.positions) for c in ph.supercells_with_displacements]
            if not args.snapshots:  # what compute_phonopy evaluates: reference + displacements
                positions = [np.asarray(ph.supercell.positions), *positions]
            loops = (
                ("naive", naive),
                ("same", naive_same_settings),
                ("old", old_batched),
                ("batched", batched),
            )
            best = {k: [np.inf, np.inf] for k, _ in loops}
            out = {}
            for _ in range(args.repeats):
                for key, fn in loops:
                    wall, cpu, out[key] = _timed(fn, sc, positions, pot)
                    best[key] = [min(best[key][0], wall), min(best[key][1], cpu)]
            rot = lammps_box(sc)[0].rot_mat
            f_batched = out["batched"] @ rot  # input frame -> LAMMPS frame, like the naive ones
            err = max(
                float(np.abs(out["naive"] - f_batched).max()),
                float(np.abs(out["same"] - f_batched).max()),
                float(np.abs(out["old"] @ rot - f_batched).max()),
            )
            assert err < 1e-8, f"{name}: forces disagree by {err} eV/Å"
            rows.append((name, formula, dims, len(sc), len(positions), best, err))
            if not args.no_breakdown:
                stages = breakdown(sc, pot, args.repeats)
                print(f"\n{name}, {formula} {'x'.join(map(str, dims))} ({len(sc)} atoms): CPU ms")
                for k, v in stages.items():
                    print(f"  {k:48s} {v:8.2f}")

    print(f"\nbest of {args.repeats}, interleaved; wall-clock seconds (CPU-time ratios after |)")
    print(
        f"{'potential':>14} {'supercell':>9} {'atoms':>5} {'configs':>7} {'naive s':>8} "
        f"{'naive=set s':>11} {'old batch s':>11} {'batched s':>9} {'ratio':>6} "
        f"{'ratio=set':>9} {'old ratio':>9} | {'cpu ratio':>9} {'cpu =set':>8} "
        f"{'max|dF| eV/A':>12}"
    )
    for name, _, dims, n, k, best, err in rows:
        nv, sm, od, bt = best["naive"], best["same"], best["old"], best["batched"]
        print(
            f"{name:>14} {'x'.join(map(str, dims)):>9} {n:>5} {k:>7} {nv[0]:>8.3f} "
            f"{sm[0]:>11.3f} {od[0]:>11.3f} {bt[0]:>9.3f} {nv[0] / bt[0]:>6.2f} "
            f"{sm[0] / bt[0]:>9.2f} {nv[0] / od[0]:>9.2f} | {nv[1] / bt[1]:>9.2f} "
            f"{sm[1] / bt[1]:>8.2f} {err:>12.1e}"
        )
    print(
        "ratio = naive / batched; ratio=set = naive with the same settings / batched; "
        "old ratio = naive / old batched; max|dF| over all loops vs batched"
    )
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
