"""The shipped K-Bi-Sn-Sb POD (distilled from CHGNet, with a fitted repulsive core): it loads,
its report's verdicts follow its numbers, K pushed onto the alloy meets a wall, and a short
hot NVT of the alloy holds."""

import numpy as np
import pytest
from pymatgen.io.ase import AseAtomsAdaptor
from shipped_pod import check_registry_entry

from atomflow.potentials import get_potential
from atomflow.structures import build_system

NAME = "kbisnsb-pod"


def test_registry_entry_carries_provenance_core_and_report():
    check_registry_entry(NAME, ("K", "Bi", "Sn", "Sb"), 450)


@pytest.mark.parametrize("pair", ["Bi-K", "K-Sn", "K-Sb"])
def test_k_pushed_onto_the_alloy_meets_a_wall(pair):
    """Attempt 1 without the core fell by 75-285 eV here (K onto Bi/Sn/Sb at 0.35 of a
    bond, docs/distill/kbisnsb-pod-attempt1); with it, it rises at every step."""
    from atomflow.distill.labellers import evaluate_potential
    from atomflow.distill.short_range import pair_scans

    made = build_system("bisnsb", supercell=[3, 3, 1], seed=1)[0].structure
    atoms = AseAtomsAdaptor.get_atoms(made)
    k_site = int(np.argmax(atoms.positions[:, 2]))  # one alloy atom becomes K
    atoms.symbols[k_site] = "K"
    pot = get_potential(NAME)
    scans = pair_scans(
        lambda frames: [a.get_potential_energy() for a in evaluate_potential(pot, frames)], atoms
    )
    assert scans[pair]["ok"], scans[pair]["dE_eV"]
    assert scans[pair]["dE_eV"][0] > 20.0  # at 0.35 of the bond: a wall, not a dip


def test_the_alloy_holds_in_hot_md(tmp_path):
    from atomflow.md.protocols import MDProtocol
    from atomflow.md.runner import run_md

    cell = build_system("bisnsb", supercell=[3, 3, 1], seed=0)[0].structure
    p = MDProtocol(
        ensemble="nvt", temperature_K=450, steps=1000, sample_every=100, restart_every=1000, seed=3
    )
    result = run_md(cell, get_potential(NAME), p, tmp_path)
    assert result.natoms == len(cell)
    assert result.mean_temperature_K == pytest.approx(450, rel=0.2)
