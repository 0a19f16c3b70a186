"""One real single-node Slurm for the whole session (hpc/ci/start-slurm.sh), shared by the
scheduler tests, and stopped at the end."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from atomflow.hpc.schedulers import get_scheduler

CI = Path(__file__).resolve().parents[2] / "hpc" / "ci"


def _skip_reason() -> str | None:
    if os.geteuid() != 0 and not shutil.which("sudo"):
        return "needs root (or sudo) to install and start Slurm"
    if not shutil.which("sbatch") and not shutil.which("apt-get"):
        return "Slurm is not installed and apt-get is unavailable to install it"
    return None


@pytest.fixture(scope="session")
def slurm():
    """Slurm with Slurm's default dependency policy (a dependent of a failed job pends for
    ever), so atomflow's own detection is what gets tested; 8 advertised CPUs."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    env = {
        **os.environ,
        "SLURM_CI_KILL_INVALID_DEPEND": "0",
        "SLURM_CI_CPUS": "8",
        "SLURM_CI_KILLWAIT": "5",
    }
    t0 = time.monotonic()
    start = subprocess.run(
        ["bash", str(CI / "start-slurm.sh")], env=env, capture_output=True, text=True, timeout=300
    )
    assert start.returncode == 0, f"start-slurm.sh failed:\n{start.stdout}\n{start.stderr}"
    print(f"slurm ready in {time.monotonic() - t0:.1f} s")
    try:
        yield get_scheduler("slurm")
    finally:
        subprocess.run(["bash", str(CI / "stop-slurm.sh")], capture_output=True, timeout=120)
