"""The Li2ZrCl6–N study end to end through the CLI on a tiny preset (x = 0, real LAMMPS)."""

import json
from pathlib import Path

import pytest
from study_cli import run_cli as _cli
from study_cli import run_twice, with_preset

from atomflow.resources import data_dir

TINY = """
[presets.tiny]
description = "test-sized"
expected_minutes = 2
restart_every = 400
compositions = [0.0]
npt = { temperature_K = 300, equil_steps = 400, steps = 600, sample_every = 20 }
nvt = { temperatures_K = [700, 900], equil_steps = 200, steps = 1200, sample_every = 20 }

"""


def _spec(tmp: Path) -> Path:
    path = tmp / "lzc-tiny.toml"
    path.write_text(with_preset((data_dir("workflows") / "li2zrcl6_n.toml").read_text(), TINY))
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lzc")
    spec = _spec(tmp)
    return tmp, run_twice(spec, tmp)


def test_report_schema_and_paper_values(two_runs):
    tmp, runs = two_runs
    assert all(r.returncode == 0 for r in runs), runs[0].stderr[-3000:]
    assert "expected ≈2 min" in runs[0].stderr
    report = json.loads(_cli("results", "--store", "s1", "--json", cwd=tmp).stdout)
    (row,) = report["compositions"]
    keys = {
        "x",
        "a",
        "a_err",
        "c",
        "c_err",
        "V",
        "V_err",
        "Ea_eV",
        "Ea_err_eV",
        "sigma300_mS_cm",
        "sigma300_err",
    }
    assert keys <= set(row)
    assert row["x"] == 0.0
    # P-3m1 Li2ZrCl6 at 300 K within 5 % of the XRD cell, with error bars
    assert row["a"] == pytest.approx(11.053, rel=0.05) and row["a_err"] > 0
    assert row["c"] == pytest.approx(5.962, rel=0.05) and row["c_err"] > 0
    assert row["V"] == pytest.approx(row["a"] ** 2 * row["c"] * 3**0.5 / 2, rel=0.01)
    assert report["paper"]["lattice"]["0"]["a"] == 11.053
    assert report["paper"]["sigma_RT_mS_cm"]["0.15"] == 1.5
    cmp = {c["quantity"]: c for c in report["comparison"] if c["x"] == 0.0}
    assert cmp["a (Å)"]["deviation_pct"] == pytest.approx(100 * (row["a"] / 11.053 - 1))
    temps = [d["T_K"] for d in row["diffusion"]]
    assert temps == [700.0, 900.0]
    assert all(d["D_cm2_s"] > 0 for d in row["diffusion"])
    files = {p.name for p in (tmp / "s1" / "results" / "li2zrcl6_n").iterdir()}
    assert {"report.json", "report.md", "lattice_vs_x.png", "arrhenius.png"} <= files


def test_two_fresh_runs_give_identical_numbers(two_runs):
    tmp, runs = two_runs
    assert all(r.returncode == 0 for r in runs)
    a, b = (
        json.loads((tmp / s / "results" / "li2zrcl6_n" / "report.json").read_text())
        for s in ("s1", "s2")
    )
    assert a["compositions"] == b["compositions"]
