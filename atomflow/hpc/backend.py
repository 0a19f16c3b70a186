"""Bind a scheduler module and a site profile to the workflow layer (``workflow_jobs``).

Each :class:`~atomflow.hpc.workflow_jobs.ArrayJob` becomes a rendered job script whose
elements run ``python -m atomflow.graph.filetask STORE $ATOMFLOW_TASK`` — the task id read
from the array's task list — under the profile's environment set-up.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from atomflow.hpc.profiles import SiteProfile, load_profile
from atomflow.hpc.render import TASK, JobRequest, write_script
from atomflow.hpc.schedulers import get_scheduler
from atomflow.hpc.schedulers.base import Scheduler
from atomflow.hpc.workflow_jobs import ArrayJob


@dataclass
class SchedulerBackend:
    """A scheduler plus the profile that says how to launch on this site."""

    profile: SiteProfile
    scheduler: Scheduler
    python: str = sys.executable
    #: extra environment for every job (Grid Engine and PBS do not pass the submitter's)
    env: dict[str, str] = field(default_factory=dict)

    def write_script(self, job: ArrayJob) -> Path:
        request = JobRequest(
            name=job.name,
            command=[self.python, "-m", "atomflow.graph.filetask", str(job.store), TASK],
            workdir=job.task_list.parent,
            array_size=job.size,
            task_list=job.task_list,
            dependencies=tuple(job.dependencies),
            env=dict(self.env),
        )
        return write_script(request, self.profile, job.task_list.with_suffix(".sh"))


def make_backend(profile: str | Path, scheduler: str | None = None) -> SchedulerBackend:
    """Load ``profile`` (a shipped name or a TOML path); ``scheduler`` must agree with it."""
    prof = load_profile(profile)
    if scheduler is not None and scheduler != prof.scheduler:
        from atomflow.errors import InputError

        raise InputError(
            f"--scheduler {scheduler} does not match profile {profile!r}, which is for "
            f"{prof.scheduler}; pick a {scheduler} profile (atomflow hpc profiles)"
        )
    return SchedulerBackend(prof, get_scheduler(prof))
