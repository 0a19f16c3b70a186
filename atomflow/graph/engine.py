"""The run loop: walk the graph, skip cached tasks, run ready ones, block dependents of failures.

Failure policy: a failed task is recorded with its traceback; every task downstream of it is
marked ``blocked``; unrelated branches go on. The next run retries failed, blocked and
interrupted tasks and skips every task whose identity already has a successful result.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import networkx as nx

from atomflow.graph.executors import Executor, InlineExecutor
from atomflow.graph.task import OutputRef, substitute
from atomflow.graph.worker import TaskRun, read_progress
from atomflow.graph.workflow import Workflow
from atomflow.store.sqlite_store import Store, dumps, loads


class Reporter(Protocol):
    """Receives progress events; the CLI draws them, tests may record them."""

    def start(self, workflow: str, total: int, cached: int) -> None: ...

    def task_started(self, label: str) -> None: ...

    def task_finished(self, label: str, status: str, error: str | None) -> None: ...

    def running(self, progress: dict[str, dict[str, Any] | None]) -> None: ...

    def stop(self) -> None: ...


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a batch system ending a job) stops a run the way Ctrl-C does:
    running tasks are marked interrupted and the workers are stopped, not left orphaned to
    finish tasks nobody collects. Main thread only: signals go nowhere else."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@dataclass
class RunSummary:
    """What a run did, by label."""

    workflow: str
    run_id: int
    ids: dict[str, str]
    cached: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.failed or self.blocked or self.interrupted)

    @property
    def status(self) -> str:
        if self.interrupted:
            return "interrupted"
        return "done" if self.ok else "failed"


class Engine:
    """Runs workflows against a store with an executor."""

    def __init__(
        self,
        store: Store,
        executor: Executor | None = None,
        reporter: Reporter | None = None,
        poll_s: float = 0.5,
        prefetch: int = 2,
    ):
        self.prefetch = max(1, prefetch)  # tasks queued per worker, to hide hand-off latency
        self.store = store
        self.executor = executor or InlineExecutor()
        self.reporter = reporter
        self.poll_s = poll_s

    def run(self, workflow: Workflow, spec: str | None = None) -> RunSummary:
        """Run ``workflow`` to completion (or first interrupt: Ctrl-C or SIGTERM) and return
        a summary."""
        with _sigterm_as_interrupt():
            return self._run(workflow, spec)

    def _run(self, workflow: Workflow, spec: str | None) -> RunSummary:
        t0 = time.perf_counter()
        graph = workflow.graph()
        ids = workflow.identities()
        nodes = workflow.nodes
        store = self.store
        store.register_many(
            (ids[lb], n.fn.name, n.fn.version, lb, workflow.identity_inputs(lb, ids))
            for lb, n in nodes.items()
        )
        run_id = store.start_run(workflow.name, ids, spec)
        summary = RunSummary(workflow.name, run_id, ids)

        status = store.statuses(ids.values())
        for tid in ids.values():
            if status[tid] != "done" and store.ingest_result_file(tid) == "done":
                status[tid] = "done"
        done = {lb for lb, tid in ids.items() if status[tid] == "done"}
        summary.cached = sorted(done)
        waiting = {
            lb: sum(1 for u in graph.predecessors(lb) if u not in done)
            for lb in nodes
            if lb not in done
        }
        ready = sorted(lb for lb, n in waiting.items() if n == 0)
        outputs: dict[str, Any] = {}
        inflight: dict[Future, str] = {}
        suspects: dict[str, int] = {}
        if self.reporter:
            self.reporter.start(workflow.name, len(nodes), len(done))

        def upstream_output(ref: OutputRef) -> Any:
            label = ref.node.label
            if label not in outputs:
                outputs[label] = store.output(ids[label])
            return ref.resolve(outputs[label])

        def fail(label: str, error: str) -> None:
            summary.failed[label] = error
            dependents = [d for d in nx.descendants(graph, label) if d in waiting]
            for d in dependents:
                waiting.pop(d)
            summary.blocked.extend(sorted(dependents))
            store.mark_many([ids[d] for d in dependents], "blocked", f"upstream {label} failed")

        try:
            while ready or inflight:
                while ready and len(inflight) < self.executor.capacity * self.prefetch:
                    # a task that was in flight when a worker died is re-run alone, so the
                    # crash is pinned on the task that caused it
                    if suspects.keys() & set(inflight.values()):
                        break
                    if ready[0] in suspects and inflight:
                        break
                    label = ready.pop(0)
                    waiting.pop(label, None)
                    tid = ids[label]
                    try:
                        inputs = substitute(nodes[label].inputs, upstream_output)
                    except Exception as exc:  # a bad reference path is a task failure
                        store.mark(tid, "failed", error=str(exc))
                        fail(label, str(exc))
                        continue
                    store.mark_running(tid)
                    fn = nodes[label].fn
                    run = TaskRun(
                        tid,
                        fn.name,
                        label,
                        dumps(inputs),
                        str(store.task_dir(tid)),
                        persist=fn.wants_workdir or self.executor.remote,
                    )
                    inflight[self.executor.submit(run)] = label
                    if self.reporter:
                        self.reporter.task_started(label)
                finished, _ = wait(list(inflight), timeout=self.poll_s, return_when=FIRST_COMPLETED)
                for future in finished:
                    label = inflight.pop(future)
                    result = self._result_of(future, label)
                    if result.get("crashed") and suspects.get(label, 0) == 0:
                        suspects[label] = 1
                        ready.insert(0, label)
                        continue
                    store.record_result(ids[label], result)
                    if result["status"] == "done":
                        summary.done.append(label)
                        done.add(label)
                        outputs[label] = loads(result["outputs"])
                        for d in graph.successors(label):
                            if d in waiting:
                                waiting[d] -= 1
                                if waiting[d] == 0:
                                    ready.append(d)
                    else:
                        fail(label, result.get("error") or "failed")
                    if self.reporter:
                        self.reporter.task_finished(label, result["status"], result.get("error"))
                if self.reporter and inflight:
                    self.reporter.running(
                        {lb: read_progress(store.task_dir(ids[lb])) for lb in inflight.values()}
                    )
        except KeyboardInterrupt:
            self.executor.shutdown(cancel=True)
            for future, label in inflight.items():
                if future.done() and not future.cancelled() and future.exception() is None:
                    store.record_result(ids[label], future.result())
                elif store.ingest_result_file(ids[label]) is None:
                    store.mark(ids[label], "interrupted", error="interrupted by the user")
                    summary.interrupted.append(label)
        finally:
            summary.wall_s = time.perf_counter() - t0
            store.finish_run(run_id, summary.status)
            if self.reporter:
                self.reporter.stop()
        return summary

    def _result_of(self, future: Future, label: str) -> dict[str, Any]:
        try:
            return future.result()
        except BrokenProcessPool:
            return {
                "status": "failed",
                "crashed": True,
                "error": f"the worker process running {label} died (crashed or was "
                "killed); see its task directory for logs",
            }
        except Exception as exc:
            return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def run_workflow(
    workflow: Workflow,
    store: Store | str = "atomflow-store",
    workers: int = 0,
    reporter: Reporter | None = None,
    on_summary: Callable[[RunSummary], None] | None = None,
) -> RunSummary:
    """Convenience: run ``workflow`` locally with ``workers`` processes (0 = inline)."""
    from atomflow.graph.executors import make_executor

    own_store = not isinstance(store, Store)
    st = Store(store) if own_store else store
    executor = make_executor(workers)
    try:
        summary = Engine(st, executor, reporter).run(workflow)
    finally:
        executor.shutdown()
        if own_store:
            st.close()
    if on_summary:
        on_summary(summary)
    return summary
