"""Tasks as files, for executors whose workers share only a filesystem with the submitter.

The submit host writes ``task.json`` into each task directory: the task name, its inputs,
and references as ``{"@ref": <task id>, "path": [...]}``. A compute job runs
``python -m atomflow.graph.filetask STORE TASK_ID`` (or ``--list FILE --index N`` for an
array element); it resolves references from the upstream tasks' ``result.json`` files and
leaves its own ``result.json`` by atomic rename. Compute jobs never touch the SQLite index.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from atomflow.graph.task import TaskNode, substitute
from atomflow.graph.worker import TaskRun, execute
from atomflow.store.sqlite_store import RESULT_FILE, dumps, loads

TASK_FILE = "task.json"

#: Exit code of a task that stopped at a restart point and wants to be run again.
EXIT_REQUEUE = 99


def task_dir(store_root: Path, task_id: str) -> Path:
    return Path(store_root) / "tasks" / task_id[:2] / task_id


def write_task_file(store_root: Path, task_id: str, node: TaskNode, ids: dict[str, str]) -> Path:
    """Write ``task.json`` for ``node`` with references pointing at upstream identities."""
    inputs = substitute(node.inputs, lambda r: {"@ref": ids[r.node.label], "path": list(r.path)})
    path = task_dir(store_root, task_id)
    path.mkdir(parents=True, exist_ok=True)
    spec = {"id": task_id, "name": node.fn.name, "label": node.label, "inputs": inputs}
    tmp = path / f".{TASK_FILE}.tmp"
    tmp.write_text(dumps(spec))
    tmp.replace(path / TASK_FILE)
    return path / TASK_FILE


def _resolve(value: Any, store_root: Path, cache: dict[str, Any]) -> Any:
    if isinstance(value, dict) and set(value) == {"@ref", "path"}:
        tid = value["@ref"]
        if tid not in cache:
            result_file = task_dir(store_root, tid) / RESULT_FILE
            try:
                result = json.loads(result_file.read_text())
            except (OSError, json.JSONDecodeError):
                raise RuntimeError(
                    f"upstream task {tid[:12]} has no readable {RESULT_FILE}; it has not "
                    "finished (check its job) — this task cannot run yet"
                ) from None
            if result.get("status") != "done":
                raise RuntimeError(f"upstream task {tid[:12]} failed: {result.get('error')}")
            cache[tid] = loads(result["outputs"])
        out = cache[tid]
        for step in value["path"]:
            out = out[step]
        return out
    if isinstance(value, dict):
        return {k: _resolve(v, store_root, cache) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, store_root, cache) for v in value]
    return value


def run_task_file(store_root: Path, task_id: str) -> dict[str, Any]:
    """Run the task described by its ``task.json``; returns the outcome dict."""
    store_root = Path(store_root)
    tdir = task_dir(store_root, task_id)
    spec = loads((tdir / TASK_FILE).read_text())
    try:
        inputs = _resolve(spec["inputs"], store_root, {})
    except Exception as exc:
        result = {"status": "failed", "outputs": None, "error": str(exc)}
        (tdir / RESULT_FILE).write_text(json.dumps(result))
        return result
    run = TaskRun(task_id, spec["name"], spec["label"], dumps(inputs), str(tdir), persist=True)
    return execute(run)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m atomflow.graph.filetask", description=__doc__)
    ap.add_argument("store", type=Path)
    ap.add_argument("task_id", nargs="?")
    ap.add_argument("--list", type=Path, help="file with one task id per line (job arrays)")
    ap.add_argument("--index", type=int, help="0-based line of --list to run")
    args = ap.parse_args(argv)
    if args.list is not None:
        ids = args.list.read_text().split()
        if args.index is None or not 0 <= args.index < len(ids):
            print(f"--index must be 0..{len(ids) - 1} for {args.list}", file=sys.stderr)
            return 2
        task_id = ids[args.index]
    elif args.task_id:
        task_id = args.task_id
    else:
        ap.error("give a TASK_ID or --list FILE --index N")
    result = run_task_file(args.store, task_id)
    if result["status"] == "done":
        return 0
    if result["status"] == "interrupted":
        return EXIT_REQUEUE
    print(f"task {task_id[:12]} failed: {result.get('error')}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
