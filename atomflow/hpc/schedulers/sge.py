"""Grid Engine (Son of Grid Engine, Univa/Altair GE): ``qsub -terse``, ``-hold_jid``, ``-t``.

Array tasks are numbered from 1 (``SGE_TASK_ID``); atomflow's element ``"7_0"`` is task 1.
``-hold_jid`` waits for the parent to *end*, whatever its exit status (afterany). To get
afterok, the script exits 100 when its task fails: Grid Engine then leaves the job in the
error state ``Eqw`` and its dependents stay held. ``query`` reports the errored job as
``failed`` and a held job whose predecessor is in error as ``blocked``; ``cancel`` removes
either. (Exit 99 would make Grid Engine requeue the job by itself; the script never
returns it.)

Warning before the limit: ``-l s_rt`` (soft limit, sends ``SIGUSR1``) a little below
``-l h_rt``, and ``-notify`` (``SIGUSR2`` before the hard kill); both are forwarded.

Polling: one ``qstat -xml -g d`` for all jobs; one ``qstat -j`` more only when held jobs may
be blocked; finished jobs are looked up with ``qacct -j`` (one call per array/job).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atomflow.errors import InputError
from atomflow.hpc import walltime as wt
from atomflow.hpc.schedulers import base
from atomflow.hpc.schedulers.base import (
    BLOCKED,
    CANCELLED,
    DONE,
    FAILED,
    NODE_FAIL,
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

NAME = "sge"
#: What the script exits with when its task failed (Grid Engine: put the job in error state).
EXIT_ERROR_STATE = 100


# --- script ---------------------------------------------------------------------------------


def array_spec(indices: Sequence[int]) -> str:
    """``-t`` value, 1-based: indices 0..3 → ``1-4``; 0,2,4 → ``1-5:2``."""
    first, last, step = base.arithmetic_range(indices, "Grid Engine")
    return f"{first + 1}-{last + 1}" + (f":{step}" if step != 1 else "")


def hold_list(job_ids: Sequence[str]) -> str:
    """``-hold_jid`` value: job ids, array elements reduced to their array (SGE holds on all)."""
    seen: dict[str, None] = {}
    for j in job_ids:
        seen[split_element(j)[0]] = None
    return ",".join(seen)


def script_fields(r: Resolved) -> dict[str, Any]:
    """Directive words for ``sge.sh.j2``."""
    req, prof = r.request, r.profile
    slots = req.ntasks * req.cpus_per_task
    if slots > 1 and not prof.parallel_environment:
        raise InputError(
            f"profile {prof.name}: a {slots}-slot job on Grid Engine needs "
            "parallel_environment (e.g. 'smp' or 'mpi'; see 'qconf -spl')"
        )
    tokens = "$JOB_ID.$TASK_ID" if r.indices is not None else "$JOB_ID"
    soft = r.walltime - r.warning if r.warning else None
    return {
        "h_rt": Raw(base.clock(r.walltime)),
        "s_rt": Raw(base.clock(soft)) if soft else None,
        "output": directive(req.output, "output")
        if req.output
        else default_output(req.workdir, r.name, tokens),
        "error": directive(req.error, "error") if req.error else None,
        "pe": Raw(f"{prof.parallel_environment} {slots}") if slots > 1 else None,
        "h_vmem": Raw(f"{-(-req.memory_mb // slots)}M") if req.memory_mb else None,
        "array_spec": Raw(array_spec(r.indices)) if r.indices else None,
        "hold_jid": Raw(hold_list(r.dependencies)) if r.dependencies else None,
        "index_expr": Raw('"$(( ${SGE_TASK_ID:-1} - 1 ))"') if r.indices else Raw("0"),
        "runner": Raw(wt.runner_snippet(("USR1", "USR2"))),
        "exit_error_state": EXIT_ERROR_STATE,
    }


# --- commands -------------------------------------------------------------------------------


def submit_argv(script: Path, dependencies: Sequence[str] = ()) -> list[str]:
    """``qsub -terse [-hold_jid a,b] SCRIPT``."""
    argv = ["qsub", "-terse"]
    if dependencies:
        argv += ["-hold_jid", hold_list(dependencies)]
    return [*argv, str(script)]


def parse_submit(stdout: str) -> str:
    """Job id from ``qsub -terse``: ``"5"``, or ``"4.1-4:1"`` for an array."""
    first = stdout.strip().splitlines()[0] if stdout.strip() else ""
    return check_job_id(first.split(".")[0].strip())


def qstat_argv() -> list[str]:
    return ["qstat", "-xml", "-g", "d"]


def qstat_j_argv(job_ids: Sequence[str]) -> list[str]:
    return ["qstat", "-j", ",".join(job_ids)]


def qacct_argv(job_id: str) -> list[str]:
    return ["qacct", "-j", check_job_id(job_id)]


def cancel_argvs(job_ids: Sequence[str]) -> list[list[str]]:
    """``qdel`` calls: whole jobs together, array elements as ``qdel JOB -t N``."""
    whole, argvs = [], []
    for j in job_ids:
        job, index = split_element(j)
        if index is None:
            whole.append(job)
        else:
            argvs.append(["qdel", job, "-t", str(index + 1)])
    return ([["qdel", *whole]] if whole else []) + argvs


# --- parsing (pure) -------------------------------------------------------------------------


def classify(code: str) -> str:
    """atomflow state of a qstat state code (``qw``, ``hqw``, ``r``, ``Eqw``, ``dr`` …)."""
    if "E" in code:
        return FAILED
    if "d" in code:
        return CANCELLED
    if any(c in code for c in "rtRsST"):
        return RUNNING
    if any(c in code for c in "qwh"):
        return PENDING
    return UNKNOWN


def _task_ids(tasks: str) -> list[int]:
    """``"3"`` → [3]; ``"1-4:1"`` or ``"2,5"`` → all task ids."""
    out: list[int] = []
    for part in tasks.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part.strip())
        if m:
            lo = int(m[1])
            hi = int(m[2] or lo)
            out.extend(range(lo, hi + 1, int(m[3] or 1)))
    return out


def parse_qstat_xml(text: str) -> dict[str, JobInfo]:
    """Parse ``qstat -xml [-g d]``: ids ``"5"`` or, for array tasks, ``"4_0"`` (0-based)."""
    jobs: dict[str, JobInfo] = {}
    if not text.strip():
        return jobs
    root = ET.fromstring(text)
    for el in root.iter("job_list"):
        number = (el.findtext("JB_job_number") or "").strip()
        code = (el.findtext("state") or "").strip()
        tasks = (el.findtext("tasks") or "").strip()
        keys = [f"{number}_{t - 1}" for t in _task_ids(tasks)] if tasks else [number]
        for key in keys:
            jobs[key] = JobInfo(key, classify(code), code)
    return jobs


def parse_predecessors(text: str) -> dict[str, list[str]]:
    """``qstat -j`` output → job number → its ``jid_predecessor_list``."""
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^job_number:\s+(\d+)", line)
        if m:
            current = m[1]
            out[current] = []
            continue
        m = re.match(r"^jid_predecessor_list:\s+(.*)$", line)
        if m and current:
            out[current] = [p.strip() for p in m[1].split(",") if p.strip()]
    return out


def parse_qacct(text: str) -> dict[str, JobInfo]:
    """Parse ``qacct -j`` records: ``failed``/``exit_status`` → done, failed, timeout …"""
    jobs: dict[str, JobInfo] = {}
    for block in re.split(r"^=+\s*$", text, flags=re.M):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            m = re.match(r"^(\w+)\s+(.*?)\s*$", line)
            if m:
                fields[m[1]] = m[2]
        if "jobnumber" not in fields:
            continue
        task = fields.get("taskid", "undefined")
        key = (
            fields["jobnumber"] if not task.isdigit() else f"{fields['jobnumber']}_{int(task) - 1}"
        )
        failed = fields.get("failed", "0")
        exit_text = fields.get("exit_status", "0").split()[0]
        exit_code = int(exit_text) if exit_text.lstrip("-").isdigit() else None
        jobs[key] = JobInfo(key, _qacct_state(failed, exit_code), failed, failed, exit_code)
    return jobs


def _qacct_state(failed: str, exit_code: int | None) -> str:
    code = int(failed.split()[0]) if failed.split() and failed.split()[0].isdigit() else 0
    if code == 37 or "h_rt" in failed or "s_rt" in failed:
        return TIMEOUT
    if "h_vmem" in failed or "memory" in failed:
        return base.OUT_OF_MEMORY
    if code == 100 and exit_code is not None and exit_code > 128:
        return CANCELLED  # killed by a signal after start: qdel (or a limit, unreported)
    if 1 <= code < 30:
        return NODE_FAIL  # failed before or while starting the job on its host
    if code or exit_code:
        return FAILED
    return DONE


def blocked_ids(states: dict[str, JobInfo], predecessors: dict[str, list[str]]) -> set[str]:
    """Held jobs whose predecessor is in the error state (their hold will never lift)."""
    errored = {k.split("_")[0] for k, v in states.items() if v.state == FAILED}
    return {job for job, preds in predecessors.items() if errored.intersection(preds)}


# --- the scheduler --------------------------------------------------------------------------


class GridEngine:
    """:class:`~atomflow.hpc.schedulers.base.Scheduler` for Grid Engine."""

    name = NAME

    def __init__(self, run: Runner = run_command) -> None:
        self._run = run

    def submit(self, script: Path, dependencies: Sequence[str] = ()) -> str:
        argv = submit_argv(script, list(dependencies))
        return parse_submit(checked(self._run(argv), argv).stdout)

    def query(self, job_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted({check_job_id(j) for j in job_ids})
        if not ids:
            return {}
        argv = qstat_argv()
        known = parse_qstat_xml(checked(self._run(argv), argv).stdout)
        held = sorted(
            {split_element(j)[0] for j in ids if j in known and "h" in known[j].raw_state}
        )
        if held and any(v.state == FAILED for v in known.values()):
            res = self._run(qstat_j_argv(held))
            blocked = blocked_ids(known, parse_predecessors(res.stdout))
            for key, info in list(known.items()):
                if split_element(key)[0] in blocked and info.state == PENDING:
                    known[key] = JobInfo(key, BLOCKED, info.raw_state, "predecessor in error")
        states = {j: known[j].state if j in known else UNKNOWN for j in ids}
        acct: dict[str, JobInfo] = {}
        for job in sorted({split_element(j)[0] for j, s in states.items() if s == UNKNOWN}):
            res = self._run(qacct_argv(job))
            if res.returncode == 0:
                acct.update(parse_qacct(res.stdout))
        merged = {**acct, **known}
        for j, s in states.items():
            if s != UNKNOWN:
                continue
            if j in merged:
                states[j] = merged[j].state
            elif "_" not in j:  # an array asked for as a whole
                elements = [v.state for k, v in merged.items() if k.startswith(f"{j}_")]
                states[j] = base.overall(elements) if elements else UNKNOWN
        return states

    def cancel(self, job_ids: Iterable[str]) -> None:
        for argv in cancel_argvs(sorted({check_job_id(j) for j in job_ids})):
            checked(self._run(argv), argv)
