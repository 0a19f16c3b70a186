"""The walltime trap, without a scheduler: the batch shell forwards the warning to the task.

A rendered script runs a Python stub that writes a "restart" and exits 99 on SIGUSR1. The
test plays the scheduler: it signals the batch shell (Slurm's ``B:USR1``, Grid Engine's
``-notify`` SIGUSR2) and checks the stub got SIGUSR1 and the script returned its exit code.
For PBS the script's own timer sends the warning.
"""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atomflow.hpc.profiles import SiteProfile
from atomflow.hpc.render import JobRequest, render
from atomflow.hpc.walltime import EXIT_REQUEUE, runner_snippet

STUB = """
import pathlib, signal, sys, time
here = pathlib.Path(sys.argv[1])
def stop(signum, frame):
    (here / "restart.txt").write_text(signal.Signals(signum).name)
    sys.exit(99)
signal.signal(signal.SIGUSR1, stop)
(here / "ready").write_text("ok")
time.sleep(30)
sys.exit(0)
"""


def start(tmp_path: Path, scheduler: str, **kw) -> subprocess.Popen:
    (tmp_path / "stub.py").write_text(STUB)
    req = JobRequest(
        name="trap",
        command=[sys.executable, str(tmp_path / "stub.py"), str(tmp_path)],
        workdir=tmp_path,
        **kw,
    )
    script = tmp_path / "job.sh"
    script.write_text(render(req, SiteProfile(name="t", scheduler=scheduler)))
    return subprocess.Popen(["bash", str(script)], cwd=tmp_path, stderr=subprocess.PIPE, text=True)


def wait_ready(tmp_path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while not (tmp_path / "ready").exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "stub did not start"
        time.sleep(0.02)


@pytest.mark.parametrize(
    "scheduler,sig,expected_rc",
    [
        ("slurm", signal.SIGUSR1, EXIT_REQUEUE),
        ("sge", signal.SIGUSR2, 100),
        ("lsf", signal.SIGUSR1, 99),
    ],
)
def test_warning_signal_reaches_the_task(tmp_path, scheduler, sig, expected_rc):
    proc = start(tmp_path, scheduler, walltime=600)
    wait_ready(tmp_path, proc)
    proc.send_signal(sig)
    rc = proc.wait(timeout=20)
    err = proc.stderr.read()
    assert rc == expected_rc, err  # SGE: a failed/interrupted task leaves the job in Eqw
    assert (tmp_path / "restart.txt").read_text() == "SIGUSR1"
    assert "sending SIGUSR1 to task" in err and "requeue it" in err


def test_pbs_timer_sends_the_warning(tmp_path):
    t0 = time.monotonic()
    proc = start(tmp_path, "pbs", walltime=4, warning_seconds=2)
    rc = proc.wait(timeout=20)
    assert rc == EXIT_REQUEUE, proc.stderr.read()
    assert (tmp_path / "restart.txt").read_text() == "SIGUSR1"
    assert 1.5 < time.monotonic() - t0 < 10


def test_task_exit_code_passes_through_without_signal(tmp_path):
    script = tmp_path / "s.sh"
    script.write_text(runner_snippet() + 'atomflow_run bash -c "exit 7"\necho "rc=$?"\n')
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=10)
    assert out.stdout.strip() == "rc=7"


def test_snippet_rejects_unknown_signals():
    with pytest.raises(ValueError):
        runner_snippet(("KILL; rm",))
