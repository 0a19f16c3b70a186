"""Speed of a distilled potential against its labeller, side by side on the same cell.

MD cost per atom-step with the shipped POD (LAMMPS, one rank) against the labeller's cost per
atom per force call (one MD step needs one), at about ``--atoms`` atoms. Prints both and the
ratio (acceptance: at least 30x).

    python benchmarks/potentials.py                      # li2zrcl6n-pod vs chgnet, ~1000 atoms
    python benchmarks/potentials.py --potential li3n-pod-folder --labeller lammps:li3n-esnap \
        --system li3n --params '{}'
"""

from __future__ import annotations

import argparse
import json
import time

from atomflow.distill.labellers import get_labeller
from atomflow.distill.validate import atom_step_cost
from atomflow.distill.workflow import Parent, build_parent, replicate_to
from atomflow.potentials import get_potential


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--potential", default="li2zrcl6n-pod")
    ap.add_argument("--labeller", default="chgnet")
    ap.add_argument("--system", default="li2zrcl6")
    ap.add_argument("--params", default='{"x": 0.0}', help="builder parameters, JSON")
    ap.add_argument("--atoms", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--calls", type=int, default=2)
    args = ap.parse_args()

    from pymatgen.io.ase import AseAtomsAdaptor

    cell = build_parent(Parent(system=args.system, params=json.loads(args.params)))
    cell = replicate_to(cell, args.atoms)
    pot = get_potential(args.potential)
    ours = atom_step_cost(pot, cell, steps=args.steps)

    labeller = get_labeller(args.labeller)
    atoms = AseAtomsAdaptor.get_atoms(cell)
    labeller.label([atoms])  # model load and warm-up
    moved = []
    for k in range(args.calls):  # new positions each call: calculators cache results
        a = atoms.copy()
        a.rattle(0.01, seed=k + 1)
        moved.append(a)
    t0 = time.perf_counter()
    for a in moved:
        labeller.label([a])
    theirs = (time.perf_counter() - t0) / (args.calls * len(atoms))
    print(f"cell: {args.system}, {len(cell)} atoms; threads as the machine gives them")
    print(f"{args.potential:>24}: {1e6 * ours:9.1f} µs/atom-step (LAMMPS MD, 1 rank)")
    print(f"{args.labeller:>24}: {1e6 * theirs:9.1f} µs/atom per force call")
    print(f"{'ratio':>24}: {theirs / ours:9.1f}x faster (target >= 30x)")


if __name__ == "__main__":
    main()
