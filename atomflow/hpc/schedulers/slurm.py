"""Slurm: ``sbatch --parsable``, ``afterok`` dependencies, ``--array``, ``--signal=B:USR1@N``.

Polling asks ``squeue -t all -r`` once for all jobs (finished jobs stay there for
``MinJobAge``, 300 s by default); jobs it no longer knows are looked up with one ``sacct``
call, or ``sacct -c`` (job completion log) where accounting storage is disabled.

Slurm's default leaves a job whose ``afterok`` parent failed pending for ever, with reason
``DependencyNeverSatisfied``: that is reported as ``blocked`` so the caller cancels it.
"""

from __future__ import annotations

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
)

if TYPE_CHECKING:
    from atomflow.hpc.render import Resolved

NAME = "slurm"
SQUEUE_FORMAT = "%i|%A|%T|%r"
SACCT_FIELDS = "JobID,JobIDRaw,State,ExitCode"

#: Slurm job state → atomflow state.
STATE_MAP = {
    "PENDING": PENDING,
    "CONFIGURING": PENDING,
    "REQUEUED": PENDING,
    "REQUEUE_HOLD": PENDING,
    "REQUEUE_FED": PENDING,
    "RESV_DEL_HOLD": PENDING,
    "RUNNING": RUNNING,
    "COMPLETING": RUNNING,
    "SIGNALING": RUNNING,
    "STAGE_OUT": RUNNING,
    "RESIZING": RUNNING,
    "SUSPENDED": RUNNING,
    "STOPPED": RUNNING,
    "COMPLETED": DONE,
    "FAILED": FAILED,
    "BOOT_FAIL": NODE_FAIL,
    "NODE_FAIL": NODE_FAIL,
    "DEADLINE": TIMEOUT,
    "TIMEOUT": TIMEOUT,
    "OUT_OF_MEMORY": OUT_OF_MEMORY,
    "CANCELLED": CANCELLED,
    "PREEMPTED": CANCELLED,
    "REVOKED": CANCELLED,
    "SPECIAL_EXIT": FAILED,
}
#: squeue reasons of a pending job that will never start on its own.
NEVER_REASONS = ("DependencyNeverSatisfied",)


# --- script ---------------------------------------------------------------------------------


def time_limit(seconds: int) -> str:
    """``D-HH:MM:SS`` (``--time``), rounded up to whole minutes (Slurm's resolution)."""
    minutes = -(-seconds // 60)
    days, rest = divmod(minutes * 60, 86400)
    clock = base.clock(rest)
    return f"{days}-{clock}" if days else clock


def array_spec(indices: Sequence[int], max_parallel: int | None = None) -> str:
    """``--array`` value: ``0-3``, ``0,2,5-7%2``."""
    return base.compress(indices) + (f"%{max_parallel}" if max_parallel else "")


def dependency(job_ids: Sequence[str]) -> str:
    """``--dependency`` value: ``afterok:12:13_2``."""
    return "afterok:" + ":".join(check_job_id(j) for j in job_ids)


def script_fields(r: Resolved) -> dict[str, Any]:
    """Directive words for ``slurm.sh.j2``."""
    req = r.request
    tokens = "%A_%a" if r.indices is not None else "%j"
    return {
        "time": Raw(time_limit(r.walltime)),
        "output": directive(req.output, "output")
        if req.output
        else default_output(req.workdir, r.name, tokens),
        "error": directive(req.error, "error") if req.error else None,
        "array_spec": Raw(array_spec(r.indices, req.max_parallel)) if r.indices else None,
        "dependency": Raw(dependency(r.dependencies)) if r.dependencies else None,
        "signal": Raw(f"B:USR1@{min(r.warning, 65535)}") if r.warning else None,
        "index_expr": Raw('"${SLURM_ARRAY_TASK_ID:-0}"'),
        "runner": Raw(wt.runner_snippet(("USR1",))),
    }


# --- commands -------------------------------------------------------------------------------


def submit_argv(script: Path, dependencies: Sequence[str] = ()) -> list[str]:
    """``sbatch --parsable [--dependency=afterok:…] SCRIPT``."""
    argv = ["sbatch", "--parsable"]
    if dependencies:
        argv.append(f"--dependency={dependency(dependencies)}")
    return [*argv, str(script)]


def parse_submit(stdout: str) -> str:
    """Job id from ``sbatch --parsable`` (``"123"`` or ``"123;cluster"``)."""
    text = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    job_id = text.split(";")[0].strip()
    return check_job_id(job_id)


def squeue_argv(job_ids: Sequence[str]) -> list[str]:
    """One ``squeue`` for all ids, finished jobs and array elements included."""
    return ["squeue", "-h", "-r", "-t", "all", "-o", SQUEUE_FORMAT, "-j", ",".join(job_ids)]


def sacct_argv(job_ids: Sequence[str], completion_log: bool = False) -> list[str]:
    """``sacct`` (or ``sacct -c``: job completion log) for ids that left squeue."""
    fields = "JobID,State,ExitCode" if completion_log else SACCT_FIELDS
    argv = ["sacct", "-X", "-P", "-n", "-o", fields, "-j", ",".join(job_ids)]
    return [*argv[:1], "-c", *argv[1:]] if completion_log else argv


def cancel_argv(job_ids: Sequence[str]) -> list[str]:
    return ["scancel", *(check_job_id(j) for j in job_ids)]


# --- parsing (pure) -------------------------------------------------------------------------


def classify(raw_state: str, reason: str = "") -> str:
    """atomflow state of a Slurm state (``CANCELLED by 0`` → ``cancelled``) and reason."""
    key = raw_state.split()[0].rstrip("+").upper() if raw_state.strip() else ""
    state = STATE_MAP.get(key, UNKNOWN)
    if state == PENDING and any(r in reason for r in NEVER_REASONS):
        return BLOCKED
    return state


def _exit_code(text: str) -> int | None:
    m = re.match(r"^\s*(\d+):(\d+)", text or "")
    if not m:
        return None
    code, sig = int(m[1]), int(m[2])
    return 128 + sig if sig else code


def parse_squeue(text: str) -> dict[str, JobInfo]:
    """Parse ``squeue -h -r -o '%i|%A|%T|%r'``: one line per job or array element."""
    jobs: dict[str, JobInfo] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 4:
            continue
        job_id, _raw_id, state, reason = (p.strip() for p in parts[:4])
        jobs[job_id] = JobInfo(job_id, classify(state, reason), state, reason)
    return jobs


def raw_ids(text: str) -> dict[str, str]:
    """Element id → raw job id (``5_2`` → ``10``) from the same squeue text."""
    out = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 2 and parts[0].strip() != parts[1].strip():
            out[parts[0].strip()] = parts[1].strip()
    return out


def parse_sacct(text: str) -> dict[str, JobInfo]:
    """Parse ``sacct -X -P -n -o JobID[,JobIDRaw],State,ExitCode`` (also ``sacct -c``)."""
    jobs: dict[str, JobInfo] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 4:
            job_id, _raw, state, code = parts
        elif len(parts) == 3:
            job_id, state, code = parts
        else:
            continue
        if not job_id or "." in job_id:  # steps (12.batch) are not jobs
            continue
        jobs[job_id] = JobInfo(job_id, classify(state), state, "", _exit_code(code))
    return jobs


def parse_scontrol(text: str) -> dict[str, JobInfo]:
    """Parse ``scontrol show job [-o]`` records (``JobId=… JobState=… Reason=…``)."""
    jobs: dict[str, JobInfo] = {}
    for record in re.split(r"\n\s*\n|(?=^JobId=)", text.strip(), flags=re.M):
        fields = dict(re.findall(r"(\w[\w/:]*)=(\S*)", record))
        if "JobId" not in fields or "JobState" not in fields:
            continue
        job_id = fields["JobId"]
        if fields.get("ArrayJobId") and fields.get("ArrayTaskId", "").isdigit():
            job_id = f"{fields['ArrayJobId']}_{fields['ArrayTaskId']}"
        reason = fields.get("Reason", "")
        jobs[job_id] = JobInfo(
            job_id,
            classify(fields["JobState"], reason),
            fields["JobState"],
            reason,
            _exit_code(fields.get("ExitCode", "")),
        )
    return jobs


def combine(job_ids: Iterable[str], known: dict[str, JobInfo]) -> dict[str, str]:
    """State per asked id; an array asked by its own id gets the state of its elements."""
    out = {}
    for job_id in job_ids:
        if job_id in known:
            out[job_id] = known[job_id].state
            continue
        elements = [i.state for k, i in known.items() if k.startswith(f"{job_id}_")]
        out[job_id] = base.overall(elements) if elements else UNKNOWN
    return out


# --- the scheduler --------------------------------------------------------------------------


class Slurm:
    """:class:`~atomflow.hpc.schedulers.base.Scheduler` for Slurm."""

    name = NAME

    def __init__(self, run: Runner = run_command) -> None:
        self._run = run
        self._raw: dict[str, str] = {}  # array element → raw id, for sacct -c
        self._completion_log: bool | None = None

    def submit(self, script: Path, dependencies: Sequence[str] = ()) -> str:
        argv = submit_argv(script, list(dependencies))
        return parse_submit(checked(self._run(argv), argv).stdout)

    def query(self, job_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted({check_job_id(j) for j in job_ids})
        if not ids:
            return {}
        argv = squeue_argv(ids)
        res = self._run(argv)
        if res.returncode != 0 and "Invalid job id" not in res.stderr:
            checked(res, argv)
        known = parse_squeue(res.stdout) if res.returncode == 0 else {}
        self._raw.update(raw_ids(res.stdout) if res.returncode == 0 else {})
        states = combine(ids, known)
        missing = [j for j, s in states.items() if s == UNKNOWN]
        if missing:
            for job_id, info in self._accounting(missing).items():
                if job_id in states:
                    states[job_id] = info.state
        return states

    def _accounting(self, ids: list[str]) -> dict[str, JobInfo]:
        if not self._completion_log:
            res = self._run(sacct_argv(ids))
            if res.returncode == 0:
                self._completion_log = False
                return parse_sacct(res.stdout)
            if "disabled" not in res.stderr:
                return {}
            self._completion_log = True
        raw = {self._raw.get(j, j): j for j in ids if "_" not in j or j in self._raw}
        if not raw:
            return {}
        res = self._run(sacct_argv(sorted(raw), completion_log=True))
        if res.returncode != 0:
            return {}
        found = parse_sacct(res.stdout)
        return {raw[k]: v for k, v in found.items() if k in raw}

    def cancel(self, job_ids: Iterable[str]) -> None:
        ids = sorted(set(job_ids))
        if ids:
            argv = cancel_argv(ids)
            checked(self._run(argv), argv)
