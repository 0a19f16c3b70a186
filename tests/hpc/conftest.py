"""One real single-node Slurm for the whole session (hpc/ci/start-slurm.sh), shared by the
scheduler tests, and stopped at the end."""

import os
import re
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


def _remove_stale_mpich_segments() -> None:
    """Drop ``/dev/shm/mpich_shm_*`` that no live process maps: left by MPI runs that never
    reached MPI_Finalize. Their names follow the Slurm job id, which restarts at 1 with each
    fresh Slurm, and a job that attaches to a stale one dies in MPI_Init."""
    mapped: set[str] = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            mapped.update(re.findall(r"/dev/shm/(mpich_shm_\S+)", maps.read_text()))
        except OSError:
            continue
    for segment in Path("/dev/shm").glob("mpich_shm_*"):
        if segment.name not in mapped:
            segment.unlink(missing_ok=True)


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
    _remove_stale_mpich_segments()
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
