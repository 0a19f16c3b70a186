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
