"""End to end on a real single-node Son of Grid Engine (hpc/ci/start-sge.sh): an array of
three whose 1-based ``SGE_TASK_ID`` maps to task-list lines, a ``-hold_jid`` dependent, and
a failed parent (left in ``Eqw`` by the script's exit 100) whose held dependent is reported
``blocked`` and cancelled.

Slurm's client packages do not conflict with Grid Engine's (only ``slurm-wlm-torque``, the
PBS wrappers, does; the Slurm tests do not install it), so both suites run in one session.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import live
import pytest
from live import wait

from atomflow.hpc.schedulers import get_scheduler

pytestmark = pytest.mark.scheduler
CI = Path(__file__).resolve().parents[2] / "hpc" / "ci"
SGE_ENV = {"SGE_ROOT": "/var/lib/gridengine", "SGE_CELL": "default"}


def _skip_reason() -> str | None:
    if os.geteuid() != 0 and not shutil.which("sudo"):
        return "needs root (or sudo) to install and start Grid Engine"
    if not Path("/usr/sbin/sge_qmaster").exists() and not shutil.which("apt-get"):
        return "Grid Engine is not installed and apt-get is unavailable to install it"
    if Path("/usr/bin/qsub").exists() and "slurm" in os.path.realpath("/usr/bin/qsub"):
        return "slurm-wlm-torque's qsub is installed and conflicts with gridengine-client"
    return None


@pytest.fixture(scope="module")
def sge():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    saved = {k: os.environ.get(k) for k in SGE_ENV}
    os.environ.update(SGE_ENV)
    t0 = time.monotonic()
    start = subprocess.run(
        ["bash", str(CI / "start-sge.sh")], capture_output=True, text=True, timeout=300
    )
    assert start.returncode == 0, f"start-sge.sh failed:\n{start.stdout}\n{start.stderr}"
    print(f"sge ready in {time.monotonic() - t0:.1f} s")
    try:
        yield get_scheduler("sge")
    finally:
        subprocess.run(["bash", str(CI / "stop-sge.sh")], capture_output=True, timeout=120)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def workdir():
    yield from live.scratch("atomflow-sge")


def submit(sched, workdir, name, command, deps=(), **kw) -> str:
    return live.submit(sched, "local-sge", workdir, name, command, deps, **kw)


def test_array_and_hold_jid(sge, workdir):
    (workdir / "tasks.txt").write_text("one\ntwo\nthree\n")
    cmd = ["bash", "-c", 'echo "$1" > "out.$2"', "_", "{task}", "{index}"]
    array = submit(sge, workdir, "arr", cmd, array_size=3, task_list=workdir / "tasks.txt")
    ids = [f"{array}_{i}" for i in range(3)]
    join = submit(
        sge, workdir, "join", ["bash", "-c", "cat out.0 out.1 out.2 > joined.txt"], deps=ids
    )
    states = wait(sge, [*ids, join])
    assert states == dict.fromkeys([*ids, join], "done")
    assert (workdir / "joined.txt").read_text().split() == ["one", "two", "three"]


def test_failed_parent_is_held_in_error_and_dependent_blocked(sge, workdir):
    parent = submit(sge, workdir, "parent", ["bash", "-c", "exit 3"])
    child = submit(sge, workdir, "child", ["touch", "child-ran"], deps=[parent])
    states = wait(sge, [parent, child], until=lambda s: s in ("failed", "blocked"))
    assert states == {parent: "failed", child: "blocked"}
    sge.cancel([child, parent])
    gone = wait(sge, [child, parent], until=lambda s: s in ("cancelled", "unknown"), timeout=30)
    assert set(gone.values()) <= {"cancelled", "unknown"}  # deleted before it ran: no record
    assert not (workdir / "child-ran").exists()


def test_small_workflow_runs_on_grid_engine(sge, tmp_path):
    """A fan-out/join workflow through atomflow's planner: arrays, -hold_jid, results."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "graph"))
    from tasks_fixture import add, noop

    from atomflow.graph import Workflow
    from atomflow.hpc.backend import make_backend
    from atomflow.hpc.workflow_jobs import reconcile
    from atomflow.store import Store

    wf = Workflow(name="sgeflow")
    root = wf.add(noop(1), "root")
    for i in range(3):
        wf.add(add(root.output, i), f"leaf{i}")
    wf.add(add(wf.nodes["leaf0"].output, wf.nodes["leaf2"].output), "join")
    backend = make_backend("local-sge", "sge")
    backend.env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "graph")}
    with Store(tmp_path / "s") as st:
        report = reconcile(wf, st, backend.scheduler, backend.write_script)
        assert report.submitted_jobs == 3 and report.submitted_tasks == 5
        deadline = time.monotonic() + 180
        while not report.finished:
            assert time.monotonic() < deadline, report.states
            time.sleep(1)
            report = reconcile(wf, st, backend.scheduler, backend.write_script)
        assert report.ok, report.states
        assert st.output(wf.identities()["join"]) == 1 + 0 + 1 + 2
