"""The shipped Li-Zr-Cl-N POD (distilled from CHGNet): it loads, covers the study's cells,
holds a short hot NVT, and its relaxed x = 0 lattice is within 3 % of experiment."""

import json

import pytest
from pymatgen.core import Structure

from atomflow.distill.report import acceptance
from atomflow.md.minimize import relax
from atomflow.md.protocols import MDProtocol
from atomflow.md.runner import run_md
from atomflow.potentials import available_potentials, get_potential
from atomflow.structures import build_system

NAME = "li2zrcl6n-pod"


def _cell(x: float, supercell) -> Structure:
    made = build_system("li2zrcl6", x=x, supercell=list(supercell))[0].structure
    return Structure(made.lattice, [s.specie.symbol for s in made], made.frac_coords)


def test_registry_entry_carries_provenance_validity_and_report():
    assert NAME in available_potentials()
    pot = get_potential(NAME)
    assert pot.elements == ("Li", "Zr", "Cl", "N")
    assert pot.provenance["labeller"] == "chgnet"
    assert pot.validity["temperatures_K"][1] >= 900
    report = json.loads((pot.directory / "report.json").read_text())
    heldout = report["heldout_excluding_blowups"]
    assert heldout["n_test"] >= 30
    assert heldout["force_rmse_eV_A"] <= 0.10 and heldout["energy_rmse_meV_atom"] <= 3.0
    assert all(g["ok"] for g in report["stable_nvt"])
    assert report["acceptance"] == acceptance(report)  # the verdicts follow the numbers


def test_relaxed_lattice_is_near_experiment():
    relaxed = relax(_cell(0.0, (1, 1, 2)), get_potential(NAME), cell="aniso").structure
    a, c = relaxed.lattice.a, relaxed.lattice.c / 2
    assert a == pytest.approx(11.053, rel=0.03)  # Li2ZrCl6 P-3m1, paper
    assert c == pytest.approx(5.962, rel=0.03)


def test_nitrogen_cell_holds_together_in_hot_md(tmp_path):
    cell = _cell(0.25, (1, 1, 4))
    p = MDProtocol(
        ensemble="nvt", temperature_K=900, steps=1000, sample_every=100, restart_every=1000, seed=5
    )
    result = run_md(cell, get_potential(NAME), p, tmp_path)
    assert result.natoms == len(cell)
    assert result.mean_temperature_K == pytest.approx(900, rel=0.15)


HOLES = (
    "li2zrcl6n-pod version 1 has energy holes below its trained distances (Li-N, Li-Cl, "
    "N-Zr, Cl-Zr closer than about 1.3 A; found this way, see the README); the version 2 "
    "recipe (close contacts to half a bond) is not yet refitted"
)


@pytest.mark.parametrize(
    "x", [0.0, pytest.param(0.15, marks=pytest.mark.xfail(strict=True, reason=HOLES))]
)
def test_the_study_cells_minimise_without_collapse(x):
    """The study's own cells (builder defaults, 216-564 atoms): a minimiser finds any energy
    hole at once (version 1 of this potential collapsed N-Zr and Li-N pairs here)."""
    from atomflow.structures.checks import min_distances

    made = build_system("li2zrcl6", x=x, seed=1)[0].structure
    cell = Structure(made.lattice, [s.specie.symbol for s in made], made.frac_coords)
    before = min_distances(cell)
    result = relax(cell, get_potential(NAME), cell=None, ftol=0.02, max_iter=400)
    after = min_distances(result.structure)
    assert result.energy_eV / len(cell) == pytest.approx(-4.8, abs=0.5)
    assert all(after[k] > 0.75 * before[k] for k in before), (before, after)
    assert result.max_force_eV_A < 0.5


@pytest.mark.xfail(strict=True, reason=HOLES)
def test_every_pair_repels_when_pushed_together():
    """Close each element pair's shortest bond in an x = 0.25 cell to 0.35-0.75 of its length:
    the energy must rise at every step (no hole below the trained distances)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from atomflow.distill.labellers import evaluate_potential
    from atomflow.distill.short_range import pair_scans

    pot = get_potential(NAME)
    atoms = AseAtomsAdaptor.get_atoms(_cell(0.25, (2, 2, 2)))
    scans = pair_scans(
        lambda frames: [a.get_potential_energy() for a in evaluate_potential(pot, frames)], atoms
    )
    bad = {pair: s["dE_eV"] for pair, s in scans.items() if not s["ok"]}
    assert not bad, bad
