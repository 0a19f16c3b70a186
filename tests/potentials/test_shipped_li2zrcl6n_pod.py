"""The shipped Li-Zr-Cl-N POD, version 3 (distilled from CHGNet, with a repulsive core): it
loads, minimises the study's cells without collapse, no pair falls into a hole, it holds a
short hot NVT, and its relaxed x = 0 lattice is within 3 % of experiment."""

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
    # version 3 misses the 0.10 eV/Å and 3 meV/atom targets (0.142 and 4.55 where the core
    # does not act; README); this guards against it getting worse
    heldout = report["heldout_outside_core"]
    assert heldout["n_test"] >= 30 and heldout["n_inside_core"] <= 10
    assert heldout["force_rmse_eV_A"] <= 0.16 and heldout["energy_rmse_meV_atom"] <= 5.0
    assert "core.table" in pot.files
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


@pytest.mark.parametrize("x, apart", [(0.0, 0.0), (0.15, 0.0), (0.2, 4.0), (0.25, 0.0)])
def test_the_study_cells_minimise_without_collapse(x, apart):
    """The study's own cells (builder defaults, 216-564 atoms): a minimiser finds any energy
    hole at once (version 1 collapsed N-Zr and Li-N pairs here for every x >= 0.05). At
    x = 0.2 the N are kept off neighbouring sites, as the study does: with neighbouring N,
    version 3 finds a spurious minimum (N-Zr 1.55 A, 20 eV below CHGNet's energy)."""
    from atomflow.structures.checks import min_distances

    made = build_system("li2zrcl6", x=x, seed=1, n_min_distance_A=apart)[0].structure
    cell = Structure(made.lattice, [s.specie.symbol for s in made], made.frac_coords)
    before = min_distances(cell)
    result = relax(cell, get_potential(NAME), cell=None, ftol=0.02, max_iter=400)
    after = min_distances(result.structure)
    assert result.energy_eV / len(cell) == pytest.approx(-4.8, abs=0.5)
    assert all(after[k] > 0.7 * before[k] for k in before), (before, after)
    assert result.max_force_eV_A < 0.5


def test_no_pair_falls_into_a_hole_when_pushed_together():
    """Close each element pair's shortest bond in an x = 0.25 cell to 0.35-1.0 of its length.
    Inside 0.65 of the bond the energy never drops more than 0.5 eV below its value at 0.75
    (or at the bond, if lower), and at 0.35 it is a wall. Version 1 fell to -61 eV (Li-N)
    and -2,380 eV (Li-Cl) here."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from atomflow.distill.labellers import evaluate_potential
    from atomflow.distill.short_range import pair_scans

    pot = get_potential(NAME)
    atoms = AseAtomsAdaptor.get_atoms(_cell(0.25, (2, 2, 2)))
    scans = pair_scans(
        lambda frames: [a.get_potential_energy() for a in evaluate_potential(pot, frames)], atoms
    )
    bad = {}
    for pair, scan in scans.items():
        de = dict(zip((0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 1.0), scan["dE_eV"], strict=True))
        floor = min(de[0.75], 0.0) - 0.5
        if min(de[f] for f in (0.35, 0.45, 0.55, 0.65)) < floor or de[0.35] < 1.0:
            bad[pair] = scan["dE_eV"]
    assert not bad, bad
