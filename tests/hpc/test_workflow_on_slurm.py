"""Whole workflows on a real Slurm: arrays and dependencies, the same numbers as a local run,
an MD task that gets the walltime warning and resumes, and many tasks finishing together."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from atomflow.graph import Workflow
from atomflow.hpc.backend import make_backend
from atomflow.hpc.workflow_jobs import reconcile
from atomflow.store import Store
from atomflow.trajectory.h5md import read_h5md

pytestmark = pytest.mark.scheduler
TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "studies"))
sys.path.insert(0, str(TESTS / "graph"))

from tasks_fixture import noop  # noqa: E402
from test_li3n_pipeline import make_spec  # noqa: E402


def cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "atomflow.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )


def wait_until_finished(wf, st, backend, timeout=600.0, poll=1.0, on_poll=None):
    deadline = time.monotonic() + timeout
    report = reconcile(wf, st, backend.scheduler, backend.write_script)
    while not report.finished:
        assert time.monotonic() < deadline, f"workflow not finished: {report.states}"
        time.sleep(poll)
        if on_poll:
            on_poll()
        report = reconcile(wf, st, backend.scheduler, backend.write_script)
    return report


def test_li3n_study_on_slurm_uses_arrays_and_matches_local_run(slurm, tmp_path):
    spec = make_spec(tmp_path, steps=1000)
    on_slurm = cli(
        "run",
        str(spec),
        "--preset",
        "tiny",
        "--store",
        "hpc",
        "--scheduler",
        "slurm",
        "--profile",
        "local-slurm",
        "--wait",
        "--poll",
        "1",
        cwd=tmp_path,
    )
    assert on_slurm.returncode == 0, on_slurm.stderr
    tasks, jobs = map(
        int, re.search(r"submitted (\d+) tasks in (\d+) jobs", on_slurm.stderr).groups()
    )
    assert tasks == 10 and jobs < tasks  # the two NVT runs and their analyses are arrays
    scripts = list((tmp_path / "hpc" / "hpc").glob("*.sh"))
    assert any("#SBATCH --array=0-1" in p.read_text() for p in scripts)
    assert any("#SBATCH --dependency=afterok:" in p.read_text() for p in scripts)
    with Store(tmp_path / "hpc") as st:
        ids = [r.id for _, r in st.run_tasks(st.runs()[-1]["id"])]
        job_ids = {j["job_id"] for j in st.latest_jobs(ids).values()}
    assert any("_" in j for j in job_ids)  # array elements, as Slurm names them
    local = cli("run", str(spec), "--preset", "tiny", "--store", "local", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    a = json.loads((tmp_path / "hpc/results/li3n/report.json").read_text())
    b = json.loads((tmp_path / "local/results/li3n/report.json").read_text())
    for key in ("lattice", "diffusion", "arrhenius"):
        assert a[key] == b[key]


def test_md_stopped_by_the_walltime_signal_resumes_and_completes(slurm, tmp_path):
    from atomflow.structures.li3n import build_li3n
    from atomflow.studies.md_tasks import nvt_md, potential_input

    protocol = {"temperature_K": 600, "steps": 12000, "sample_every": 50, "restart_every": 500}
    wf = Workflow(
        [
            nvt_md(
                build_li3n((2, 2, 2), li_vacancies=1),
                potential_input("li3n-esnap"),
                protocol,
                label="nvt",
            )
        ],
        name="walltime",
    )
    backend = make_backend("local-slurm", "slurm")
    signalled = []

    def signal_once():
        if signalled:
            return
        workdir = st.task_dir(wf.identities()["nvt"])
        index = workdir / "restart.json"
        if index.exists() and max(json.loads(index.read_text())["files"].values()) >= 2000:
            job = st.latest_jobs([wf.identities()["nvt"]])[wf.identities()["nvt"]]["job_id"]
            # what Slurm's --signal=B:USR1@N does before the time limit, sent now
            subprocess.run(["scancel", "--signal=USR1", "--batch", job], check=True)
            signalled.append(job)

    with Store(tmp_path / "s") as st:
        report = wait_until_finished(wf, st, backend, on_poll=signal_once)
        assert report.ok and signalled
        rec = st.get(wf.identities()["nvt"])
        assert rec.attempts == 2  # stopped once at the warning, resubmitted, completed
        md = json.loads((Path(rec.workdir) / "md_result.json").read_text())
        assert md["resumed_from_step"] >= 2000
        steps = read_h5md(Path(rec.workdir) / "traj.h5").steps
        assert np.all(np.diff(steps) == 50) and steps[0] == 0 and steps[-1] == 12000


def test_256_tasks_finishing_together_lose_no_result(slurm, tmp_path, monkeypatch):
    monkeypatch.setenv(
        "PYTHONPATH", str(TESTS / "graph") + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    wf = Workflow([noop(i, label=f"n{i}") for i in range(256)], name="many")
    backend = make_backend("local-slurm", "slurm")
    with Store(tmp_path / "s") as st:
        first = reconcile(wf, st, backend.scheduler, backend.write_script)
        assert first.submitted_jobs == 1 and first.submitted_tasks == 256
        report = wait_until_finished(wf, st, backend, timeout=600)
        assert report.ok and report.states == {"done": 256}
        ids = wf.identities()
        assert [st.output(ids[f"n{i}"]) for i in range(256)] == list(range(256))


def _run_to_end(slurm, script: Path, workdir: Path, timeout: float = 300.0) -> tuple[str, str]:
    """Submit ``script``, wait for a final state; return it with the job's output."""
    job_id = slurm.submit(script)
    out = workdir / f"{script.stem}.{job_id}.out"
    deadline = time.monotonic() + timeout
    while (state := slurm.query([job_id])[job_id]) in ("pending", "running", "unknown"):
        if time.monotonic() > deadline:
            squeue = subprocess.run(["squeue", "-a"], capture_output=True, text=True).stdout
            log = out.read_text() if out.exists() else "(no output yet)"
            pytest.fail(f"job {job_id} still {state} after {timeout:.0f} s\n{squeue}\n{log}")
        time.sleep(1)
    return state, out.read_text() if out.exists() else ""


def test_md_task_runs_on_two_mpi_ranks_through_the_profile_launcher(slurm, tmp_path):
    """JobRequest(mpi=True, ntasks=2): the profile's launcher (srun --mpi=pmi2) starts the
    in-process LAMMPS MD on 2 ranks from the mpich wheel."""
    from atomflow.hpc.profiles import load_profile
    from atomflow.hpc.render import JobRequest, write_script
    from atomflow.structures.li3n import build_li3n

    build_li3n((3, 3, 3)).to(filename=str(tmp_path / "cell.cif"))
    job = {
        "structure": "cell.cif",
        "potential": "li3n-esnap",
        "workdir": "run",
        "protocol": {
            "ensemble": "nve",
            "temperature_K": 300,
            "steps": 200,
            "sample_every": 50,
            "restart_every": 100,
            "timestep_fs": 0.5,
        },
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    request = JobRequest(
        name="mpi2",
        command=[sys.executable, "-m", "atomflow.md", "job.json"],
        workdir=tmp_path,
        ntasks=2,
        mpi=True,
    )
    script = write_script(request, load_profile("local-slurm"), tmp_path / "mpi2.sh")
    assert "srun --mpi=pmi2 --kill-on-bad-exit=1" in script.read_text()
    state, out = _run_to_end(slurm, script, tmp_path)
    assert state == "done", out
    log = (tmp_path / "run" / "log.lammps").read_text()
    grid = re.search(r"(\d+) by (\d+) by (\d+) MPI processor grid", log)
    assert grid and np.prod([int(g) for g in grid.groups()]) == 2
    assert read_h5md(tmp_path / "run" / "traj.h5").steps[-1] == 200


def test_cli_cancel_stops_the_runs_jobs_and_a_rerun_resumes(slurm, tmp_path):
    """``atomflow cancel`` scancels the latest run's jobs, keeps what finished, and marks the
    rest pending; ``atomflow run`` afterwards submits only what is left and completes."""
    spec = make_spec(tmp_path, steps=1000)
    args = ("run", str(spec), "--preset", "tiny", "--store", "hpc", "--scheduler", "slurm")
    submitted = cli(*args, "--profile", "local-slurm", cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    with Store(tmp_path / "hpc") as st:
        ids = [r.id for _, r in st.run_tasks(st.runs()[-1]["id"])]
        job_ids = sorted({j["job_id"] for j in st.latest_jobs(ids).values()})
    cancelled = cli("cancel", "--store", "hpc", cwd=tmp_path)
    assert cancelled.returncode == 0, cancelled.stderr
    assert re.search(r"cancelled \d+ jobs \(\d+ tasks\)", cancelled.stderr)
    # Asked by array id: an array cancelled before it started leaves one record for the whole
    # array in CI's job completion log (no per-element records to look up)
    arrays = sorted({j.split("_")[0] for j in job_ids})
    deadline = time.monotonic() + 60
    while True:  # Slurm takes a moment to move cancelled jobs out of the queue
        states = slurm.query(arrays)
        if all(s in ("done", "cancelled") for s in states.values()):
            break
        assert time.monotonic() < deadline, json.dumps(states)
        time.sleep(0.5)
    assert "cancelled" in states.values()  # the run did not finish before the cancel
    with Store(tmp_path / "hpc") as st:
        run = st.runs()[-1]
        assert run["status"] == "cancelled"
        status = {r.id: r.status for _, r in st.run_tasks(run["id"])}
    assert set(status.values()) <= {"done", "pending"} and "pending" in status.values()
    done_before = {i for i, s in status.items() if s == "done"}
    resumed = cli(*args, "--profile", "local-slurm", "--wait", "--poll", "1", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    n_resubmitted = int(re.search(r"submitted (\d+) tasks", resumed.stderr).group(1))
    # jobs that finished their task just before the cancel are collected, not resubmitted
    assert 0 < n_resubmitted <= len(status) - len(done_before)
    with Store(tmp_path / "hpc") as st:
        assert all(r.status == "done" for _, r in st.run_tasks(st.runs()[-1]["id"]))
    assert (tmp_path / "hpc/results/li3n/report.json").exists()


def test_a_full_preset_submits_unchanged_and_its_md_starts(slurm, tmp_path):
    """The shipped li3n ``full`` preset goes to a real Slurm as it is: its builds finish in
    their jobs, its 864-atom NPT MD starts stepping in its own (progress reported from the
    job), and the rest wait on dependencies; then the run is cancelled (production-length
    MD is for a cluster)."""
    from atomflow.graph.worker import read_progress

    args = ("run", "li3n", "--preset", "full", "--store", "s", "--scheduler", "slurm")
    submitted = cli(*args, "--profile", "local-slurm", cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    assert int(re.search(r"submitted (\d+) tasks", submitted.stderr).group(1)) == 18
    deadline = time.monotonic() + 300
    try:
        while True:
            polled = cli("status", "--store", "s", cwd=tmp_path)  # one reconcile with Slurm
            assert polled.returncode == 0, polled.stderr
            with Store(tmp_path / "s") as st:
                records = dict(st.run_tasks(st.runs()[-1]["id"]))
            status = {label: r.status for label, r in records.items()}
            npt = records["npt-300K"]
            progress = read_progress(npt.workdir) if npt.workdir else None
            if progress and "step" in progress["message"] and progress["fraction"] > 0:
                break
            assert "failed" not in status.values(), status
            assert time.monotonic() < deadline, (status, progress)
            time.sleep(2)
        assert progress["message"].startswith("NPT 300 K equilibration step")
        assert status["structure-perfect"] == "done"
        assert status["npt-300K"] in ("submitted", "running")
        assert set(status.values()) <= {"done", "running", "submitted", "pending"}, status
        assert list(status.values()).count("running") <= 8  # the CI Slurm's 8 CPUs
    finally:
        cancelled = cli("cancel", "--store", "s", cwd=tmp_path)
    assert cancelled.returncode == 0, cancelled.stderr
