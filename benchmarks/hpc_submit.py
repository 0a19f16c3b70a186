"""Submissions per task and submit-to-done time for 200 trivial tasks on the local Slurm:
atomflow (job arrays + reconcile) against one ``sbatch`` per task, in one run.

Needs a running Slurm (``bash hpc/ci/start-slurm.sh``; ``SLURM_CI_CPUS=8`` recommended).

    python benchmarks/hpc_submit.py [--n 200]
"""

from __future__ import annotations

import argparse
import subprocess
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
    t0 = time.perf_counter()
    ids = []
    for i in range(n):
        out = subprocess.run(
            [
                "sbatch",
                "--parsable",
                "--job-name",
                f"each{i}",
                "--output",
                str(root / f"{i}.out"),
                "--wrap",
                f"{sys.executable} -c 'print({i})'",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        ids.append(out.stdout.strip().split(";")[0])
    pending = set(ids)
    while pending:
        time.sleep(0.5)
        out = subprocess.run(
            ["squeue", "-h", "-o", "%i", "-j", ",".join(sorted(pending))],
            capture_output=True,
            text=True,
        )
        pending &= set(out.stdout.split())
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
