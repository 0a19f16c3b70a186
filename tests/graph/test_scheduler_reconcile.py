"""Workflow → job arrays with dependencies → reconcile, against an in-process fake scheduler.

The real-scheduler tests (Slurm, Grid Engine) live in tests/hpc; this one checks the
planning and bookkeeping logic on its own: array packing, dependency ids, failures that
block dependents, and requeue of an interrupted task.
"""

import subprocess
from pathlib import Path

from tasks_fixture import add, boom, noop

from atomflow.graph import Workflow
from atomflow.hpc.workflow_jobs import ArrayJob, plan_arrays, reconcile
from atomflow.store import Store

HERE = str(Path(__file__).parent)


class FakeScheduler:
    """Runs each array element when its dependencies are done; records everything."""

    name = "fake"

    def __init__(self):
        self.jobs: dict[str, str] = {}
        self.submissions: list[tuple[ArrayJob, list[str]]] = []
        self.cancelled: list[str] = []
        self._pending: list[tuple[str, ArrayJob, list[str]]] = []

    def write_script(self, job: ArrayJob) -> Path:
        self._last_job = job
        return job.task_list

    def submit(self, script, dependencies=()):
        job = self._last_job
        array_id = str(100 + len(self.submissions))
        self.submissions.append((job, list(dependencies)))
        for i in range(job.size):
            self.jobs[array_id if job.size == 1 else f"{array_id}_{i}"] = "pending"
        self._pending.append((array_id, job, list(dependencies)))
        return array_id

    def run_all(self):
        """Drain the queue like a scheduler would: afterok semantics."""
        progress = True
        while progress:
            progress = False
            for entry in list(self._pending):
                array_id, job, deps = entry
                dep_states = [self.jobs[d] for d in deps]
                if any(s == "failed" for s in dep_states):
                    for key in self._keys(array_id, job):
                        self.jobs[key] = "blocked"  # what squeue shows: DependencyNeverSatisfied
                    self._pending.remove(entry)
                    continue
                if all(s == "done" for s in dep_states):
                    for i, key in enumerate(self._keys(array_id, job)):
                        rc = subprocess.run(
                            job.command(str(i)), env={"PYTHONPATH": HERE, "PATH": ""}
                        ).returncode
                        self.jobs[key] = "done" if rc == 0 else "failed"
                    self._pending.remove(entry)
                    progress = True

    @staticmethod
    def _keys(array_id, job):
        return [array_id] if job.size == 1 else [f"{array_id}_{i}" for i in range(job.size)]

    def query(self, job_ids):
        return {j: self.jobs[j] for j in job_ids}

    def cancel(self, job_ids):
        self.cancelled.extend(job_ids)
        for j in job_ids:
            self.jobs[j] = "cancelled"


def fanout():
    wf = Workflow(name="fan")
    root = wf.add(noop(0), "root")
    for i in range(8):
        wf.add(add(root.output, i), f"leaf{i}")
    wf.add(add(wf.nodes["leaf0"].output, wf.nodes["leaf7"].output), "join")
    return wf


def test_independent_tasks_of_one_shape_become_one_array():
    plan = plan_arrays(fanout(), set(fanout().nodes))
    assert [len(g) for g in plan.groups] == [1, 8, 1]


def test_submit_run_reconcile(tmp_path):
    wf = fanout()
    sched = FakeScheduler()
    with Store(tmp_path / "s") as st:
        first = reconcile(wf, st, sched, sched.write_script)
        assert first.submitted_jobs == 3 and first.submitted_tasks == 10
        # dependencies: leaves wait on root's job, join on the two leaves' array elements
        assert sched.submissions[1][1] == ["100"]
        assert sched.submissions[2][1] == ["101_0", "101_7"]
        sched.run_all()
        final = reconcile(wf, st, sched, sched.write_script)
        assert final.ok and final.submitted_jobs == 0
        assert st.output(wf.identities()["join"]) == 7


def test_failure_blocks_dependents_and_cancels_their_jobs(tmp_path):
    wf = Workflow(name="bad")
    b = wf.add(boom(1), "bad")
    wf.add(add(b.output, 1), "child")
    wf.add(noop(3), "other")
    sched = FakeScheduler()
    with Store(tmp_path / "s") as st:
        reconcile(wf, st, sched, sched.write_script)
        sched.run_all()
        report = reconcile(wf, st, sched, sched.write_script)
        ids = wf.identities()
        assert st.get(ids["bad"]).status == "failed"
        assert st.get(ids["child"]).status == "blocked"
        assert st.get(ids["other"]).status == "done"
        assert report.finished and not report.ok
        assert sched.cancelled  # the child's job, stuck on a failed dependency
