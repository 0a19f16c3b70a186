"""The Li3N study end to end through the CLI on a tiny preset: report, caching, kill + resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atomflow.resources import data_dir
from atomflow.store import Store

TINY = """
[presets.tiny]
description = "test-sized"
expected_minutes = 1
restart_every = 500
structure = { supercell = [2, 2, 2], li_vacancies = 1 }
npt = { temperature_K = 300, equil_steps = 400, steps = 1200, sample_every = 20 }
nvt = { temperatures_K = [700, 900], equil_steps = 200, steps = STEPS, sample_every = 20 }
"""


def make_spec(tmp_path: Path, steps: int = 2000) -> Path:
    text = (data_dir("workflows") / "li3n.toml").read_text()
    head, _, tail = text.partition("[presets.quick]")
    path = tmp_path / "li3n-tiny.toml"
    path.write_text(head + TINY.replace("STEPS", str(steps)) + "\n[presets.quick]" + tail)
    return path


def cli(*args, cwd, **kw):
    return subprocess.run(
        [sys.executable, "-m", "atomflow.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("li3n")
    spec = make_spec(tmp)
    first = cli("run", str(spec), "--preset", "tiny", "--store", "s", "--workers", "2", cwd=tmp)
    return tmp, spec, first


def test_report_has_the_documented_schema(finished):
    tmp, _, first = finished
    assert first.returncode == 0, first.stderr
    out = cli("results", "--store", "s", "--json", cwd=tmp)
    report = json.loads(out.stdout)
    assert set(report["lattice"]) >= {"a", "a_err", "c", "c_err"}
    assert report["lattice"]["a"] == pytest.approx(3.648, rel=0.02)
    assert report["lattice"]["c"] == pytest.approx(3.875, rel=0.02)
    assert report["lattice"]["a_err"] > 0
    keys = {"T_K", "species", "direction", "D_cm2_s", "D_err_cm2_s"}
    assert all(keys <= set(r) for r in report["diffusion"])
    assert {(r["T_K"], r["direction"]) for r in report["diffusion"]} == {
        (T, d) for T in (700, 900) for d in ("xy", "z", "xyz")
    }
    # real Li3N runs at 700 and 900 K keep their host: no false alarm of the collapse check
    assert not any(r["invalid"] for r in report["diffusion"])
    assert {r["direction"] for r in report["arrhenius"]} == {"xy", "z", "xyz"}
    assert all(
        {"species", "direction", "Ea_eV", "Ea_err_eV"} <= set(r) for r in report["arrhenius"]
    )
    files = {p.name for p in (tmp / "s" / "results" / "li3n").iterdir()}
    assert {"report.json", "report.md", "msd.png", "arrhenius.png"} <= files
    text = cli("results", "--store", "s", cwd=tmp).stdout
    assert "Lattice parameters" in text and "Arrhenius" in text


def test_second_run_is_cached_and_runs_no_md(finished):
    tmp, spec, _ = finished
    again = cli("run", str(spec), "--preset", "tiny", "--store", "s", cwd=tmp)
    assert again.returncode == 0, again.stderr
    assert "0 ran, 10 cached" in again.stderr


def test_status_and_show(finished):
    tmp, _, _ = finished
    status = cli("status", "--store", "s", cwd=tmp)
    assert status.returncode == 0 and "nvt-700K" in status.stdout and "done" in status.stdout
    show = cli("show", "npt-300K", "--store", "s", cwd=tmp)
    assert show.returncode == 0 and "npt_lattice" in show.stdout and "traj.h5" in show.stdout
    missing = cli("show", "nope", "--store", "s", cwd=tmp)
    assert missing.returncode == 2 and "no task" in missing.stderr


def test_kill_during_md_then_rerun_resumes_from_restart(tmp_path):
    spec = make_spec(tmp_path, steps=6000)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "atomflow.cli.main",
            "run",
            str(spec),
            "--preset",
            "tiny",
            "--store",
            "s",
            "--workers",
            "2",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 300
    killed = False
    while time.time() < deadline and proc.poll() is None:
        # kill once NPT is done and an NVT task has a restart at step >= 1000
        running_md = [
            p.parent
            for p in (tmp_path / "s" / "tasks").glob("*/*/restart.json")
            if max(json.loads(p.read_text())["files"].values()) >= 1000
            and not (p.parent / "md_result.json").exists()
        ]
        npt_done = any((tmp_path / "s" / "tasks").glob("*/*/md_result.json"))
        if running_md and npt_done:
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.2)
    proc.wait()
    assert killed, "the run finished before it could be killed; lengthen the tiny NVT"
    rerun = cli(
        "run", str(spec), "--preset", "tiny", "--store", "s", "--workers", "2", cwd=tmp_path
    )
    assert rerun.returncode == 0, rerun.stderr
    with Store(tmp_path / "s") as st:
        tasks = dict(st.run_tasks(st.runs()[-1]["id"]))
        assert tasks["npt-300K"].attempts == 1  # finished before the kill: not redone
        resumed = [
            json.loads((Path(tasks[f"nvt-{T}K"].workdir) / "md_result.json").read_text())[
                "resumed_from_step"
            ]
            for T in (700, 900)
        ]
    assert any(r is not None and r >= 1000 for r in resumed), resumed
