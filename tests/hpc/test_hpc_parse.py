"""Scheduler output parsers on captured text, and the Scheduler classes on a fake runner.

The fake runner records every argv: ``query`` must ask the scheduler once per poll (plus
one accounting call only for jobs the queue has forgotten).
"""

from pathlib import Path

import pytest

from atomflow.hpc.schedulers import get_scheduler, lsf, pbs, sge, slurm
from atomflow.hpc.schedulers.base import CommandResult, Scheduler, compress, overall

DATA = Path(__file__).parent / "data"


def text(name: str) -> str:
    return (DATA / name).read_text()


class FakeRunner:
    """Answers argv by its first word (and a substring), records every call."""

    def __init__(self, answers: dict[str, CommandResult]):
        self.answers = answers
        self.calls: list[list[str]] = []
        self.stdin: list[str | None] = []

    def __call__(self, argv, stdin=None):
        self.calls.append(list(argv))
        self.stdin.append(stdin)
        joined = " ".join(argv)
        for key in sorted(self.answers, key=len, reverse=True):
            if joined.startswith(key):
                return self.answers[key]
        return CommandResult(0, "")


# --- Slurm ----------------------------------------------------------------------------------


def test_slurm_squeue_real_capture():
    jobs = slurm.parse_squeue(text("slurm_squeue.txt"))
    states = {k: v.state for k, v in jobs.items()}
    assert states["2"] == "done"
    assert states["3"] == "failed"
    assert states["6"] == "cancelled"
    assert states["4"] == "blocked"  # PENDING, Reason=DependencyNeverSatisfied
    assert [states[f"5_{i}"] for i in range(4)] == ["done", "done", "failed", "done"]
    assert slurm.raw_ids(text("slurm_squeue.txt"))["5_2"] == "10"


def test_slurm_squeue_every_state():
    states = {k: v.state for k, v in slurm.parse_squeue(text("slurm_squeue_states.txt")).items()}
    assert states == {
        "20": "timeout",
        "21": "out_of_memory",
        "22": "node_fail",
        "23": "running",
        "24": "pending",  # waiting on a dependency that may still succeed
        "25": "pending",
        "26": "running",
        "27_0": "pending",
        "27_1": "running",
        "29": "cancelled",
        "30": "node_fail",
    }


def test_slurm_sacct_completion_log_and_dbd():
    c = slurm.parse_sacct(text("slurm_sacct_c.txt"))
    assert c["3"].state == "failed" and c["3"].exit_code == 3
    assert c["10"].state == "failed" and c["6"].state == "cancelled"
    d = slurm.parse_sacct(text("slurm_sacct_dbd.txt"))
    assert {k: v.state for k, v in d.items()} == {
        "40": "done",
        "41": "timeout",
        "42": "out_of_memory",
        "43": "cancelled",  # "CANCELLED by 0"
        "44_0": "done",
        "44_1": "failed",
        "44_2": "node_fail",
        "47": "failed",
    }
    assert d["44_1"].exit_code == 99 and d["43"].exit_code == 128 + 15


def test_slurm_scontrol_records():
    jobs = slurm.parse_scontrol(text("slurm_scontrol.txt"))
    assert jobs["3"].state == "failed" and jobs["3"].exit_code == 3
    assert jobs["4"].state == "blocked"
    assert jobs["5_2"].state == "failed"  # ArrayJobId=5 ArrayTaskId=2


def test_slurm_query_is_one_squeue_call_for_all_jobs():
    run = FakeRunner({"squeue": CommandResult(0, text("slurm_squeue.txt"))})
    sched = slurm.Slurm(run)
    states = sched.query(["2", "3", "4", "5_0", "5_2", "5"])
    assert len(run.calls) == 1 and run.calls[0][0] == "squeue"
    assert "-r" in run.calls[0] and "all" in run.calls[0]
    assert states == {
        "2": "done",
        "3": "failed",
        "4": "blocked",
        "5_0": "done",
        "5_2": "failed",
        "5": "failed",  # an array asked for as a whole: its worst finished element
    }


def test_slurm_falls_back_to_sacct_c_for_forgotten_jobs():
    run = FakeRunner(
        {
            "squeue": CommandResult(0, "5_2|10|RUNNING|None\n"),
            "sacct -X": CommandResult(1, "", "sacct: error: Slurm accounting storage is disabled"),
            "sacct -c": CommandResult(0, text("slurm_sacct_c.txt")),
        }
    )
    sched = slurm.Slurm(run)
    assert sched.query(["5_2"]) == {"5_2": "running"}  # learns 5_2 is raw job 10
    run.answers["squeue"] = CommandResult(1, "", "slurm_load_jobs error: Invalid job id specified")
    assert sched.query(["3", "5_2", "99"]) == {"3": "failed", "5_2": "failed", "99": "unknown"}
    words = [c[:2] for c in run.calls]
    assert words == [["squeue", "-h"], ["squeue", "-h"], ["sacct", "-X"], ["sacct", "-c"]]
    sched.query(["3"])  # accounting mode remembered: straight to sacct -c
    assert [c[:2] for c in run.calls[-2:]] == [["squeue", "-h"], ["sacct", "-c"]]


def test_slurm_submit_and_cancel_argv(tmp_path):
    run = FakeRunner({"sbatch": CommandResult(0, "42;cluster\n")})
    sched = slurm.Slurm(run)
    assert isinstance(sched, Scheduler)
    assert sched.submit(tmp_path / "job.sh", ["7", "8_1"]) == "42"
    assert run.calls[0] == [
        "sbatch",
        "--parsable",
        "--dependency=afterok:7:8_1",
        str(tmp_path / "job.sh"),
    ]
    sched.cancel(["42", "8_1"])
    assert run.calls[1] == ["scancel", "42", "8_1"]
    with pytest.raises(ValueError):
        sched.cancel(["1; rm -rf /"])


# --- Grid Engine ----------------------------------------------------------------------------


def test_sge_qstat_xml_real_capture():
    jobs = sge.parse_qstat_xml(text("sge_qstat.xml"))
    states = {k: v.state for k, v in jobs.items()}
    assert states["6_0"] == "running" and states["6_1"] == "running"  # tasks 1, 2
    assert states["6_2"] == "pending"  # task 3, 1-based → element 2
    assert states["2"] == "failed"  # Eqw: the script exited 100
    assert states["3"] == "pending" and jobs["3"].raw_state == "hqw"


def test_sge_pending_task_range_is_expanded():
    xml = (
        "<job_info><job_info><job_list state='pending'><JB_job_number>9</JB_job_number>"
        "<state>qw</state><tasks>2-6:2</tasks></job_list></job_info></job_info>"
    )
    assert sorted(sge.parse_qstat_xml(xml)) == ["9_1", "9_3", "9_5"]


def test_sge_predecessors_and_blocked():
    preds = sge.parse_predecessors(text("sge_qstat_j.txt"))
    assert preds["3"] == ["2"] and preds["2"] == []
    known = sge.parse_qstat_xml(text("sge_qstat.xml"))
    assert sge.blocked_ids(known, preds) == {"3"}


def test_sge_qacct():
    jobs = sge.parse_qacct(text("sge_qacct.txt"))
    assert jobs["1"].state == "done"
    assert [jobs[f"4_{i}"].state for i in range(4)] == ["done"] * 4
    assert jobs["5"].state == "cancelled"  # qdel of a running job: failed 100, exit 137
    assert sge._qacct_state("37  : qmaster enforced h_rt, h_cpu, or h_vmem limit", 137) == (
        "timeout"
    )
    assert sge._qacct_state("0", 3) == "failed"


def test_sge_query_blocked_then_qacct_for_finished():
    run = FakeRunner(
        {
            "qstat -xml": CommandResult(0, text("sge_qstat.xml")),
            "qstat -j": CommandResult(0, text("sge_qstat_j.txt")),
            "qacct -j 4": CommandResult(0, text("sge_qacct.txt")),
        }
    )
    states = sge.GridEngine(run).query(["2", "3", "6_0", "6_2", "4_1"])
    assert states == {
        "2": "failed",
        "3": "blocked",
        "6_0": "running",
        "6_2": "pending",
        "4_1": "done",
    }
    assert [c[:2] for c in run.calls] == [["qstat", "-xml"], ["qstat", "-j"], ["qacct", "-j"]]


def test_sge_submit_parses_array_id_and_holds_on_arrays(tmp_path):
    run = FakeRunner({"qsub": CommandResult(0, "12.1-4:1\n")})
    sched = get_scheduler("sge", run)
    assert sched.submit(tmp_path / "a.sh", ["7_0", "7_3", "8"]) == "12"
    assert run.calls[0] == ["qsub", "-terse", "-hold_jid", "7,8", str(tmp_path / "a.sh")]
    assert sge.cancel_argvs(["12", "13_0"]) == [["qdel", "12"], ["qdel", "13", "-t", "1"]]


# --- PBS ------------------------------------------------------------------------------------


def test_pbs_qstat_f():
    jobs = pbs.parse_qstat_f(text("pbs_qstat_f.txt"))
    states = {k: v.state for k, v in jobs.items()}
    assert states == {
        "1001.pbs01": "done",
        "1002.pbs01": "timeout",
        "1003.pbs01": "out_of_memory",
        "1004.pbs01": "failed",
        "1005.pbs01": "cancelled",
        "1006.pbs01": "running",
        "1006.pbs01_0": "done",
        "1006.pbs01_1": "running",
        "1006.pbs01_2": "pending",
        "1007.pbs01": "pending",
        "1008.pbs01": "node_fail",
    }


def test_pbs_ids_submit_and_query(tmp_path):
    assert pbs.native_id("1006.pbs01_2") == "1006[2].pbs01"
    assert pbs.atomflow_id("1006[2].pbs01") == "1006.pbs01_2"
    run = FakeRunner(
        {
            "qsub": CommandResult(0, "1006[].pbs01\n"),
            "qstat": CommandResult(0, text("pbs_qstat_f.txt")),
        }
    )
    sched = get_scheduler("pbs", run)
    assert sched.submit(tmp_path / "j.sh", ["1001.pbs01", "1006.pbs01_1"]) == "1006.pbs01"
    assert run.calls[0][:3] == ["qsub", "-W", "depend=afterok:1001.pbs01,afterok:1006[].pbs01"]
    states = sched.query(["1002.pbs01", "1006.pbs01_1", "1009.pbs01"])
    assert states == {"1002.pbs01": "timeout", "1006.pbs01_1": "running", "1009.pbs01": "unknown"}
    assert len(run.calls) == 2 and run.calls[1][:4] == ["qstat", "-f", "-t", "-x"]


# --- LSF ------------------------------------------------------------------------------------


def test_lsf_bjobs_json():
    jobs = lsf.parse_bjobs_json(text("lsf_bjobs.json"))
    assert {k: v.state for k, v in jobs.items()} == {
        "2001": "done",
        "2002": "timeout",
        "2003": "out_of_memory",
        "2004": "cancelled",
        "2005": "failed",
        "2006_0": "running",
        "2006_1": "pending",
        "2007": "blocked",
    }


def test_lsf_submit_pipes_script_and_query(tmp_path):
    script = tmp_path / "j.sh"
    script.write_text("#!/bin/bash\n#BSUB -J x\n")
    run = FakeRunner(
        {
            "bsub": CommandResult(0, "Job <2009> is submitted to queue <normal>.\n"),
            "bjobs": CommandResult(0, text("lsf_bjobs.json")),
        }
    )
    sched = get_scheduler("lsf", run)
    assert sched.submit(script, ["2001", "2006_1"]) == "2009"
    assert run.calls[0] == ["bsub", "-w", "done(2001) && done(2006[2])"]
    assert run.stdin[0] == script.read_text()
    assert sched.query(["2007", "2006"]) == {"2007": "blocked", "2006": "running"}
    assert run.calls[1][:4] == ["bjobs", "-a", "-json", "-o"]


# --- helpers --------------------------------------------------------------------------------


def test_helpers():
    assert compress([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert overall(["done", "failed", "done"]) == "failed"
    assert overall(["done", "running"]) == "running"
    assert overall(["done", "done"]) == "done"
