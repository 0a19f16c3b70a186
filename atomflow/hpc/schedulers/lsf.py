"""IBM Spectrum LSF: ``bsub < script``, ``-w "done(ID)"``, ``-J "name[1-N]"``, ``-wa/-wt``.

``bsub`` reads ``#BSUB`` directives only from a script given on standard input, so the
script text is piped in (still an argv list, no shell). Array elements are numbered from 1
(``LSB_JOBINDEX``): atomflow's ``"1234_0"`` is LSF's ``1234[1]``. The walltime warning is
native: ``-wa USR1 -wt MINUTES``. A dependent of a failed parent stays pending with a
"dependency … never satisfied" reason (reported as ``blocked``) unless ``-ti`` (set when the
profile's ``cancel_invalid_dependents`` is on) lets LSF terminate it.

Polling: one ``bjobs -a -json -o "…"`` for all ids (LSF 10.1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atomflow.hpc import walltime as wt
from atomflow.hpc.schedulers import base
from atomflow.hpc.schedulers.base import (
    BLOCKED,
    CANCELLED,
    DONE,
    FAILED,
    NODE_FAIL,
    OUT_OF_MEMORY,
    PENDING,
    RUNNING,
    TIMEOUT,
    UNKNOWN,
    JobInfo,
    Raw,
    Runner,
    check_job_id,
    checked,
    default_output,
    directive,
    run_command,
    split_element,
)

if TYPE_CHECKING:
    from atomflow.hpc.render import Resolved

NAME = "lsf"
BJOBS_FIELDS = "jobid jobindex stat exit_code exit_reason pend_reason"

STATE_MAP = {
    "PEND": PENDING,
    "PSUSP": PENDING,
    "WAIT": PENDING,
    "RUN": RUNNING,
    "PROV": RUNNING,
    "USUSP": RUNNING,
    "SSUSP": RUNNING,
    "DONE": DONE,
    "EXIT": FAILED,
    "ZOMBI": NODE_FAIL,
    "UNKWN": UNKNOWN,
}
#: ``exit_reason`` / ``TERM_*`` codes of an EXIT job.
EXIT_REASONS = {
    "TERM_RUNLIMIT": TIMEOUT,
    "TERM_DEADLINE": TIMEOUT,
    "TERM_CPULIMIT": TIMEOUT,
    "TERM_MEMLIMIT": OUT_OF_MEMORY,
    "TERM_SWAP": OUT_OF_MEMORY,
    "TERM_OWNER": CANCELLED,
    "TERM_ADMIN": CANCELLED,
    "TERM_FORCE_OWNER": CANCELLED,
    "TERM_FORCE_ADMIN": CANCELLED,
    "TERM_PREEMPT": CANCELLED,
    "TERM_ORPHAN_SYSTEM": CANCELLED,
    "TERM_HOST": NODE_FAIL,
    "TERM_LOAD": NODE_FAIL,
    "TERM_ZOMBIE": NODE_FAIL,
    "TERM_UNKNOWN": FAILED,
}
_NEVER = re.compile(r"never (be )?satisfied|dependency condition invalid", re.I)


# --- script ---------------------------------------------------------------------------------


def array_spec(indices: Sequence[int], max_parallel: int | None = None) -> str:
    """``[1-4]`` (1-based) with ``%N``: the part after the name in ``-J``."""
    spec = base.compress([i + 1 for i in indices])
    return f"[{spec}]" + (f"%{max_parallel}" if max_parallel else "")


def condition(job_ids: Sequence[str]) -> str:
    """``-w`` value: ``done(12) && done(13[2])``."""
    return " && ".join(f"done({native_id(j)})" for j in job_ids)


def native_id(job_id: str) -> str:
    """atomflow id → LSF id (``12_0`` → ``12[1]``)."""
    job, index = split_element(job_id)
    return job if index is None else f"{job}[{index + 1}]"


def script_fields(r: Resolved) -> dict[str, Any]:
    """Directive words for ``lsf.sh.j2``."""
    req = r.request
    tokens = "%J_%I" if r.indices is not None else "%J"
    warn_minutes = max(1, r.warning // 60) if r.warning else None
    return {
        "walltime": Raw(base.clock(r.walltime, with_seconds=False)),
        "job_spec": Raw(r.name + (array_spec(r.indices, req.max_parallel) if r.indices else "")),
        "output": directive(req.output, "output")
        if req.output
        else default_output(req.workdir, r.name, tokens),
        "error": directive(req.error, "error") if req.error else None,
        "condition": Raw(condition(r.dependencies)) if r.dependencies else None,
        "warning_minutes": warn_minutes,
        "index_expr": Raw('"$(( ${LSB_JOBINDEX:-1} - 1 ))"') if r.indices else Raw("0"),
        "runner": Raw(wt.runner_snippet(("USR1",))),
    }


# --- commands -------------------------------------------------------------------------------


def submit_argv(dependencies: Sequence[str] = ()) -> list[str]:
    """``bsub [-w "done(…)"]``; the script goes to standard input."""
    return ["bsub", *(["-w", condition(dependencies)] if dependencies else [])]


def parse_submit(stdout: str) -> str:
    """``Job <1234> is submitted to queue <normal>.`` → ``1234``."""
    m = re.search(r"Job <(\d+)>", stdout)
    if not m:
        raise base.SchedulerError(f"bsub printed no job id: {stdout.strip()[:200]!r}")
    return m[1]


def bjobs_argv(job_ids: Sequence[str]) -> list[str]:
    return ["bjobs", "-a", "-json", "-o", BJOBS_FIELDS, *(native_id(j) for j in job_ids)]


def cancel_argv(job_ids: Sequence[str]) -> list[str]:
    return ["bkill", *(native_id(j) for j in job_ids)]


# --- parsing (pure) -------------------------------------------------------------------------


def classify(stat: str, exit_reason: str = "", pend_reason: str = "") -> str:
    """atomflow state from ``STAT``, ``EXIT_REASON`` and ``PEND_REASON``."""
    state = STATE_MAP.get(stat.strip().upper(), UNKNOWN)
    if state == PENDING and _NEVER.search(pend_reason or ""):
        return BLOCKED
    if state == FAILED:
        for code, mapped in EXIT_REASONS.items():
            if code in (exit_reason or ""):
                return mapped
    return state


def parse_bjobs_json(text: str) -> dict[str, JobInfo]:
    """Parse ``bjobs -json -o "jobid jobindex stat exit_code exit_reason pend_reason"``."""
    jobs: dict[str, JobInfo] = {}
    if not text.strip():
        return jobs
    for rec in json.loads(text).get("RECORDS", []):
        if "ERROR" in rec:  # "Job <99> is not found"
            continue
        index = str(rec.get("JOBINDEX", "") or "0")
        job_id = rec["JOBID"] + (f"_{int(index) - 1}" if index.isdigit() and index != "0" else "")
        code = str(rec.get("EXIT_CODE", "")).strip()
        jobs[job_id] = JobInfo(
            job_id,
            classify(rec.get("STAT", ""), rec.get("EXIT_REASON", ""), rec.get("PEND_REASON", "")),
            rec.get("STAT", ""),
            rec.get("EXIT_REASON", "") or rec.get("PEND_REASON", ""),
            int(code) if code.isdigit() else None,
        )
    return jobs


# --- the scheduler --------------------------------------------------------------------------


class LSF:
    """:class:`~atomflow.hpc.schedulers.base.Scheduler` for LSF."""

    name = NAME

    def __init__(self, run: Runner = run_command) -> None:
        self._run = run

    def submit(self, script: Path, dependencies: Sequence[str] = ()) -> str:
        argv = submit_argv(list(dependencies))
        res = checked(self._run(argv, Path(script).read_text()), argv)
        return parse_submit(res.stdout)

    def query(self, job_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted({check_job_id(j) for j in job_ids})
        if not ids:
            return {}
        known = parse_bjobs_json(self._run(bjobs_argv(ids)).stdout)
        out = {}
        for j in ids:
            if j in known:
                out[j] = known[j].state
            else:
                elements = [v.state for k, v in known.items() if k.startswith(f"{j}_")]
                out[j] = base.overall(elements) if elements else UNKNOWN
        return out

    def cancel(self, job_ids: Iterable[str]) -> None:
        ids = sorted(set(job_ids))
        if ids:
            argv = cancel_argv(ids)
            checked(self._run(argv), argv)
