"""One small module per batch system: script fields, submit/cancel argv, pure parsers.

``get_scheduler("slurm")`` (or a :class:`~atomflow.hpc.profiles.SiteProfile`) returns an
object with ``submit(script, dependencies) -> job id``, ``query(ids) -> {id: state}`` (one
scheduler call per poll) and ``cancel(ids)``; see :class:`base.Scheduler`.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING

from atomflow.errors import InputError
from atomflow.hpc.schedulers.base import Runner, Scheduler, run_command

if TYPE_CHECKING:
    from atomflow.hpc.profiles import SiteProfile

NAMES = ("slurm", "sge", "pbs", "lsf")
_CLASSES = {"slurm": "Slurm", "sge": "GridEngine", "pbs": "PBS", "lsf": "LSF"}


def module_for(name: str) -> ModuleType:
    """The module of scheduler ``name`` (slurm, sge, pbs, lsf)."""
    if name not in NAMES:
        raise InputError(f"unknown scheduler {name!r}; choose one of {', '.join(NAMES)}")
    return import_module(f"atomflow.hpc.schedulers.{name}")


def get_scheduler(which: str | SiteProfile, run: Runner = run_command) -> Scheduler:
    """A :class:`Scheduler` by name or for a profile; ``run`` executes argv lists."""
    name = which if isinstance(which, str) else which.scheduler
    cls = getattr(module_for(name), _CLASSES[name])
    if name == "pbs" and not isinstance(which, str):
        return cls(run, flavor=which.pbs_flavor)
    return cls(run)


__all__ = ["NAMES", "Scheduler", "get_scheduler", "module_for"]
