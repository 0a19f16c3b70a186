"""Submissions per task and submit-to-done time for 200 trivial tasks on the local Slurm:
atomflow (job arrays + reconcile) against one ``sbatch`` per task, in one run.

Needs a running Slurm (``bash hpc/ci/start-slurm.sh``; ``SLURM_CI_CPUS=8`` recommended).

    python benchmarks/hpc_submit.py [--n 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_tasks import af_noop

from atomflow.graph import Workflow
from atomflow.hpc.backend import make_backend
from atomflow.hpc.workflow_jobs import reconcile
from atomflow.store import Store


def run_atomflow(n: int, root: Path) -> tuple[int, float]:
    wf = Workflow([af_noop(None, i, label=f"t{i}") for i in range(n)], name="bench")
    backend = make_backend("local-slurm", "slurm")
    backend.env = {"PYTHONPATH": str(Path(__file__).parent)}  # where bench_tasks lives
    submissions = 0
    t0 = time.perf_counter()
    with Store(root / "store") as st:
        report = reconcile(wf, st, backend.scheduler, backend.write_script)
        submissions += report.submitted_jobs
        while not report.finished:
            time.sleep(0.5)
            report = reconcile(wf, st, backend.scheduler, backend.write_script)
            submissions += report.submitted_jobs
        assert report.ok, report.states
    return submissions, time.perf_counter() - t0


def run_sbatch_each(n: int, root: Path) -> tuple[int, float]:
    """The same tasks, the same command per task, but one ``sbatch`` each (no arrays)."""
    from atomflow.graph.filetask import write_task_file
    from atomflow.hpc.workflow_jobs import ArrayJob

    wf = Workflow([af_noop(None, i, label=f"e{i}") for i in range(n)], name="each")
    ids = wf.identities()
    backend = make_backend("local-slurm", "slurm")
    backend.env = {"PYTHONPATH": str(Path(__file__).parent)}
    store = root / "store"
    lists = root / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    jobs = []
    for label, node in wf.nodes.items():
        write_task_file(store, ids[label], node, ids)
        listing = lists / f"{label}.tasks"
        listing.write_text(ids[label] + "\n")
        job = ArrayJob(f"each-{label}", store, listing, 1, node.fn.name)
        jobs.append(backend.scheduler.submit(backend.write_script(job)))
    pending = set(jobs)
    while pending:
        time.sleep(0.5)
        states = backend.scheduler.query(sorted(pending))
        pending = {j for j, s in states.items() if s in ("pending", "running", "unknown")}
    done = sum((store / "tasks" / t[:2] / t / "result.json").exists() for t in ids.values())
    assert done == n, f"only {done} of {n} tasks left a result"
    return n, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        root = Path(tmp)
        (root / "each").mkdir()
        af_sub, af_t = run_atomflow(args.n, root)
        each_sub, each_t = run_sbatch_each(args.n, root / "each")
    print(f"{args.n} trivial tasks on the local Slurm")
    print(f"{'':24s} {'submissions':>11s} {'per task':>9s} {'submit→done s':>14s}")
    print(f"{'atomflow (arrays)':24s} {af_sub:11d} {af_sub / args.n:9.3f} {af_t:14.1f}")
    print(f"{'one sbatch per task':24s} {each_sub:11d} {each_sub / args.n:9.3f} {each_t:14.1f}")
    print(f"speed-up (time): {each_t / af_t:.2f}x; submissions: {each_sub / af_sub:.0f}x fewer")


if __name__ == "__main__":
    main()
