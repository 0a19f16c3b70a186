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
    #: True when tasks run outside this process tree (HPC): every result goes through files.
    remote: bool

    def submit(self, run: TaskRun) -> Future: ...

    def shutdown(self, cancel: bool = False) -> None: ...


class InlineExecutor:
    """Run each task in the calling process, one at a time (debugging, tiny tasks)."""

    capacity = 1
    remote = False

    def submit(self, run: TaskRun) -> Future:
        future: Future = Future()
        future.set_result(execute(run))
        return future

    def shutdown(self, cancel: bool = False) -> None:
        return None


def _warm() -> int:
    return 0


class ProcessExecutor:
    """Run tasks in a pool of forked worker processes.

    Workers are forked once, here, before any progress-display thread exists, so user
    scripts need no ``if __name__ == "__main__"`` guard (a spawn or fork-server start would
    re-import them). A task that crashes its worker (a segfault in a native library) is
    reported as failed by the engine.
    """

    def __init__(self, workers: int = 2):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.capacity = workers
        self.remote = False
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(max_workers=self.capacity, mp_context=mp.get_context("fork"))
        pool.submit(_warm).result()  # fork all workers now
        return pool

    def submit(self, run: TaskRun) -> Future:
        if getattr(self._pool, "_broken", False):  # a worker died: start a fresh pool
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
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
                if proc.is_alive():  # MD defers SIGTERM to its next restart point
                    proc.kill()
                    proc.join(timeout=5)
        else:
            self._pool.shutdown(wait=True)


def make_executor(workers: int) -> Executor:
    """``workers=0`` runs inline; otherwise a process pool of that size."""
    return InlineExecutor() if workers == 0 else ProcessExecutor(workers)
