"""Run one task in the current process and leave its outcome as ``result.json``.

This is the only code that executes task functions, locally and on compute nodes alike.
The outcome file is written by atomic rename before anything else learns of it, so a
crash of the submitting process never loses a finished result.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atomflow.graph.task import resolve_task
from atomflow.store.sqlite_store import RESULT_FILE, dumps, loads

PROGRESS_FILE = "progress.json"


@dataclass(frozen=True)
class TaskRun:
    """Everything a worker needs: which function, with which (resolved) inputs, where."""

    task_id: str
    name: str
    label: str
    inputs_json: str
    workdir: str
    #: Leave ``result.json`` in the workdir. Tasks that take a ``workdir`` always do (their
    #: results must outlive any process); pure in-memory tasks are recorded by the engine
    #: in one commit, unless the executor runs them elsewhere (HPC).
    persist: bool = True


def write_progress(workdir: str | os.PathLike, fraction: float, message: str = "") -> None:
    """Record a long task's progress; the engine shows it while the task runs."""
    path = Path(workdir) / PROGRESS_FILE
    tmp = path.with_name(f".{PROGRESS_FILE}.tmp")
    tmp.write_text(json.dumps({"fraction": float(fraction), "message": message, "t": time.time()}))
    os.replace(tmp, path)


def read_progress(workdir: str | os.PathLike) -> dict[str, Any] | None:
    try:
        return json.loads((Path(workdir) / PROGRESS_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write_result(workdir: Path, result: dict[str, Any]) -> None:
    path = workdir / RESULT_FILE
    tmp = workdir / f".{RESULT_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(result))
    os.replace(tmp, path)


def execute(run: TaskRun) -> dict[str, Any]:
    """Execute ``run``; return (and persist) ``{status, outputs, started, finished, ...}``."""
    workdir = Path(run.workdir)
    if run.persist:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / RESULT_FILE).unlink(missing_ok=True)
    started = time.time()
    result: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "started": started}
    try:
        fn = resolve_task(run.name)
        kwargs = loads(run.inputs_json)
        if fn.wants_workdir:
            kwargs["workdir"] = workdir
        outputs = fn.func(**kwargs)
        result.update(status="done", outputs=dumps(outputs))
    except Exception as exc:
        # an exception with ``requeue = True`` (a run stopped at a restart point on a signal)
        # leaves the task retryable rather than failed
        result.update(
            status="interrupted" if getattr(exc, "requeue", False) else "failed",
            outputs=None,
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
    result["finished"] = time.time()
    if run.persist:
        result["artifacts"] = sorted(
            str(p.relative_to(workdir))
            for p in workdir.rglob("*")
            if p.is_file() and not p.name.startswith(".") and p.name != RESULT_FILE
        )
        _write_result(workdir, result)
    return result
