"""Run a workflow on a batch scheduler: plan job arrays, submit with native dependencies,
and reconcile the store with what the scheduler and the task files say.

No daemon: ``submit`` returns once every runnable task is queued. ``reconcile`` (what
``atomflow status`` and ``--wait`` call) asks the scheduler once for all jobs, indexes the
``result.json`` files that compute jobs left, marks failures and their dependents, cancels
jobs whose dependency can never be met, and (re)submits tasks that became runnable again —
for example an MD task that stopped at its walltime warning with a restart file (exit 99).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import networkx as nx

from atomflow.graph.filetask import write_task_file
from atomflow.graph.workflow import Workflow
from atomflow.store.sqlite_store import RESULT_FILE, Store

#: Scheduler states (as mapped by the scheduler modules) after which a job will not run again.
TERMINAL = {"done", "failed", "timeout", "out_of_memory", "node_fail", "cancelled"}
ACTIVE = {"pending", "running"}
MAX_REQUEUES = 50


class Scheduler(Protocol):
    """What the workflow layer needs from a scheduler module."""

    name: str

    def submit(self, script: Path, dependencies: list[str] = ()) -> str: ...

    def query(self, job_ids: Iterable[str]) -> dict[str, str]: ...

    def cancel(self, job_ids: Iterable[str]) -> None: ...


@dataclass(frozen=True)
class ArrayJob:
    """One submission: a task list run as an array (or a single task when it has one line)."""

    name: str
    store: Path
    task_list: Path
    size: int
    task_name: str
    dependencies: tuple[str, ...] = ()

    def command(self, index_expr: str) -> list[str]:
        """argv of one element; ``index_expr`` is the scheduler's 0-based index expression."""
        return [
            sys.executable,
            "-m",
            "atomflow.graph.filetask",
            str(self.store),
            "--list",
            str(self.task_list),
            "--index",
            index_expr,
        ]


#: Writes the job script for an ArrayJob and returns its path (templates + site profile).
ScriptWriter = Callable[[ArrayJob], Path]


@dataclass
class Plan:
    """Groups of task labels, each one submission, in an order that respects dependencies."""

    groups: list[list[str]] = field(default_factory=list)


def plan_arrays(wf: Workflow, runnable: set[str]) -> Plan:
    """Pack runnable tasks into arrays: same function and same depth in the graph."""
    g = wf.graph().subgraph(runnable)
    plan = Plan()
    for generation in nx.topological_generations(g):
        by_name: dict[str, list[str]] = defaultdict(list)
        for label in sorted(generation):
            by_name[wf.nodes[label].fn.name].append(label)
        plan.groups.extend(by_name.values())
    return plan


def _element_id(array_id: str, index: int, size: int) -> str:
    return array_id if size == 1 else f"{array_id}_{index}"


@dataclass
class ReconcileReport:
    """Counts by state after a reconcile, and what was (re)submitted."""

    states: dict[str, int]
    submitted_jobs: int
    submitted_tasks: int

    @property
    def finished(self) -> bool:
        return not any(
            self.states.get(s, 0) for s in ("pending", "submitted", "running", "interrupted")
        )

    @property
    def ok(self) -> bool:
        return self.finished and not self.states.get("failed") and not self.states.get("blocked")


def reconcile(
    wf: Workflow,
    store: Store,
    scheduler: Scheduler,
    write_script: ScriptWriter,
    submit: bool = True,
) -> ReconcileReport:
    """Bring the store up to date with the scheduler and submit whatever can run next."""
    graph = wf.graph()
    ids = wf.identities()
    nodes = wf.nodes
    store.register_many(
        (ids[lb], n.fn.name, n.fn.version, lb, wf.identity_inputs(lb, ids))
        for lb, n in nodes.items()
    )
    status = store.statuses(ids.values())
    for tid, st in status.items():
        if st != "done":
            got = store.ingest_result_file(tid)
            if got:
                status[tid] = got

    jobs = store.latest_jobs(ids.values())
    watched = {j["job_id"] for tid, j in jobs.items() if status[tid] in ("submitted", "running")}
    states = scheduler.query(sorted(watched)) if watched else {}
    store.set_job_states(states)
    stuck = []
    for tid in ids.values():
        if status[tid] not in ("submitted", "running"):
            continue
        job = jobs[tid]
        state = states.get(job["job_id"], "unknown")
        if state == "running":
            status[tid] = "running"
            store.mark(tid, "running")
        elif state == "blocked":  # dependency can never be satisfied: cancel, decide below
            stuck.append(job["job_id"])
            status[tid] = "pending"
            store.mark(tid, "pending", error="dependency failed; job cancelled")
        elif state in TERMINAL or state == "unknown":
            # the job ended and left no result.json (ingested above otherwise)
            if state == "cancelled" or state == "unknown":
                status[tid] = "pending"
                store.mark(tid, "pending", error=f"job {job['job_id']} {state} without result")
            else:
                status[tid] = "failed"
                store.mark(tid, "failed", error=f"job {job['job_id']} ended: {state.upper()}")
    if scheduler.name == "sge":
        # a failed Grid Engine job waits in the error state (Eqw) until it is deleted
        stuck += [job_id for job_id, state in states.items() if state == "failed"]
    if stuck:
        scheduler.cancel(sorted(set(stuck)))

    # failures block their dependents; interrupted tasks are retried up to a limit
    for tid in ids.values():
        if status[tid] == "interrupted" and store.get(tid).attempts > MAX_REQUEUES:
            status[tid] = "failed"
            store.mark(tid, "failed", error=f"requeued more than {MAX_REQUEUES} times")
    failed = [lb for lb, tid in ids.items() if status[ids[lb]] in ("failed", "blocked")]
    for label in failed:
        for d in nx.descendants(graph, label):
            if status[ids[d]] in ("pending", "interrupted", "submitted"):
                status[ids[d]] = "blocked"
                store.mark(ids[d], "blocked", error=f"upstream {label} failed")

    n_jobs = n_tasks = 0
    if submit:
        active = {lb for lb, tid in ids.items() if status[tid] in ("submitted", "running")}
        waiting = {lb for lb, tid in ids.items() if status[tid] in ("pending", "interrupted")}
        runnable = {
            lb
            for lb in waiting
            if all(
                status[ids[u]] == "done" or u in active or u in waiting
                for u in graph.predecessors(lb)
            )
        }
        job_of = {lb: jobs[ids[lb]]["job_id"] for lb in active if ids[lb] in jobs}
        for group in plan_arrays(wf, runnable).groups:
            deps = sorted(
                {job_of[u] for lb in group for u in graph.predecessors(lb) if u in job_of}
            )
            for lb in group:
                # a stale result.json (an interrupted attempt) must not be read as the outcome
                (store.task_dir(ids[lb]) / RESULT_FILE).unlink(missing_ok=True)
                write_task_file(store.root, ids[lb], nodes[lb], ids)
            job = _array_job(store, wf, group, ids, tuple(deps))
            array_id = scheduler.submit(write_script(job), list(deps))
            store.record_jobs(
                scheduler.name,
                [
                    (ids[lb], _element_id(array_id, i, len(group)), i if len(group) > 1 else None)
                    for i, lb in enumerate(group)
                ],
            )
            for i, lb in enumerate(group):
                job_of[lb] = _element_id(array_id, i, len(group))
                status[ids[lb]] = "submitted"
            n_jobs += 1
            n_tasks += len(group)

    counts: dict[str, int] = defaultdict(int)
    for tid in ids.values():
        counts[status[tid]] += 1
    return ReconcileReport(dict(counts), n_jobs, n_tasks)


def _array_job(
    store: Store, wf: Workflow, group: list[str], ids: dict[str, str], deps: tuple[str, ...]
) -> ArrayJob:
    first = ids[group[0]]
    listing = store.root / "hpc" / f"{wf.name}-{first[:12]}.tasks"
    listing.parent.mkdir(parents=True, exist_ok=True)
    listing.write_text("\n".join(ids[lb] for lb in group) + "\n")
    short = wf.nodes[group[0]].fn.func.__name__
    return ArrayJob(
        name=f"{wf.name}-{short}",
        store=store.root,
        task_list=listing,
        size=len(group),
        task_name=wf.nodes[group[0]].fn.name,
        dependencies=deps,
    )
