"""End to end on a real single-node Slurm (hpc/ci/start-slurm.sh): rendered scripts, arrays,
afterok chains, a failed parent whose dependent is detected and cancelled, and the walltime
warning reaching the task.

Slurm is started with ``SLURM_CI_KILL_INVALID_DEPEND=0`` (Slurm's default: a dependent of a
failed job pends for ever) so that atomflow's own detection is what is tested.
"""

import sys
from pathlib import Path

import live
import pytest
from live import wait

from atomflow.hpc.schedulers.base import TERMINAL

pytestmark = pytest.mark.scheduler
CI = Path(__file__).resolve().parents[2] / "hpc" / "ci"


@pytest.fixture
def workdir():
    yield from live.scratch("atomflow-slurm")


def submit(sched, workdir, name, command, deps=(), **kw) -> str:
    return live.submit(sched, "local-slurm", workdir, name, command, deps, **kw)


def test_array_of_four_reads_its_task_list(slurm, workdir):
    (workdir / "tasks.txt").write_text("alpha\nbeta\ngamma\ndelta\n")
    cmd = ["bash", "-c", 'echo "$1" > "out.$2"', "_", "{task}", "{index}"]
    array = submit(slurm, workdir, "arr", cmd, array_size=4, task_list=workdir / "tasks.txt")
    ids = [f"{array}_{i}" for i in range(4)]
    assert wait(slurm, ids) == dict.fromkeys(ids, "done")
    assert [(workdir / f"out.{i}").read_text().strip() for i in range(4)] == [
        "alpha",
        "beta",
        "gamma",
        "delta",
    ]
    assert slurm.query([array]) == {array: "done"}


def test_afterok_chain_runs_in_order(slurm, workdir):
    first = submit(slurm, workdir, "first", ["bash", "-c", "sleep 1; date +%s.%N > first.txt"])
    second = submit(
        slurm,
        workdir,
        "second",
        ["bash", "-c", "test -s first.txt && date +%s.%N > second.txt"],
        deps=[first],
    )
    assert slurm.query([second])[second] == "pending"
    assert wait(slurm, [first, second]) == {first: "done", second: "done"}
    assert float((workdir / "second.txt").read_text()) > float((workdir / "first.txt").read_text())


def test_failed_parent_blocks_dependent_which_is_detected_and_cancelled(slurm, workdir):
    parent = submit(slurm, workdir, "parent", ["bash", "-c", "exit 3"])
    child = submit(slurm, workdir, "child", ["touch", "child-ran"], deps=[parent])
    states = wait(slurm, [parent, child], until=lambda s: s in TERMINAL or s == "blocked")
    assert states == {parent: "failed", child: "blocked"}  # DependencyNeverSatisfied
    slurm.cancel([child])
    assert wait(slurm, [child]) == {child: "cancelled"}
    assert not (workdir / "child-ran").exists()


STUB = """
import pathlib, signal, sys, time
def stop(signum, frame):
    pathlib.Path("restart.txt").write_text(f"{signal.Signals(signum).name} {time.time()}")
    sys.exit(99)
signal.signal(signal.SIGUSR1, stop)
pathlib.Path("started.txt").write_text(str(time.time()))
time.sleep(600)
"""


def test_walltime_warning_reaches_the_task_before_the_limit(slurm, workdir):
    (workdir / "stub.py").write_text(STUB)
    job = submit(
        slurm, workdir, "wall", [sys.executable, "stub.py"], walltime=60, warning_seconds=30
    )
    states = wait(slurm, [job], timeout=150)
    out = next(workdir.glob("wall.*.out")).read_text()
    assert states == {job: "failed"}, out  # exit 99: stopped at a restart point
    assert (workdir / "restart.txt").read_text().startswith("SIGUSR1"), out
    assert "received SIGUSR1" in out and "exit 99" in out
    started = float((workdir / "started.txt").read_text())
    stopped = float((workdir / "restart.txt").read_text().split()[1])
    assert stopped - started < 60  # before the limit: no TIMEOUT
