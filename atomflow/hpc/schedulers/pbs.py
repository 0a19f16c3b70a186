"""PBS Pro / OpenPBS and Torque: ``qsub``, ``-W depend=afterok``, ``-J`` (Pro) / ``-t`` (Torque).

PBS has no "signal me before the walltime" request; the script starts its own timer and
sends itself ``SIGUSR1`` ``warning_seconds`` before the limit (see
:mod:`atomflow.hpc.walltime`). A job whose ``afterok`` parent fails is deleted by the
server, so it turns up as ``cancelled`` (or unknown, once forgotten).

Ids: ``qsub`` prints ``1234.server`` (an array: ``1234[].server``, kept as ``1234.server``);
atomflow's element ``"1234.server_2"`` is PBS Pro's subjob ``1234[2].server``. Polling is one
``qstat -f -x -t`` (PBS Pro keeps finished jobs with ``-x``; Torque keeps them for
``keep_completed`` seconds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atomflow.hpc import walltime as wt
from atomflow.hpc.schedulers import base
from atomflow.hpc.schedulers.base import (
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
    directive,
    run_command,
    split_element,
)

if TYPE_CHECKING:
    from atomflow.hpc.render import Resolved

NAME = "pbs"

STATE_MAP = {
    "Q": PENDING,
    "H": PENDING,
    "W": PENDING,
    "T": PENDING,
    "M": PENDING,
    "R": RUNNING,
    "E": RUNNING,
    "B": RUNNING,
    "S": RUNNING,
    "U": RUNNING,
}
#: PBS Pro ``Exit_status`` values set by the server (``JOB_EXEC_*``); Torque's in brackets.
EXIT_STATES = {
    -29: TIMEOUT,  # JOB_EXEC_KILL_WALLTIME
    -28: TIMEOUT,  # JOB_EXEC_KILL_CPUT
    -27: OUT_OF_MEMORY,  # JOB_EXEC_KILL_MEM
    -26: OUT_OF_MEMORY,  # JOB_EXEC_KILL_VMEM
    -11: TIMEOUT,  # Torque JOB_EXEC_OVERLIMIT_WT
    -10: OUT_OF_MEMORY,  # Torque JOB_EXEC_OVERLIMIT_MEM
    -1: NODE_FAIL,  # JOB_EXEC_FAIL1: could not start on the node
    -2: NODE_FAIL,  # JOB_EXEC_FAIL2
    -3: NODE_FAIL,  # JOB_EXEC_RETRY
    -4: NODE_FAIL,  # JOB_EXEC_INITABT
}


# --- script ---------------------------------------------------------------------------------


def array_spec(indices: Sequence[int], flavor: str, max_parallel: int | None = None) -> str:
    """PBS Pro ``-J 0-9[:2][%N]`` (one range, at least 2 indices); Torque ``-t 0-3,7[%N]``."""
    if flavor == "torque":
        return base.compress(indices) + (f"%{max_parallel}" if max_parallel else "")
    first, last, step = base.arithmetic_range(indices, "PBS Pro")
    spec = f"{first}-{last}" + (f":{step}" if step != 1 else "")
    return spec + (f"%{max_parallel}" if max_parallel else "")


def depend(job_ids: Sequence[str], flavor: str = "pro") -> str:
    """``-W depend=`` value: ``afterok:1.srv:2.srv``; arrays by their ``[]`` id."""
    plain, arrays = [], []
    for j in job_ids:
        job, index = split_element(j)
        (plain if index is None else arrays).append(job)
    parts = []
    if plain:
        parts.append("afterok:" + ":".join(dict.fromkeys(plain)))
    if arrays:
        kind = "afterokarray" if flavor == "torque" else "afterok"
        parts.append(f"{kind}:" + ":".join(_array_id(a) for a in dict.fromkeys(arrays)))
    return ",".join(parts)


def _array_id(job: str, index: int | str = "") -> str:
    """``1234.server`` → ``1234[].server`` (or ``1234[2].server``)."""
    head, _, tail = job.partition(".")
    return f"{head}[{index}]" + (f".{tail}" if tail else "")


def script_fields(r: Resolved) -> dict[str, Any]:
    """Directive words for ``pbs.sh.j2``."""
    req, prof = r.request, r.profile
    per_node = -(-req.ntasks // r.nodes)
    flavor = prof.pbs_flavor
    if req.output:
        output = directive(req.output, "output")
    else:
        workdir = directive(str(req.workdir), "workdir")
        output = Raw(f"{workdir}/") if r.indices is not None else Raw(f"{workdir}/{r.name}.out")
    if flavor == "pro":
        chunk = f"{r.nodes}:ncpus={per_node * req.cpus_per_task}:mpiprocs={per_node}"
        if req.memory_mb:
            chunk += f":mem={-(-req.memory_mb // r.nodes)}mb"
        if req.gpus:
            chunk += f":ngpus={req.gpus}"
        resources = [f"select={chunk}"]
    else:
        nodes = f"nodes={r.nodes}:ppn={per_node * req.cpus_per_task}"
        resources = [nodes + (f":gpus={req.gpus}" if req.gpus else "")]
        if req.memory_mb:
            resources.append(f"mem={req.memory_mb}mb")
    index_var = "PBS_ARRAY_INDEX" if flavor == "pro" else "PBS_ARRAYID"
    indices = r.indices
    single = Raw(str(indices[0])) if indices and len(indices) == 1 and flavor == "pro" else None
    if single is not None:  # -J needs at least two indices: run the one element as a job
        indices = None
    timer = r.walltime - r.warning if r.warning else None
    return {
        "walltime": Raw(base.clock(r.walltime)),
        "resources": [Raw(x) for x in resources],
        "output": output,
        "error": directive(req.error, "error") if req.error else None,
        "array_flag": Raw("-J" if flavor == "pro" else "-t"),
        "array_spec": Raw(array_spec(indices, flavor, req.max_parallel)) if indices else None,
        "depend": Raw(depend(r.dependencies, flavor)) if r.dependencies else None,
        "index_expr": single or (Raw(f'"${{{index_var}:-0}}"') if indices else Raw("0")),
        "runner": Raw(wt.runner_snippet(("USR1",), timer_seconds=timer)),
    }


# --- commands -------------------------------------------------------------------------------


def submit_argv(script: Path, dependencies: Sequence[str] = (), flavor: str = "pro") -> list[str]:
    """``qsub [-W depend=afterok:…] SCRIPT``."""
    argv = ["qsub"]
    if dependencies:
        argv += ["-W", f"depend={depend(dependencies, flavor)}"]
    return [*argv, str(script)]


def parse_submit(stdout: str) -> str:
    """``1234.server`` (arrays ``1234[].server`` → ``1234.server``)."""
    text = stdout.strip().splitlines()[-1].strip() if stdout.strip() else ""
    return check_job_id(text.replace("[]", ""))


def qstat_argv(job_ids: Sequence[str], flavor: str = "pro") -> list[str]:
    """One ``qstat -f`` for all ids (``-x``: finished ones too, PBS Pro; ``-t``: subjobs)."""
    native = [native_id(j) for j in job_ids]
    return ["qstat", "-f", "-t", *(["-x"] if flavor == "pro" else []), *native]


def native_id(job_id: str) -> str:
    """atomflow id → PBS id (``1234.srv_2`` → ``1234[2].srv``)."""
    job, index = split_element(job_id)
    return job if index is None else _array_id(job, index)


def atomflow_id(pbs_id: str) -> str:
    """PBS id → atomflow id (``1234[2].srv`` → ``1234.srv_2``; ``1234[].srv`` → ``1234.srv``)."""
    m = re.match(r"^(\d+)\[(\d*)\](.*)$", pbs_id)
    if not m:
        return pbs_id
    return f"{m[1]}{m[3]}" + (f"_{m[2]}" if m[2] else "")


def cancel_argv(job_ids: Sequence[str]) -> list[str]:
    return ["qdel", *(native_id(j) for j in job_ids)]


# --- parsing (pure) -------------------------------------------------------------------------


def classify(job_state: str, exit_status: int | None = None, comment: str = "") -> str:
    """atomflow state from ``job_state``, ``Exit_status`` and the server's ``comment``."""
    code = job_state.strip()[:1].upper()
    if code in STATE_MAP:
        return STATE_MAP[code]
    if code not in ("F", "X", "C"):
        return UNKNOWN
    low = comment.lower()
    if exit_status is None:
        return CANCELLED if "deleted" in low else UNKNOWN
    if exit_status in EXIT_STATES:
        return EXIT_STATES[exit_status]
    if "walltime" in low and "exceeded" in low:
        return TIMEOUT
    if "mem" in low and "exceeded" in low:
        return OUT_OF_MEMORY
    if exit_status == 0:
        return DONE
    if exit_status >= 256 or "deleted" in low:  # killed by a signal (256 + n): qdel
        return CANCELLED
    return FAILED


def parse_qstat_f(text: str) -> dict[str, JobInfo]:
    """Parse ``qstat -f`` records (``Job Id: …`` then ``key = value`` lines)."""
    jobs: dict[str, JobInfo] = {}
    for block in re.split(r"^(?=Job Id:)", text, flags=re.M):
        m = re.match(r"Job Id:\s*(\S+)", block)
        if not m:
            continue
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines()[1:]:
            kv = re.match(r"^\s+([\w.]+) = (.*)$", line)
            if kv:
                key = kv[1]
                fields[key] = kv[2]
            elif key and line.startswith(("\t", "    ")):  # continuation of a long value
                fields[key] += line.strip()
        status = fields.get("Exit_status", fields.get("exit_status"))
        exit_status = int(status) if status and status.lstrip("-").isdigit() else None
        state = fields.get("job_state", "")
        job_id = atomflow_id(m[1])
        jobs[job_id] = JobInfo(
            job_id,
            classify(state, exit_status, fields.get("comment", "")),
            state,
            fields.get("comment", ""),
            exit_status,
        )
    return jobs


# --- the scheduler --------------------------------------------------------------------------


class PBS:
    """:class:`~atomflow.hpc.schedulers.base.Scheduler` for PBS Pro/OpenPBS and Torque."""

    name = NAME

    def __init__(self, run: Runner = run_command, flavor: str = "pro") -> None:
        self._run = run
        self.flavor = flavor

    def submit(self, script: Path, dependencies: Sequence[str] = ()) -> str:
        argv = submit_argv(script, list(dependencies), self.flavor)
        return parse_submit(checked(self._run(argv), argv).stdout)

    def query(self, job_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted({check_job_id(j) for j in job_ids})
        if not ids:
            return {}
        res = self._run(qstat_argv(ids, self.flavor))  # unknown ids: rc != 0, others printed
        known = parse_qstat_f(res.stdout)
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
