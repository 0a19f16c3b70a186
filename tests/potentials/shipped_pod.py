"""Checks every shipped distilled POD's registry entry must pass (imported by its test)."""

import json

import pytest

from atomflow.distill.report import acceptance
from atomflow.potentials import available_potentials, get_potential


def check_registry_entry(name: str, elements: tuple[str, ...], max_T: float) -> dict:
    """Loads with provenance and core; the report's verdicts follow its numbers; every gate
    held 20 ps on at least 400 atoms; each core starts at its pair's closest trained
    approach (or the recipe's lifted onset for that pair). Returns the report for the
    caller's own checks."""
    assert name in available_potentials()
    pot = get_potential(name)
    assert pot.elements == elements
    assert "table" in pot.pair_style and "core.table" in pot.files
    assert pot.provenance["labeller"] == "chgnet"
    assert pot.validity["temperatures_K"] == [0, max_T]
    report = json.loads((pot.directory / "report.json").read_text())
    assert report["acceptance"] == acceptance(report)
    assert all(g["ok"] and g["atoms"] >= 400 and g["ps"] >= 20 for g in report["stable_nvt"])
    core = json.loads((pot.directory / "core.json").read_text())
    assert set(core) == set(report["core"])
    lifted = report["preset"].get("core", {}).get("onset_min_A", {})
    for pair, c in core.items():
        onset = max(report["training_pair_min_A"][pair], lifted.get(pair, 0.0))
        assert c["r_on_A"] == pytest.approx(onset, abs=1e-4)
    return report


def hot_md_distances(name: str, cell, workdir, temperature_K: float = 900.0):
    """1 ps of NVT with a shipped potential; checks that no atom was lost and the
    temperature held, and returns the last frame's symbols and its distance matrix (with
    10 Å on the diagonal)."""
    import numpy as np
    from ase import Atoms

    from atomflow.md.protocols import MDProtocol
    from atomflow.md.runner import run_md
    from atomflow.studies.md_tasks import thermostat_failure
    from atomflow.trajectory.h5md import read_h5md

    p = MDProtocol(
        ensemble="nvt",
        temperature_K=temperature_K,
        steps=1000,
        sample_every=100,
        restart_every=1000,
        seed=3,
    )
    result = run_md(cell, get_potential(name), p, workdir)
    assert result.natoms == len(cell)
    why = thermostat_failure(result.mean_temperature_K, result.std_temperature_K, temperature_K)
    assert not why, why
    traj = read_h5md(result.trajectory)
    last = Atoms(traj.species, positions=traj.positions[-1], cell=traj.cells[-1], pbc=True)
    r = last.get_all_distances(mic=True) + 10 * np.eye(len(last))
    return np.array(last.get_chemical_symbols()), r
