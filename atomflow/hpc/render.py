"""Render a job script from a :class:`JobRequest` and a :class:`SiteProfile`.

Templates are Jinja2 files (``hpc/templates/<scheduler>.sh.j2``, or the profile's own).
Every ``{{ value }}`` is shell-quoted on output unless the renderer marked it :class:`Raw`
(validated directive words, the quoted argv, the walltime snippet); a value with a newline or
another control character is written as ``$'…'``, so no value can start a new line.
Undefined names are errors (``StrictUndefined``). CLI equivalent: ``atomflow hpc render``.

Array jobs: the script sets ``ATOMFLOW_ARRAY_INDEX`` (0-based, from ``SLURM_ARRAY_TASK_ID``,
``SGE_TASK_ID - 1``, ``PBS_ARRAY_INDEX``/``PBS_ARRAYID`` or ``LSB_JOBINDEX - 1``) and, with a
``task_list``, ``ATOMFLOW_TASK`` (that line of the file). In ``command`` the placeholders
``{index}`` and ``{task}`` stand for them.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from atomflow.errors import InputError
from atomflow.hpc import walltime as wt
from atomflow.hpc.profiles import (
    SiteProfile,
    check_directive_value,
    check_line,
    parse_walltime,
)
from atomflow.hpc.schedulers import module_for
from atomflow.hpc.schedulers.base import Raw, check_job_id
from atomflow.resources import data_dir

#: Placeholders in :attr:`JobRequest.command`.
INDEX = "{index}"
TASK = "{task}"
_PLACEHOLDER = re.compile(r"(\{index\}|\{task\})")
_PLACEHOLDER_VALUE = {INDEX: '"$ATOMFLOW_ARRAY_INDEX"', TASK: '"$ATOMFLOW_TASK"'}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def shquote(value: Any) -> str:
    """Quote one word for bash; control characters become ``$'\\n'``-style escapes."""
    text = str(value)
    if not _CONTROL.search(text):
        return shlex.quote(text)
    out = []
    for ch in text:
        if ch in ("\\", "'"):
            out.append("\\" + ch)
        elif _CONTROL.match(ch):
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "$'" + "".join(out) + "'"


def word(arg: str) -> str:
    """Quote one argv word, turning ``{index}``/``{task}`` into quoted variable expansions."""
    pieces = [p for p in _PLACEHOLDER.split(str(arg)) if p]
    if not pieces:
        return "''"
    return "".join(_PLACEHOLDER_VALUE.get(p) or shquote(p) for p in pieces)


def job_name(name: str, limit: int = 64) -> str:
    """A name every scheduler accepts: ``[A-Za-z0-9_.-]``, starting with a letter."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("_.-") or "job"
    if not safe[0].isalpha():
        safe = "j" + safe
    return safe[:limit]


@dataclass(frozen=True)
class JobRequest:
    """What to run and what it needs; how to launch it comes from the site profile.

    ``command`` is an argv list (never a shell string). ``walltime`` is seconds or
    ``HH:MM:SS``/``D-HH:MM:SS`` (``None``: the profile's). ``array_size`` N runs elements
    0..N-1; ``array_indices`` picks a subset. ``dependencies`` are job ids that must succeed
    first (usually given to ``Scheduler.submit`` instead). ``warning_seconds`` is how long
    before the limit the task gets ``SIGUSR1`` (``None``: the profile's, 0: none).
    ``output``/``error`` are paths in the scheduler's own syntax (``%j`` …); by default
    ``<workdir>/<name>.<job id>.out`` with stderr joined. ``mpi`` prefixes the profile's
    launcher; ``gpus`` (per node) adds GPU resources and the profile's LAMMPS GPU arguments.
    ``memory_mb`` is per node.
    """

    name: str
    command: Sequence[str]
    workdir: Path
    ntasks: int = 1
    cpus_per_task: int = 1
    nodes: int | None = None
    memory_mb: int | None = None
    walltime: str | int | None = None
    array_size: int | None = None
    array_indices: Sequence[int] | None = None
    max_parallel: int | None = None
    task_list: Path | None = None
    dependencies: Sequence[str] = ()
    warning_seconds: int | None = None
    output: str | None = None
    error: str | None = None
    gpus: int = 0
    mpi: bool = False
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    """A request checked against a profile: the numbers and words templates need."""

    request: JobRequest
    profile: SiteProfile
    name: str
    walltime: int
    warning: int
    nodes: int
    indices: tuple[int, ...] | None
    dependencies: tuple[str, ...]


def _positive(value: Any, what: str, job: str, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"job {job!r}: {what} must be a positive int, not {value!r}")


def resolve(req: JobRequest, profile: SiteProfile) -> Resolved:
    """Validate ``req`` and fill defaults from ``profile``."""
    if isinstance(req.command, str) or not req.command:
        raise InputError(
            f"job {req.name!r}: command must be a non-empty argv list, not {req.command!r}"
        )
    for a in req.command:
        if "\x00" in str(a):
            raise InputError(f"job {req.name!r}: command word {a!r} contains NUL")
    _positive(req.ntasks, "ntasks", req.name)
    _positive(req.cpus_per_task, "cpus_per_task", req.name)
    for what in ("nodes", "memory_mb", "max_parallel", "array_size"):
        _positive(getattr(req, what), what, req.name, optional=True)
    if isinstance(req.gpus, bool) or not isinstance(req.gpus, int) or req.gpus < 0:
        raise InputError(f"job {req.name!r}: gpus must be an int >= 0, not {req.gpus!r}")
    limit = parse_walltime(req.walltime if req.walltime is not None else profile.walltime)
    warning = profile.warning_seconds if req.warning_seconds is None else req.warning_seconds
    if isinstance(warning, bool) or not isinstance(warning, int) or warning < 0:
        raise InputError(f"job {req.name!r}: warning_seconds must be an int >= 0")
    if warning >= limit:  # a warning at the start is useless: warn at half time
        warning = limit // 2
    indices: tuple[int, ...] | None = None
    if req.array_indices is not None:
        indices = tuple(sorted(set(req.array_indices)))
        if not indices or any(isinstance(i, bool) or not isinstance(i, int) for i in indices):
            raise InputError(f"job {req.name!r}: array_indices must be ints >= 0")
        if indices[0] < 0 or (req.array_size is not None and indices[-1] >= req.array_size):
            raise InputError(f"job {req.name!r}: array_indices must lie in 0..array_size-1")
    elif req.array_size is not None:
        indices = tuple(range(req.array_size))
    slots = req.ntasks * req.cpus_per_task
    nodes = req.nodes or max(1, math.ceil(slots / profile.cores_per_node))
    for key, value in req.env.items():
        if not _ENV_NAME.match(str(key)):
            raise InputError(f"job {req.name!r}: env name {key!r} is not a shell identifier")
        if "\x00" in str(value):
            raise InputError(f"job {req.name!r}: env value of {key} contains NUL")
    return Resolved(
        request=req,
        profile=profile,
        name=job_name(req.name),
        walltime=limit,
        warning=warning,
        nodes=nodes,
        indices=indices,
        dependencies=tuple(check_job_id(d) for d in req.dependencies),
    )


def _directive(value: Any) -> Raw:
    return Raw(check_directive_value(str(value), "directive value"))


def _extra_directive(value: str) -> Raw:
    return Raw(check_line(str(value), "extra directive"))


def _finalize(value: Any) -> Any:
    if isinstance(value, Raw):
        return value
    if isinstance(value, bool) or value is None:
        raise InputError(f"template tried to print {value!r}; test it with {{% if %}} first")
    return shquote(value)


def environment(user_template_dir: Path | None = None) -> jinja2.Environment:
    """Jinja2 environment: the user's template folder first, then the shipped templates."""
    dirs = [str(user_template_dir)] if user_template_dir else []
    dirs.append(str(data_dir("hpc") / "templates"))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(dirs),
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        autoescape=False,  # finalize quotes for the shell; HTML escaping would be wrong here
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["shquote"] = lambda v: Raw(shquote(v))
    env.filters["directive"] = _directive
    env.filters["extra_directive"] = _extra_directive
    env.filters["trusted"] = lambda v: Raw(check_line(str(v), "profile setup line"))
    return env


def context(r: Resolved) -> dict[str, Any]:
    """Everything a template sees: ``job`` (derived values) and ``profile``."""
    req, prof = r.request, r.profile
    argv = [str(a) for a in req.command]
    if req.mpi and prof.launcher:
        argv = prof.launcher_argv(req.ntasks, r.nodes, req.cpus_per_task) + argv
    lammps_args = list(prof.lammps.args) + (list(prof.lammps.gpu_args) if req.gpus else [])
    env = {
        "ATOMFLOW_JOB_NAME": req.name,
        "ATOMFLOW_NTASKS": str(req.ntasks),
        "ATOMFLOW_CPUS_PER_TASK": str(req.cpus_per_task),
        "ATOMFLOW_LAMMPS_COMMAND": shlex.join(prof.lammps.command),
        "ATOMFLOW_LAMMPS_ARGS": shlex.join(lammps_args),
        "ATOMFLOW_LAMMPS_PYTHON_MODULE": prof.lammps.python_module,
        "OMP_NUM_THREADS": str(req.cpus_per_task),
        **prof.env,
        **{str(k): str(v) for k, v in req.env.items()},
    }
    slots = req.ntasks * req.cpus_per_task
    job: dict[str, Any] = {
        "name": Raw(r.name),
        "workdir": os.fspath(req.workdir),
        "ntasks": req.ntasks,
        "cpus_per_task": req.cpus_per_task,
        "slots": slots,
        "nodes": r.nodes,
        "nodes_requested": req.nodes is not None,
        "ptile": -(-slots // r.nodes),
        "memory_mb": req.memory_mb,
        "max_parallel": req.max_parallel,
        "gpus": req.gpus,
        "walltime_seconds": r.walltime,
        "warning_seconds": r.warning,
        "array": r.indices is not None,
        "array_size": len(r.indices) if r.indices is not None else 1,
        "task_list": os.fspath(req.task_list) if req.task_list is not None else None,
        "argv": Raw(" ".join(word(a) for a in argv)),
        "env": sorted(env.items()),
        "requeue_exit_code": wt.EXIT_REQUEUE,
    }
    job.update(module_for(prof.scheduler).script_fields(r))
    return {"job": job, "profile": prof}


def template_for(profile: SiteProfile) -> tuple[Path | None, str]:
    """``(folder searched first, template name)`` for ``profile``."""
    if profile.template is not None:
        path = Path(profile.template).expanduser()
        if not path.is_file():
            raise InputError(
                f"profile {profile.name}: template {path} does not exist; copy one from "
                f"{data_dir('hpc') / 'templates'} (see hpc/README.md)"
            )
        return path.parent, path.name
    return None, f"{profile.scheduler}.sh.j2"


def render(request: JobRequest, profile: SiteProfile) -> str:
    """The job script text for ``request`` on ``profile``'s machine."""
    r = resolve(request, profile)
    folder, name = template_for(profile)
    try:
        text = environment(folder).get_template(name).render(**context(r))
    except jinja2.UndefinedError as exc:
        raise InputError(f"template {name}: {exc} (hpc/README.md lists the names)") from None
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"template {name}, line {exc.lineno}: {exc.message}") from None
    return re.sub(r"\n{3,}", "\n\n", text)


def write_script(request: JobRequest, profile: SiteProfile, path: Path) -> Path:
    """Render ``request`` into ``path`` (mode 0755) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render(request, profile))
    tmp.chmod(0o755)
    tmp.replace(path)
    return path
