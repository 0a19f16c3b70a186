"""The phonon tasks inside a workflow graph (caching, references) and the CLI sub-app."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from atomflow.cli.phonons_cmd import phonons_app
from atomflow.graph import Workflow, run_workflow
from atomflow.phonons.tasks import phonons, qha, qha_vs_npt
from atomflow.store import Store
from atomflow.structures.li3n import build_li3n

NPT_300K = {"a": 3.6755, "a_err": 0.0016, "c": 3.8929, "c_err": 0.0031}


def build(cell) -> Workflow:
    wf = Workflow(name="phonons")
    wf.add(phonons(cell, {"name": "li3n-esnap", "files": {}}, supercell=[2, 2, 2]), "ph")
    q = wf.add(qha(cell, "li3n-esnap", t_max_K=300.0, t_step_K=20.0, supercell=[2, 2, 2]), "qha")
    wf.add(qha_vs_npt(q.output, NPT_300K, 300.0), "compare")
    return wf


def test_tasks_run_in_a_graph_and_are_cached(tmp_path):
    cell = build_li3n((1, 1, 1), a=3.6416, c=3.8719)
    first = run_workflow(build(cell), tmp_path / "store")
    assert first.ok, first.failed
    with Store(tmp_path / "store") as st:
        ph = st.output(first.ids["ph"])
        q = st.output(first.ids["qha"])
        rows = st.output(first.ids["compare"])
        assert Path(ph["plot"]).is_file() and Path(q["plot"]).is_file()
    assert ph["imaginary_modes"] is False and len(ph["gamma_acoustic_THz"]) == 3
    assert {"T_K", "a", "c", "V", "classical", "static"} <= set(q)
    assert [r["quantity"] for r in rows] == ["a", "c"]
    assert all(abs(r["diff_classical_pct"]) < 2.0 for r in rows)  # 2x2x2: coarse, but close
    second = run_workflow(build(cell), tmp_path / "store")
    assert second.done == [] and sorted(second.cached) == ["compare", "ph", "qha"]


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def other() -> None:  # a second command, so "phonons" is mounted as in the main CLI
        pass

    app.add_typer(phonons_app, name="phonons")
    return app


def test_cli_json_and_plots(tmp_path):
    args = ["phonons", "li3n_alpha", "--potential", "li3n-esnap", "--supercell", "2,2,2"]
    res = CliRunner().invoke(
        _app(),
        [*args, "--qha", "--tmax", "300", "--tstep", "50", "--json", "--plot", str(tmp_path)],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["imaginary_modes"] is False and len(out["gamma_acoustic_THz"]) == 3
    assert isinstance(out["min_frequency_THz"], float)
    assert {"T_K", "a", "c", "V"} <= set(out["qha"]) and out["qha"]["T_K"][-1] >= 300.0
    assert (tmp_path / "phonons.png").is_file() and (tmp_path / "qha.png").is_file()


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path):
    runner = CliRunner()
    res = runner.invoke(_app(), ["phonons", "crn_rocksalt", "--potential", "li3n-esnap"])
    assert res.exit_code == 2 and "Cr" in res.stderr and "li3n-esnap" in res.stderr
    assert "Traceback" not in res.output
    res = runner.invoke(_app(), ["phonons", str(tmp_path / "x.cif"), "--potential", "li3n-esnap"])
    assert res.exit_code == 2 and "neither a file nor a shipped reference" in res.stderr
    res = runner.invoke(
        _app(), ["phonons", "li3n_alpha", "--potential", "li3n-esnap", "--supercell", "2,2"]
    )
    assert res.exit_code == 2 and "--supercell" in res.stderr
