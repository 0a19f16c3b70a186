"""The K-into-BiSnSb study end to end through the CLI on a tiny preset (real LAMMPS)."""

import json
from pathlib import Path

import pytest
from study_cli import run_cli as _cli
from study_cli import run_twice, with_preset

from atomflow.potentials import available_potentials
from atomflow.resources import data_dir


def _registered() -> bool:
    from atomflow.studies import systems

    return "bisnsb_k" in systems()


pytestmark = [
    pytest.mark.skipif(
        "kbisnsb-pod" not in available_potentials(),
        reason="the shipped potential kbisnsb-pod is not in the registry yet",
    ),
    pytest.mark.skipif(
        not _registered(), reason="study system 'bisnsb_k' is not registered in atomflow.studies"
    ),
]

TINY = """
[presets.tiny]
description = "test-sized"
expected_minutes = 4
restart_every = 500
models = ["edge", "control"]
alloy = { bulk_supercell = [3, 3, 1] }
slab = { edge_size = [4, 2, 2] }
npt = { temperature_K = 300, equil_steps = 200, steps = 400, sample_every = 20 }
md = { temperature_K = 450, steps = 1000, sample_every = 20 }
[presets.tiny.analysis]
t_report_ps = 2
window_ps = 0.4
profile_times_ps = [0, 1, 2]
snapshot_times_ps = [0, 1, 2]
core_radius_A = 3.5

"""


def _spec(tmp: Path) -> Path:
    path = tmp / "bisnsb-tiny.toml"
    recipe = (data_dir("workflows") / "bisnsb_dislocation.toml").read_text()
    path.write_text(with_preset(recipe, TINY))
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bisnsb")
    spec = _spec(tmp)
    return tmp, run_twice(spec, tmp)


def test_report_schema_and_paper_values(two_runs):
    tmp, runs = two_runs
    assert all(r.returncode == 0 for r in runs), runs[0].stderr[-3000:]
    assert "expected ≈4 min" in runs[0].stderr
    report = json.loads(_cli("results", "--store", "s1", "--json", cwd=tmp).stdout)
    lat = report["lattice"]
    assert {"a", "a_err", "c", "c_err"} <= set(lat)
    assert 3.5 < lat["a"] < 5.5 and lat["a_err"] > 0
    assert 9.0 < lat["c"] < 14.0 and lat["c_err"] > 0
    for key in ("with_dislocation", "without_dislocation"):
        pen = report["penetration"][key]
        assert {"depth_A", "depth_err_A"} <= set(pen)
        assert pen["depth_err_A"] > 0 and pen["t_report_ps"] == 2.0
    assert report["paper"]["lattice"]["M"] == {
        "a": 4.4073,
        "c": 11.7094,
        "label": "M-BiSnSb (metastable, thermal shock)",
    }
    assert report["paper"]["lattice"]["S"]["a"] == 4.5327
    cmp = {(c["phase"], c["quantity"]): c for c in report["lattice_comparison"]}
    assert cmp[("S", "c (Å)")]["deviation_pct"] == pytest.approx(100 * (lat["c"] / 11.7903 - 1))
    assert report["findings"]
    assert all(f["reproduced"] in {"yes", "no", "not resolved"} for f in report["findings"])
    models = {m["model"]: m for m in report["models"]}
    assert set(models) == {"edge", "control"}
    assert {r["region"] for r in models["edge"]["regions"]} == {"core", "alloy", "film"}
    files = {p.name for p in (tmp / "s1" / "results" / "bisnsb_dislocation").iterdir()}
    assert {
        "report.json",
        "report.md",
        "k_front.png",
        "k_profiles.png",
        "k_region_msd.png",
        "snapshots_edge.png",
        "snapshots_control.png",
    } <= files


def test_two_fresh_runs_give_identical_numbers(two_runs):
    tmp, runs = two_runs
    assert all(r.returncode == 0 for r in runs)
    a, b = (
        json.loads((tmp / s / "results" / "bisnsb_dislocation" / "report.json").read_text())
        for s in ("s1", "s2")
    )
    assert a["lattice"] == b["lattice"]
    assert a["penetration"] == b["penetration"]
    assert a["models"] == b["models"]
