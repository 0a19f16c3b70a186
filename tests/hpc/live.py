"""Helpers shared by the live scheduler tests: a plain scratch folder, polling, submitting."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from atomflow.hpc.profiles import load_profile
from atomflow.hpc.render import JobRequest, write_script
from atomflow.hpc.schedulers.base import TERMINAL


def scratch(prefix: str) -> Iterator[Path]:
    """A short plain folder under /tmp (jobs run as root here), removed afterwards."""
    path = Path(subprocess.check_output(["mktemp", "-d", f"/tmp/{prefix}-XXXX"], text=True).strip())
    yield path
    shutil.rmtree(path, ignore_errors=True)


def wait(sched, ids, until=lambda s: s in TERMINAL, timeout: float = 120.0) -> dict[str, str]:
    """Poll (one query per round) until every job satisfies ``until``."""
    deadline = time.monotonic() + timeout
    while True:
        states = sched.query(ids)
        if all(until(s) for s in states.values()):
            return states
        assert time.monotonic() < deadline, f"timed out waiting: {states}"
        time.sleep(0.5)


def submit(sched, profile: str, workdir: Path, name: str, command, deps=(), **kw) -> str:
    """Render ``command`` as a job with ``profile`` and submit it after ``deps``."""
    req = JobRequest(
        name=name, command=command, workdir=workdir, walltime=kw.pop("walltime", 300), **kw
    )
    script = write_script(req, load_profile(profile), workdir / f"{name}.sh")
    return sched.submit(script, list(deps))
