"""Tasks run from files (as on compute nodes): references resolved from result.json files."""

import json
import subprocess
import sys
from pathlib import Path

from tasks_fixture import add, make_dict

from atomflow.graph import Workflow
from atomflow.graph.filetask import run_task_file, write_task_file
from atomflow.store import Store


def test_chain_runs_from_task_files_and_engine_ingests_results(tmp_path):
    wf = Workflow(name="files")
    d = wf.add(make_dict(2.0), "d")
    wf.add(add(d["nested"]["double"], d["value"]), "s")
    ids = wf.identities()
    root = tmp_path / "store"
    for label, node in wf.nodes.items():
        write_task_file(root, ids[label], node, ids)
    # downstream before upstream: a clear failure, nothing run
    early = run_task_file(root, ids["s"])
    assert early["status"] == "failed" and "has not finished" in early["error"]
    env_path = str(Path(__file__).parent)
    for label in ("d", "s"):
        proc = subprocess.run(
            [sys.executable, "-m", "atomflow.graph.filetask", str(root), ids[label]],
            env={"PYTHONPATH": env_path, "PATH": ""},
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
    result = json.loads((root / "tasks" / ids["s"][:2] / ids["s"] / "result.json").read_text())
    assert result["status"] == "done" and json.loads(result["outputs"]) == 6.0
    # the engine then finds both results on disk: nothing to run
    from atomflow.graph import run_workflow

    summary = run_workflow(wf, root)
    assert summary.done == [] and summary.cached == ["d", "s"]
    with Store(root) as st:
        assert st.output(ids["s"]) == 6.0
