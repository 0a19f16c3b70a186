"""Ctrl-C stops a run cleanly: running tasks are marked interrupted, finished ones kept."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from atomflow.store import Store


def _write_tasks(tmp_path) -> None:
    (tmp_path / "sleepy_tasks.py").write_text(
        textwrap.dedent("""
        import time
        from atomflow.graph import task

        @task()
        def nap(seconds: float, i: int):
            time.sleep(seconds)
            return i
    """)
    )


def _wait_until(tmp_path, running: int, done: bool) -> None:
    """Poll the store until ``running`` tasks run (and one is done, if ``done``)."""
    deadline = time.time() + 60
    while time.time() < deadline:
        if (tmp_path / "s" / "index.sqlite").exists():
            with Store(tmp_path / "s") as st:
                runs = st.runs()
                states = [r.status for _, r in st.run_tasks(runs[0]["id"])] if runs else []
            if states.count("running") == running and (not done or "done" in states):
                return
        time.sleep(0.2)


def test_sigint_stops_cleanly_and_rerun_resumes(tmp_path):
    _write_tasks(tmp_path)
    (tmp_path / "runner.py").write_text(
        textwrap.dedent(f"""
        import signal
        import sys
        from atomflow.graph import Workflow, run_workflow
        from sleepy_tasks import nap

        # a terminal's foreground process has Ctrl-C's default handler; a test suite started
        # in the background (`make test &`) passes SIGINT down as ignored, so restore it
        signal.signal(signal.SIGINT, signal.default_int_handler)
        seconds = float(sys.argv[1])
        wf = Workflow(name="naps")
        wf.add(nap(0.0, 0), "quick")
        for i in range(1, 3):
            wf.add(nap(seconds, i), f"slow{{i}}")
        try:
            s = run_workflow(wf, {str(tmp_path / "s")!r}, workers=2)
        except KeyboardInterrupt:
            sys.exit(99)
        print("STATUS", s.status, sorted(s.interrupted), sorted(s.done), sorted(s.cached))
        sys.exit(0 if s.ok else 3)
    """)
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "runner.py", "30"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _wait_until(tmp_path, running=2, done=True)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3, out
    assert "STATUS interrupted ['slow1', 'slow2'] ['quick']" in out
    with Store(tmp_path / "s") as st:
        tasks = dict(st.run_tasks(st.runs()[0]["id"]))
        assert tasks["quick"].status == "done"
        assert tasks["slow1"].status == "interrupted"
    # the workflow with short naps now: different identities for slow tasks, quick is cached
    rerun = subprocess.run(
        [sys.executable, "runner.py", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0 and "['quick']" in rerun.stdout.split("]", 2)[2]


def test_sigterm_to_the_engine_alone_stops_its_workers_too(tmp_path):
    """``kill PID`` (SIGTERM to the engine only, as a batch system or a user sends it) is an
    interrupt like Ctrl-C: the running tasks are marked interrupted and no worker is left
    behind to finish them."""
    _write_tasks(tmp_path)
    (tmp_path / "runner.py").write_text(
        textwrap.dedent(f"""
        import sys
        from atomflow.graph import Workflow, run_workflow
        from sleepy_tasks import nap

        wf = Workflow(name="naps")
        for i in range(2):
            wf.add(nap(60.0, i), f"slow{{i}}")
        s = run_workflow(wf, {str(tmp_path / "s")!r}, workers=2)
        print("STATUS", s.status, sorted(s.interrupted))
        sys.exit(0 if s.ok else 3)
    """)
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "runner.py"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    _wait_until(tmp_path, running=2, done=False)
    children = subprocess.run(
        ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
    ).stdout.split()
    assert len(children) >= 2  # the pool's workers
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3 and "STATUS interrupted ['slow0', 'slow1']" in out, out
    time.sleep(0.5)
    alive = [pid for pid in children if os.path.exists(f"/proc/{pid}")]
    assert not alive, f"workers {alive} outlived their engine"
