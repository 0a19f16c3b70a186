"""The shipped Li-Mo-W-N POD (distilled from CHGNet, with a fitted repulsive core): it loads
with its provenance, its report's verdicts follow its numbers, its gates held on at least
400 atoms, and a short hot NVT of an interface model with Li holds."""

import numpy as np
import pytest
from ase import Atoms
from shipped_pod import check_registry_entry

from atomflow.potentials import get_potential
from atomflow.structures import build_system

NAME = "limown-pod"


def test_registry_entry_carries_provenance_core_and_report():
    report = check_registry_entry(NAME, ("Li", "Mo", "W", "N"), 1000)
    assert {g["parent"] for g in report["stable_nvt"]} == {"Mo2N+Li", "WN+Li", "interface+Li"}


def test_an_interface_with_li_holds_in_hot_md(tmp_path):
    from atomflow.md.protocols import MDProtocol
    from atomflow.md.runner import run_md
    from atomflow.trajectory.h5md import read_h5md

    cell = build_system(
        "mo2n-wn", n_li=2, inplane_repeat=[1, 1], film_thickness=2, substrate_thickness=2, seed=1
    )[0].structure
    p = MDProtocol(
        ensemble="nvt", temperature_K=900, steps=1000, sample_every=100, restart_every=1000, seed=3
    )
    result = run_md(cell, get_potential(NAME), p, tmp_path)
    assert result.natoms == len(cell)
    assert result.mean_temperature_K == pytest.approx(900, rel=0.25)
    traj = read_h5md(result.trajectory)
    last = Atoms(traj.species, positions=traj.positions[-1], cell=traj.cells[-1], pbc=True)
    r = last.get_all_distances(mic=True) + 10 * np.eye(len(last))
    assert r.min() > 1.2  # no pair collapsed
