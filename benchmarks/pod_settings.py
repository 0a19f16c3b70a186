"""Cost of a POD per atom-step against its descriptor settings, side by side in one run.

Fits one POD per setting on the same small labelled set (strained and rattled seeds of one
cell, as the distillation makes them), then times NVE MD with each at about ``--atoms``
atoms, in interleaved rounds so that a load on the machine hits every setting alike. Prints
the median cost of each and its ratio to the first setting. The cost depends on the
descriptors, not on how good the fit is, so a small training set is enough.

    python benchmarks/pod_settings.py                        # Li3N, labelled by li3n-esnap
    python benchmarks/pod_settings.py --system mo2n-wn --labeller chgnet   # needs atomflow[mlip]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from pymatgen.io.ase import AseAtomsAdaptor

from atomflow.distill.labellers import get_labeller
from atomflow.distill.pod import PODSettings, fit_pod
from atomflow.distill.seeds import SeedPlan, make_seeds
from atomflow.distill.validate import atom_step_cost
from atomflow.distill.workflow import Parent, build_parent, replicate_to

#: name -> changes to the default settings; the first is the reference
SETTINGS = {
    "two-body 6, three-body 5 x 4": {},
    "+ four-body (4, 2)": {"fourbody_radial": 4, "fourbody_angular": 2},
    "two-body 8, three-body 8 x 6": {
        "twobody_radial": 8,
        "threebody_radial": 8,
        "threebody_angular": 6,
    },
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--system", default="li3n")
    ap.add_argument("--params", default="{}", help="builder parameters, JSON")
    ap.add_argument("--labeller", default="lammps:li3n-esnap")
    ap.add_argument("--rcut", type=float, default=5.5)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--atoms", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    cell = build_parent(Parent(system=args.system, params=json.loads(args.params)))
    elements = [e.symbol for e in cell.composition.elements]
    plan = SeedPlan(
        strained=args.frames // 2,
        rattled=args.frames - args.frames // 2,
        compressed=0,
        vacancies=0,
        interstitials=0,
    )
    seeds = make_seeds(AseAtomsAdaptor.get_atoms(cell), plan, seed=5)
    frames = get_labeller(args.labeller).label(seeds)
    big = replicate_to(cell, args.atoms)

    with tempfile.TemporaryDirectory() as tmp:
        pots, sizes = {}, {}
        for name, change in SETTINGS.items():
            s = PODSettings(rcut=args.rcut, **change)
            fit = fit_pod(frames, elements, s, Path(tmp) / str(len(pots)), name=f"bench{len(pots)}")
            pots[name], sizes[name] = fit.potential(), fit.n_descriptors
        costs: dict[str, list[float]] = {name: [] for name in pots}
        for _ in range(args.rounds):
            for name, pot in pots.items():
                costs[name].append(atom_step_cost(pot, big, steps=args.steps))

    ref = statistics.median(costs[next(iter(costs))])
    print(f"cell: {args.system} ({'-'.join(elements)}), {len(big)} atoms, rcut {args.rcut} Å")
    print(f"{'setting':>32} {'coefficients':>12} {'µs/atom-step':>13} {'ratio':>7}")
    for name, c in costs.items():
        med = statistics.median(c)
        print(f"{name:>32} {sizes[name]:>12} {1e6 * med:>13.1f} {med / ref:>7.2f}")


if __name__ == "__main__":
    main()
