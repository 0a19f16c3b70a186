"""What every scheduler module shares: states, the Scheduler protocol, argv runner, helpers.

Job ids. An array job is known by the id its submit command printed (``"123"``); its
elements by ``"<array id>_<index>"`` with a **0-based** index, whatever the scheduler's own
numbering (Grid Engine and LSF count from 1: element ``"7_0"`` is SGE task 1). Each module
translates both ways.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from atomflow.errors import AtomflowError, InputError
from atomflow.hpc.profiles import check_directive_value

#: atomflow job states. ``blocked``: pending on a dependency that can never be satisfied
#: (the caller should cancel it); ``unknown``: the scheduler no longer knows the job.
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, CANCELLED = "timeout", "out_of_memory", "node_fail", "cancelled"
BLOCKED, UNKNOWN = "blocked", "unknown"
STATES = (
    PENDING,
    RUNNING,
    DONE,
    FAILED,
    TIMEOUT,
    OUT_OF_MEMORY,
    NODE_FAIL,
    CANCELLED,
    BLOCKED,
    UNKNOWN,
)
TERMINAL = frozenset({DONE, FAILED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, CANCELLED})

_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\[\]-]*$")
_ELEMENT = re.compile(r"^(?P<job>.+)_(?P<index>\d+)$")


class Raw(str):
    """Text already safe where a template puts it: the renderer does not quote it again."""


def directive(value: str, what: str) -> Raw:
    """A checked directive word (see :func:`atomflow.hpc.profiles.check_directive_value`)."""
    return Raw(check_directive_value(value, what))


def default_output(workdir: Path, name: str, tokens: str) -> Raw:
    """``<workdir>/<name>.<tokens>.out``; ``tokens`` is the scheduler's own job-id syntax."""
    text = str(Path(workdir))
    if "%" in text:
        raise InputError(f"workdir {text!r} contains '%'; pass output= explicitly")
    try:
        check_directive_value(text, "workdir")
    except InputError as exc:
        raise InputError(f"{exc}; or pass output= (and error=) explicitly") from None
    return Raw(f"{text}/{name}.{tokens}.out")


#: When an array is asked for as a whole: the first of these that any element is in.
_PRECEDENCE = (
    "running",
    "pending",
    "blocked",
    "unknown",
    "node_fail",
    "out_of_memory",
    "timeout",
    "failed",
    "cancelled",
    "done",
)


def overall(states: Iterable[str]) -> str:
    """One state for several (the elements of an array)."""
    present = set(states)
    for s in _PRECEDENCE:
        if s in present:
            return s
    return "unknown"


class SchedulerError(AtomflowError, RuntimeError):
    """A scheduler command failed; the message carries its argv, exit code and stderr."""


@dataclass(frozen=True)
class JobInfo:
    """One job (or array element) as a parse function read it."""

    job_id: str
    state: str
    raw_state: str = ""
    reason: str = ""
    exit_code: int | None = None


@dataclass(frozen=True)
class CommandResult:
    """What a scheduler command returned."""

    returncode: int
    stdout: str
    stderr: str = ""


#: Runs one argv (never through a shell), optionally feeding ``stdin``; captures output.
Runner = Callable[..., CommandResult]


def run_command(
    argv: Sequence[str], stdin: str | None = None, timeout: float = 120.0
) -> CommandResult:
    """Default :data:`Runner`: ``subprocess.run`` on an argv list, output captured."""
    try:
        proc = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise SchedulerError(
            f"{argv[0]}: command not found; is the scheduler's client installed and on PATH?"
        ) from None
    except subprocess.TimeoutExpired:
        raise SchedulerError(f"{' '.join(argv)} did not answer within {timeout:g} s") from None
    return CommandResult(proc.returncode, proc.stdout, proc.stderr)


def checked(result: CommandResult, argv: Sequence[str]) -> CommandResult:
    """Raise :class:`SchedulerError` unless ``result`` succeeded."""
    if result.returncode != 0:
        raise SchedulerError(
            f"{' '.join(argv)} failed with exit code {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()[:500]}"
        )
    return result


@runtime_checkable
class Scheduler(Protocol):
    """Submit, poll and cancel jobs on one batch system."""

    name: str

    def submit(self, script: Path, dependencies: Sequence[str] = ()) -> str:
        """Submit ``script`` to start after ``dependencies`` succeed; return its job id."""
        ...

    def query(self, job_ids: Iterable[str]) -> dict[str, str]:
        """Map every id to an atomflow state, asking the scheduler once for all of them."""
        ...

    def cancel(self, job_ids: Iterable[str]) -> None:
        """Cancel jobs (array elements included)."""
        ...


def check_job_id(job_id: str) -> str:
    """A job id safe for argv and directives: letters, digits and ``. _ - [ ]``."""
    if not isinstance(job_id, str) or not _JOB_ID.match(job_id):
        raise InputError(f"job id {job_id!r} is not a scheduler job id")
    return job_id


def split_element(job_id: str) -> tuple[str, int | None]:
    """``"12_3"`` → ``("12", 3)``; ``"12"`` → ``("12", None)``."""
    m = _ELEMENT.match(check_job_id(job_id))
    if m:
        return m["job"], int(m["index"])
    return job_id, None


def compress(indices: Sequence[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` → ``"0-2,5,7-8"``."""
    items = sorted(set(indices))
    parts: list[str] = []
    start = prev = items[0]
    for i in [*items[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ",".join(parts)


def arithmetic_range(indices: Sequence[int], scheduler: str) -> tuple[int, int, int]:
    """``(first, last, step)`` of evenly spaced indices; schedulers without index lists."""
    items = sorted(set(indices))
    step = items[1] - items[0] if len(items) > 1 else 1
    if any(b - a != step for a, b in itertools.pairwise(items)):
        raise InputError(
            f"{scheduler} arrays take one evenly spaced range, not indices {compress(items)}; "
            "write the selected tasks to a fresh task list and submit them as 0..N-1"
        )
    return items[0], items[-1], step


def clock(seconds: int, with_seconds: bool = True) -> str:
    """``HH:MM:SS`` (hours may exceed 24), or ``HH:MM`` rounded up to the minute."""
    if with_seconds:
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    minutes = -(-seconds // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
