"""Engine behaviour: caching, failure policy, references, crash recovery."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from tasks_fixture import add, boom, make_dict, noop, touch

from atomflow.graph import Engine, Workflow, WorkflowError, run_workflow
from atomflow.graph.executors import ProcessExecutor
from atomflow.store import Store


def test_references_resolve_through_nested_paths(tmp_path):
    wf = Workflow(name="refs")
    d = wf.add(make_dict(3.0), "d")
    s = wf.add(add(d["nested"]["double"], d["value"]), "s")
    summary = run_workflow(wf, tmp_path / "store")
    assert summary.ok and sorted(summary.done) == ["d", "s"]
    with Store(tmp_path / "store") as st:
        assert st.output(summary.ids["s"]) == 9.0
        assert st.get(summary.ids["s"]).status == "done"
    assert s.label == "s"


def test_second_run_is_fully_cached(tmp_path):
    def build():
        wf = Workflow(name="cache")
        a = wf.add(add(1, 2), "a")
        wf.add(add(a.output, 10), "b")
        return wf

    first = run_workflow(build(), tmp_path / "s")
    second = run_workflow(build(), tmp_path / "s")
    assert first.done == ["a", "b"] and second.done == [] and second.cached == ["a", "b"]
    assert first.ids == second.ids


def test_identity_depends_on_inputs_and_version():
    a1 = Workflow([add(1, 2, label="a")]).identities()["a"]
    a2 = Workflow([add(1, 2.0, label="a")]).identities()["a"]
    a3 = Workflow([add(1, 3, label="a")]).identities()["a"]
    assert a1 == a2  # 2 and 2.0 canonicalise alike
    assert a1 != a3


def test_failure_blocks_dependents_and_unrelated_branch_continues(tmp_path):
    wf = Workflow(name="fail")
    bad = wf.add(boom(1), "bad")
    wf.add(add(bad.output, 1), "child")
    wf.add(add(wf.nodes["child"].output, 1), "grandchild")
    wf.add(add(5, 5), "other")
    summary = run_workflow(wf, tmp_path / "s")
    assert "bad" in summary.failed and "boom at 1" in summary.failed["bad"]
    assert summary.blocked == ["child", "grandchild"]
    assert summary.done == ["other"]
    with Store(tmp_path / "s") as st:
        rec = st.get(summary.ids["bad"])
        assert rec.status == "failed" and "RuntimeError" in rec.traceback
        assert st.get(summary.ids["child"]).status == "blocked"
    # retried on the next run, still failing; the done branch stays cached
    again = run_workflow(wf, tmp_path / "s")
    assert "bad" in again.failed and again.cached == ["other"]


def test_cycles_dangling_refs_and_unknown_tasks_are_rejected():
    spec = {
        "tasks": {
            "a": {"task": "tasks_fixture:add", "inputs": {"a": "@b", "b": 1}},
            "b": {"task": "tasks_fixture:add", "inputs": {"a": "@a", "b": 1}},
        }
    }
    with pytest.raises(WorkflowError, match="cycle"):
        Workflow.from_dict(spec)
    spec = {"tasks": {"a": {"task": "tasks_fixture:add", "inputs": {"a": "@zz", "b": 1}}}}
    with pytest.raises(WorkflowError, match="task 'a' refers to unknown task 'zz'"):
        Workflow.from_dict(spec)
    spec = {"tasks": {"a": {"task": "tasks_fixture:nothing", "inputs": {}}}}
    with pytest.raises(WorkflowError, match="task 'a': unknown task"):
        Workflow.from_dict(spec)
    outside = add(1, 1, label="outside")
    with pytest.raises(WorkflowError, match="not part of workflow"):
        Workflow([add(outside.output, 1, label="inside")]).graph()
    with pytest.raises(WorkflowError, match="missing inputs b"):
        add(1)


def test_declarative_workflow_runs(tmp_path):
    spec = {
        "name": "decl",
        "tasks": {
            "d": {"task": "tasks_fixture:make_dict", "inputs": {"x": 2}},
            "s": {
                "task": "tasks_fixture:add",
                "inputs": {"a": "@d.value", "b": "@d.nested.double"},
            },
        },
    }
    summary = run_workflow(Workflow.from_dict(spec), tmp_path / "s")
    with Store(tmp_path / "s") as st:
        assert st.output(summary.ids["s"]) == 6


def test_process_pool_runs_tasks_and_records_artifacts(tmp_path):
    wf = Workflow([touch(f"f{i}", label=f"t{i}") for i in range(4)], name="pool")
    with Store(tmp_path / "s") as st:
        ex = ProcessExecutor(2)
        try:
            summary = Engine(st, ex, poll_s=0.05).run(wf)
        finally:
            ex.shutdown()
        assert summary.ok and len(summary.done) == 4
        rec = st.get(summary.ids["t0"])
        assert rec.artifacts == ["f0.txt"] and rec.pid != os.getpid()


def test_edited_record_is_detected(tmp_path):
    summary = run_workflow(Workflow([noop(1, label="n")]), tmp_path / "s")
    with Store(tmp_path / "s") as st:
        st._conn.execute(
            "UPDATE tasks SET inputs=? WHERE id=?", (json.dumps({"i": 2}), summary.ids["n"])
        )
        with pytest.raises(Exception, match="does not hash to its key"):
            st.get(summary.ids["n"])


def test_kill_minus_nine_loses_no_completed_result(tmp_path):
    """Kill the runner mid-workflow; finished results survive and the rerun resumes."""
    script = tmp_path / "runner.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from atomflow.graph import Workflow, task, run_workflow
        from tasks_fixture import noop

        wf = Workflow(name="kill")
        for i in range(6):
            wf.add(noop(i), f"n{{i}}")
        wf.add(__import__("slow_fixture").sleepy(wf.nodes["n5"].output), "slow")
        run_workflow(wf, {str(tmp_path / "s")!r}, workers=0)
    """)
    )
    (tmp_path / "slow_fixture.py").write_text(
        textwrap.dedent("""
        import time
        from atomflow.graph import task

        @task()
        def sleepy(x):
            time.sleep(60)
            return x
    """)
    )
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.path.dirname(__file__)}")
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    deadline = time.time() + 60
    db = tmp_path / "s" / "index.sqlite"
    while time.time() < deadline:
        if db.exists():
            with Store(tmp_path / "s") as st:
                runs = st.runs()
                if runs and any(r.status == "running" for _, r in st.run_tasks(runs[0]["id"])):
                    break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Store(tmp_path / "s") as st:
        tasks = dict(st.run_tasks(st.runs()[0]["id"]))
        assert all(tasks[f"n{i}"].status == "done" for i in range(6))
        assert tasks["slow"].status == "running"  # stale: the next run redoes it


def test_worker_crash_fails_only_its_task(tmp_path):
    from tasks_fixture import segfault

    wf = Workflow(name="crash")
    wf.add(segfault(1), "crash")
    for i in range(3):
        wf.add(noop(i), f"ok{i}")
    with Store(tmp_path / "s") as st:
        ex = ProcessExecutor(1)
        try:
            summary = Engine(st, ex, poll_s=0.05).run(wf)
        finally:
            ex.shutdown()
    assert "crash" in summary.failed and "died" in summary.failed["crash"]
    assert sorted(summary.done) == ["ok0", "ok1", "ok2"]


def test_canonical_form_is_idempotent_for_structures():
    """A stored record is re-hashed on read: canonicalising twice must change nothing."""
    import json

    from atomflow.hashing import canonical
    from atomflow.structures.li3n import build_li3n

    once = canonical({"s": build_li3n((2, 2, 2), li_vacancies=1), "x": 119.99999999999999})
    assert canonical(json.loads(json.dumps(once))) == once
    assert once["x"] == 120
