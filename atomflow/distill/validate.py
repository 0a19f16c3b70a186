"""How good is a fit: held-out errors, lattice parameters and phonons against the labeller,
and speed per atom-step against the labeller."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from atomflow.distill.labellers import (
    CalculatorLabeller,
    Labeller,
    LammpsLabeller,
    evaluate_potential,
)
from atomflow.potentials import Potential, get_potential


def _rmse(test: Sequence[Atoms], pred: Sequence[Atoms]) -> tuple[float, float]:
    """(energy meV/atom, force eV/Å) root-mean-square errors of ``pred`` against ``test``."""
    pairs = list(zip(test, pred, strict=True))
    de = [(p.get_potential_energy() - f.get_potential_energy()) / len(f) for f, p in pairs]
    df = np.concatenate([(p.get_forces() - f.get_forces()).ravel() for f, p in pairs])
    return float(1000 * np.sqrt(np.mean(np.square(de)))), float(np.sqrt(np.mean(df**2)))


def heldout_errors(potential: Potential, test: Sequence[Atoms], force_cap: float = 20.0) -> dict:
    """Energy (meV/atom) and force (eV/Å) RMSE on the held-out set, with parity data.

    Also over the frames whose labelled forces stay under ``force_cap`` eV/Å: a frame from
    the run-up to a probe's blow-up (kept in training when it stabilises the fit) otherwise
    dominates the whole number.
    """
    pred = evaluate_potential(potential, test)
    e_rmse, f_rmse = _rmse(test, pred)
    keep = [k for k, f in enumerate(test) if np.abs(f.get_forces()).max() <= force_cap]
    capped = _rmse([test[k] for k in keep], [pred[k] for k in keep]) if keep else (np.nan,) * 2
    e_ref = np.array([f.get_potential_energy() / len(f) for f in test])
    e_fit = np.array([p.get_potential_energy() / len(p) for p in pred])
    f_ref = np.concatenate([f.get_forces().ravel() for f in test])
    f_fit = np.concatenate([p.get_forces().ravel() for p in pred])
    return {
        "n_test": len(test),
        "energy_rmse_meV_atom": e_rmse,
        "force_rmse_eV_A": f_rmse,
        "heldout_excluding_blowups": {
            "n_test": len(keep),
            "n_excluded": len(test) - len(keep),
            "force_cap_eV_A": force_cap,
            "energy_rmse_meV_atom": capped[0],
            "force_rmse_eV_A": capped[1],
        },
        "parity": {
            "energy_ref": e_ref.tolist(),
            "energy_fit": e_fit.tolist(),
            "force_ref": f_ref.tolist(),
            "force_fit": f_fit.tolist(),
        },
    }


def heldout_outside_core(
    potential: Potential, test: Sequence[Atoms], cores: dict[str, dict], force_cap: float = 20.0
) -> dict:
    """Held-out RMSE over the frames where the fit is meant to follow its labeller: no pair
    inside its repulsive core's onset (there the core departs from the labeller by design)
    and labelled forces under ``force_cap``."""
    from atomflow.distill.dataset import pair_min_distances

    def inside(frame: Atoms) -> bool:
        closest = pair_min_distances([frame], cutoff=max(c["r_on_A"] for c in cores.values()))
        return any(d < cores[k]["r_on_A"] for k, d in closest.items() if k in cores)

    flagged = [inside(f) for f in test]
    keep = [
        k
        for k, f in enumerate(test)
        if not flagged[k] and np.abs(f.get_forces()).max() <= force_cap
    ]
    errs = (np.nan, np.nan)
    if keep:
        kept = [test[k] for k in keep]
        errs = _rmse(kept, evaluate_potential(potential, kept))
    return {
        "n_test": len(keep),
        "n_inside_core": int(sum(flagged)),
        "force_cap_eV_A": force_cap,
        "energy_rmse_meV_atom": errs[0],
        "force_rmse_eV_A": errs[1],
    }


def _lengths(structure: Structure, multiple: Sequence[int] = (1, 1, 1)) -> dict:
    lat = structure.lattice
    a, b, c = (x / m for x, m in zip(lat.abc, multiple, strict=True))
    return {"a": a, "b": b, "c": c, "volume": lat.volume / len(structure)}


def relax_with_labeller(structure: Structure, labeller: Labeller, fmax: float = 0.01) -> Structure:
    """Relax positions and cell with the labeller (ASE FrechetCellFilter + BFGS)."""
    if isinstance(labeller, LammpsLabeller):
        from atomflow.md.minimize import relax

        return relax(structure, get_potential(labeller.potential), cell="aniso").structure
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    assert isinstance(labeller, CalculatorLabeller)
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = labeller.calculator()
    with warnings.catch_warnings():
        # scipy's logm warns of "inaccurate" results at errors of ~1e-13 on every step.
        warnings.filterwarnings("ignore", message="logm result may be inaccurate")
        BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=fmax, steps=400)
    return AseAtomsAdaptor.get_structure(atoms)


def lattice_vs_labeller(
    structure: Structure,
    potential: Potential,
    labeller: Labeller,
    multiple: Sequence[int] = (1, 1, 1),
) -> dict:
    """Relaxed cell lengths (per ``multiple`` of the cell) and volume per atom, fit and labeller."""
    from atomflow.md.minimize import relax

    ours = _lengths(relax(structure, potential, cell="aniso").structure, multiple)
    ref = _lengths(relax_with_labeller(structure, labeller), multiple)
    dev = {k: 100 * (ours[k] / ref[k] - 1) for k in ours}
    return {"ours": ours, "labeller": ref, "deviation_pct": dev}


def atom_step_cost(potential: Potential, structure: Structure, steps: int = 200) -> float:
    """Wall seconds per atom-step of NVE MD with ``potential`` on ``structure`` (one rank)."""
    from atomflow.md.box import load_structure
    from atomflow.md.session import open_lammps

    lmp = open_lammps()
    try:
        load_structure(lmp, structure, potential)
        lmp.commands_list(
            ["velocity all create 300 7 mom yes rot yes", "fix nve all nve", "timestep 0.001"]
        )
        lmp.command("run 10")
        t0 = time.perf_counter()
        lmp.command(f"run {steps}")
        return (time.perf_counter() - t0) / (steps * len(structure))
    finally:
        lmp.close()


def labeller_cost(labeller: Labeller, structure: Structure, calls: int = 3) -> float:
    """Wall seconds per atom per force call of the labeller (an MD step costs one call).

    Each call gets slightly moved atoms: ASE calculators return cached results for a
    configuration they have already seen.
    """
    atoms = AseAtomsAdaptor.get_atoms(structure)
    labeller.label([atoms])  # warm-up: model load, graph compile
    rng = np.random.default_rng(0)
    moved = []
    for _ in range(calls):
        a = atoms.copy()
        a.positions += rng.normal(0.0, 1e-3, a.positions.shape)
        moved.append(a)
    t0 = time.perf_counter()
    for a in moved:
        labeller.label([a])
    return (time.perf_counter() - t0) / (calls * len(atoms))
