"""Engine overhead: 10,000 no-op tasks as a fan-out and as a chain, atomflow vs jobflow.

Prints per-task overhead and the ratio measured side by side in this one run.
Needs the benchmark extra: ``pip install -e .[bench]`` (jobflow).

    python benchmarks/engine.py [--n 10000] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_tasks import af_noop

from atomflow.graph import Engine, Workflow
from atomflow.graph.executors import make_executor
from atomflow.store import Store


def atomflow_graph(n: int, shape: str) -> Workflow:
    wf = Workflow(name=f"bench-{shape}")
    if shape == "fanout":
        root = wf.add(af_noop(0), "root")
        for i in range(1, n):
            wf.add(af_noop(root.output, i), f"t{i}")
    else:
        prev = wf.add(af_noop(0), "t0")
        for i in range(1, n):
            prev = wf.add(af_noop(prev.output, i), f"t{i}")
    return wf


def time_atomflow(n: int, shape: str, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        wf = atomflow_graph(n, shape)
        t0 = time.perf_counter()
        with Store(Path(tmp) / "store") as st:
            ex = make_executor(workers)
            try:
                summary = Engine(st, ex, poll_s=0.01).run(wf)
            finally:
                ex.shutdown()
        dt = time.perf_counter() - t0
        assert summary.ok and len(summary.done) == n, summary.failed
    return dt


def time_jobflow(n: int, shape: str) -> float | None:
    try:
        from bench_tasks import jf_noop
        from jobflow import Flow
        from jobflow.managers.local import run_locally
    except ImportError:
        return None
    if shape == "fanout":
        root = jf_noop(0)
        jobs = [root] + [jf_noop(root.output, i) for i in range(1, n)]
    else:
        jobs = [jf_noop(0)]
        for i in range(1, n):
            jobs.append(jf_noop(jobs[-1].output, i))
    flow = Flow(jobs)
    t0 = time.perf_counter()
    run_locally(flow, log=False, ensure_success=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=0, help="0 = inline (engine overhead)")
    parser.add_argument(
        "--compare-n",
        type=int,
        default=2000,
        help="graph size for the side-by-side jobflow comparison (jobflow's "
        "chain cost grows faster than linearly)",
    )
    args = parser.parse_args()
    print(f"== atomflow alone: {args.n} no-op tasks, SQLite store, workers={args.workers}")
    for shape in ("fanout", "chain"):
        af = time_atomflow(args.n, shape, args.workers)
        print(
            f"{shape:8s} {af:8.2f} s  {af / args.n * 1e6:6.0f} µs/task  "
            f"target < 10 s: {'yes' if af < 10 else 'NO'}"
        )
    n = args.compare_n
    print(f"== side by side at {n} tasks (workers={args.workers})")
    print(f"{'shape':8s} {'atomflow s':>11s} {'jobflow s':>10s} {'jobflow/atomflow':>17s}")
    for shape in ("fanout", "chain"):
        af = time_atomflow(n, shape, args.workers)
        jf = time_jobflow(n, shape)
        if jf is None:
            print(f"{shape:8s} {af:11.2f}  jobflow not installed (pip install -e .[bench])")
        else:
            print(f"{shape:8s} {af:11.2f} {jf:10.2f} {jf / af:17.1f}")
    print("targets: atomflow < 10 s for 10,000 tasks; jobflow/atomflow >= 10")


if __name__ == "__main__":
    main()
