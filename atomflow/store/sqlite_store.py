"""The embedded store: an SQLite index (WAL mode) plus one directory of files per task.

Results become durable in two steps that each survive ``kill -9``: a worker writes
``result.json`` into its task directory by atomic rename, then the submitting process
indexes it into SQLite (``sync``). A record read back is re-hashed against its key.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monty.json import MontyDecoder, MontyEncoder

from atomflow.errors import StoreIntegrityError
from atomflow.hashing import canonical, task_identity

SCHEMA_VERSION = 1
RESULT_FILE = "result.json"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    label TEXT,
    inputs TEXT NOT NULL,
    status TEXT NOT NULL,
    outputs TEXT,
    started REAL,
    finished REAL,
    host TEXT,
    pid INTEGER,
    error TEXT,
    traceback TEXT,
    workdir TEXT,
    artifacts TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow TEXT NOT NULL,
    spec TEXT,
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_tasks (
    run_id INTEGER NOT NULL,
    label TEXT NOT NULL,
    task_id TEXT NOT NULL,
    PRIMARY KEY (run_id, label)
);
CREATE TABLE IF NOT EXISTS jobs (
    task_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    scheduler TEXT NOT NULL,
    array_index INTEGER,
    state TEXT NOT NULL,
    submitted REAL NOT NULL,
    PRIMARY KEY (task_id, job_id)
);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks(status);
CREATE INDEX IF NOT EXISTS jobs_task ON jobs(task_id);
"""

#: Task states. ``done`` is final; every other state is retried by the next run.
STATES = ("pending", "submitted", "running", "done", "failed", "blocked", "interrupted")


@dataclass(frozen=True)
class TaskRecord:
    """One task as stored: identity, status, inputs, outputs, timings, host, failure."""

    id: str
    name: str
    version: str
    label: str | None
    status: str
    inputs: Any
    outputs: Any
    started: float | None
    finished: float | None
    host: str | None
    pid: int | None
    error: str | None
    traceback: str | None
    workdir: str | None
    artifacts: list[str]
    attempts: int

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


def dumps(obj: Any) -> str:
    """JSON with numpy arrays and MSONable objects (structures) encoded by monty."""
    return json.dumps(obj, cls=MontyEncoder)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text, cls=MontyDecoder)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to ``path`` by rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        fh.write(dumps(obj))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Store:
    """SQLite index plus per-task directories under one project directory."""

    def __init__(self, root: str | os.PathLike = "atomflow-store"):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "index.sqlite"
        self._conn = sqlite3.connect(self.db_path, timeout=60, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._check_schema()

    def _check_schema(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._conn.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) != SCHEMA_VERSION:
            raise StoreIntegrityError(
                f"store {self.root} has schema version {row[0]}, this atomflow reads "
                f"{SCHEMA_VERSION}; use the atomflow version that wrote it or start a new --store"
            )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ paths
    def task_dir(self, task_id: str) -> Path:
        """The directory that holds a task's artifacts (trajectories, logs, restarts)."""
        return self.root / "tasks" / task_id[:2] / task_id

    def results_dir(self, workflow: str) -> Path:
        return self.root / "results" / workflow

    # ------------------------------------------------------------ task records
    def register(self, task_id: str, name: str, version: str, label: str, inputs: Any) -> None:
        """Insert a pending record unless the identity is already known."""
        self._conn.execute(
            "INSERT OR IGNORE INTO tasks(id, name, version, label, inputs, status, workdir,"
            " updated) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
            (
                task_id,
                name,
                version,
                label,
                dumps(canonical(inputs)),
                str(self.task_dir(task_id)),
                time.time(),
            ),
        )

    def register_many(self, rows: Iterable[tuple[str, str, str, str, Any]]) -> None:
        now = time.time()
        with self._transaction():
            self._conn.executemany(
                "INSERT OR IGNORE INTO tasks(id, name, version, label, inputs, status, workdir,"
                " updated) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                [
                    (tid, name, ver, label, dumps(canonical(inp)), str(self.task_dir(tid)), now)
                    for tid, name, ver, label, inp in rows
                ],
            )

    def _transaction(self):
        conn = self._conn

        class _Tx:
            def __enter__(self):
                conn.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                conn.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()

    def statuses(self, task_ids: Iterable[str]) -> dict[str, str]:
        ids = list(task_ids)
        out: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            out.update(
                self._conn.execute(
                    f"SELECT id, status FROM tasks WHERE id IN ({marks})", chunk
                ).fetchall()
            )
        return out

    def mark(self, task_id: str, status: str, **fields: Any) -> None:
        """Set a task's status (and optional columns) in one committed statement."""
        if status not in STATES:
            raise ValueError(f"unknown task status {status!r}; one of {', '.join(STATES)}")
        cols = {"status": status, "updated": time.time(), **fields}
        if "outputs" in cols:
            cols["outputs"] = dumps(cols["outputs"])
        if "artifacts" in cols:
            cols["artifacts"] = json.dumps(cols["artifacts"])
        assignments = ", ".join(f"{k}=?" for k in cols)
        self._conn.execute(f"UPDATE tasks SET {assignments} WHERE id=?", (*cols.values(), task_id))

    def mark_running(self, task_id: str) -> None:
        self._conn.execute(
            "UPDATE tasks SET status='running', started=?, host=?, attempts=attempts+1,"
            " updated=? WHERE id=?",
            (time.time(), socket.gethostname(), time.time(), task_id),
        )

    def mark_many(self, task_ids: Iterable[str], status: str, error: str | None = None) -> None:
        with self._transaction():
            for tid in task_ids:
                self._conn.execute(
                    "UPDATE tasks SET status=?, error=?, updated=? WHERE id=?",
                    (status, error, time.time(), tid),
                )

    def get(self, task_id: str) -> TaskRecord:
        """Return the record for ``task_id``; re-hashes it to catch edited or corrupt rows."""
        row = self._conn.execute(
            "SELECT id, name, version, label, status, inputs, outputs, started, finished, host,"
            " pid, error, traceback, workdir, artifacts, attempts FROM tasks WHERE id=?",
            (task_id,),
        ).fetchone()
        if row is None:
            raise KeyError(f"no task {task_id!r} in store {self.root}")
        inputs = json.loads(row[5])
        if task_identity(row[1], row[2], inputs) != row[0]:
            raise StoreIntegrityError(
                f"task {row[0][:12]} in {self.db_path} does not hash to its key: the record was "
                "edited or corrupted; delete that row (or the store) and re-run"
            )
        return TaskRecord(
            id=row[0],
            name=row[1],
            version=row[2],
            label=row[3],
            status=row[4],
            inputs=inputs,
            outputs=loads(row[6]),
            started=row[7],
            finished=row[8],
            host=row[9],
            pid=row[10],
            error=row[11],
            traceback=row[12],
            workdir=row[13],
            artifacts=json.loads(row[14]) if row[14] else [],
            attempts=row[15],
        )

    def find(self, prefix_or_label: str) -> TaskRecord:
        """Look a task up by id prefix, or by label in the latest run."""
        rows = self._conn.execute(
            "SELECT id FROM tasks WHERE id LIKE ?", (prefix_or_label + "%",)
        ).fetchall()
        if not rows:
            rows = self._conn.execute(
                "SELECT task_id FROM run_tasks WHERE label=? ORDER BY run_id DESC LIMIT 1",
                (prefix_or_label,),
            ).fetchall()
        if not rows:
            raise KeyError(f"no task with id prefix or label {prefix_or_label!r} in {self.root}")
        if len(rows) > 1:
            raise KeyError(f"id prefix {prefix_or_label!r} is ambiguous ({len(rows)} tasks)")
        return self.get(rows[0][0])

    def output(self, task_id: str) -> Any:
        row = self._conn.execute(
            "SELECT outputs, status FROM tasks WHERE id=?", (task_id,)
        ).fetchone()
        if row is None or row[1] != "done":
            raise KeyError(f"task {task_id[:12]} has no successful result")
        return loads(row[0])

    # -------------------------------------------------- results written as files
    def ingest_result_file(self, task_id: str) -> str | None:
        """Index a ``result.json`` left by a worker; returns the new status, or None."""
        path = self.task_dir(task_id) / RESULT_FILE
        if not path.is_file():
            return None
        try:
            result = json.loads(path.read_text())
        except json.JSONDecodeError:
            return None
        self.record_result(task_id, result)
        return result["status"]

    def record_result(self, task_id: str, result: Mapping[str, Any]) -> None:
        """Store a worker's outcome dict (the content of ``result.json``)."""
        outputs = result.get("outputs")
        self._conn.execute(
            "UPDATE tasks SET status=?, outputs=?, started=?, finished=?, host=?, pid=?, error=?,"
            " traceback=?, artifacts=?, updated=? WHERE id=?",
            (
                result["status"],
                outputs if isinstance(outputs, str) else dumps(outputs),
                result.get("started"),
                result.get("finished"),
                result.get("host"),
                result.get("pid"),
                result.get("error"),
                result.get("traceback"),
                json.dumps(result.get("artifacts", [])),
                time.time(),
                task_id,
            ),
        )

    # ----------------------------------------------------------------- runs
    def start_run(self, workflow: str, labels: Mapping[str, str], spec: str | None = None) -> int:
        with self._transaction():
            cur = self._conn.execute(
                "INSERT INTO runs(workflow, spec, started, status) VALUES (?, ?, ?, 'running')",
                (workflow, spec, time.time()),
            )
            run_id = int(cur.lastrowid)
            self._conn.executemany(
                "INSERT INTO run_tasks(run_id, label, task_id) VALUES (?, ?, ?)",
                [(run_id, label, tid) for label, tid in labels.items()],
            )
        return run_id

    def finish_run(self, run_id: int, status: str) -> None:
        self._conn.execute(
            "UPDATE runs SET finished=?, status=? WHERE id=?", (time.time(), status, run_id)
        )

    def runs(self) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT id, workflow, spec, started, finished, status FROM runs ORDER BY id"
        ).fetchall()
        keys = ("id", "workflow", "spec", "started", "finished", "status")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def run_tasks(self, run_id: int) -> list[tuple[str, TaskRecord]]:
        rows = self._conn.execute(
            "SELECT label, task_id FROM run_tasks WHERE run_id=? ORDER BY label", (run_id,)
        ).fetchall()
        return [(label, self.get(tid)) for label, tid in rows]

    # ------------------------------------------------------ scheduler jobs
    def record_jobs(self, scheduler: str, rows: Iterable[tuple[str, str, int | None]]) -> None:
        """Remember which scheduler job (and array index) runs each task; marks them submitted."""
        now = time.time()
        with self._transaction():
            for task_id, job_id, index in rows:
                self._conn.execute(
                    "INSERT OR REPLACE INTO jobs(task_id, job_id, scheduler, array_index, state,"
                    " submitted) VALUES (?, ?, ?, ?, 'pending', ?)",
                    (task_id, job_id, scheduler, index, now),
                )
                self._conn.execute(
                    "UPDATE tasks SET status='submitted', attempts=attempts+1, updated=?"
                    " WHERE id=?",
                    (now, task_id),
                )

    def latest_jobs(self, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The most recent job of each task that has one."""
        out: dict[str, dict[str, Any]] = {}
        ids = list(task_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for tid, job, sched, idx, state, sub in self._conn.execute(
                "SELECT task_id, job_id, scheduler, array_index, state, submitted FROM jobs"
                f" WHERE task_id IN ({marks}) ORDER BY submitted",
                chunk,
            ):
                out[tid] = {
                    "job_id": job,
                    "scheduler": sched,
                    "array_index": idx,
                    "state": state,
                    "submitted": sub,
                }
        return out

    def set_job_states(self, states: Mapping[str, str]) -> None:
        """Record scheduler states by job id (one transaction for the whole poll)."""
        with self._transaction():
            for job_id, state in states.items():
                self._conn.execute("UPDATE jobs SET state=? WHERE job_id=?", (state, job_id))
