"""Local executors: inline (workers=0) and a process pool (workers>=1).

An executor only runs :class:`TaskRun` objects and hands back futures; scheduling, caching
and failure policy stay in the engine. HPC executors live in ``atomflow.hpc``.
"""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Protocol

from atomflow.graph.worker import TaskRun, execute


class Executor(Protocol):
    """What the engine needs from an executor."""

    capacity: int

    def submit(self, run: TaskRun) -> Future: ...

    def shutdown(self, cancel: bool = False) -> None: ...


class InlineExecutor:
    """Run each task in the calling process, one at a time (debugging, tiny tasks)."""

    capacity = 1

    def submit(self, run: TaskRun) -> Future:
        future: Future = Future()
        future.set_result(execute(run))
        return future

    def shutdown(self, cancel: bool = False) -> None:
        return None


class ProcessExecutor:
    """Run tasks in a pool of worker processes started by a fork server.

    Each worker is a fresh interpreter (no inherited threads or SQLite handles), so a task
    that crashes its process (a segfault in a native library) fails alone.
    """

    def __init__(self, workers: int = 2):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.capacity = workers
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["atomflow.graph.worker"])
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)

    def submit(self, run: TaskRun) -> Future:
        return self._pool.submit(execute, run)

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            processes = list((self._pool._processes or {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for proc in processes:
                if proc.is_alive():
                    proc.terminate()
            for proc in processes:
                proc.join(timeout=10)
        else:
            self._pool.shutdown(wait=True)


def make_executor(workers: int) -> Executor:
    """``workers=0`` runs inline; otherwise a process pool of that size."""
    return InlineExecutor() if workers == 0 else ProcessExecutor(workers)
