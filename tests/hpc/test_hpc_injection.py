"""Hostile values cannot inject commands into a rendered job script.

Each script is rendered with ``;``, ``$()``, backquotes, quotes and newlines in the job name,
command words, environment values, module names, LAMMPS arguments, the working directory and
the task-list path; then ``bash -n`` checks it and the script is *run* in a sandbox with
stub commands: the stub must receive every word exactly, and no ``PWN*`` file may appear.
Values that would land in a directive line are refused instead.
"""

import os
import stat
import subprocess
from pathlib import Path

import pytest

from atomflow.errors import InputError
from atomflow.hpc.profiles import SiteProfile
from atomflow.hpc.render import JobRequest, render

HOSTILE = [
    "a;touch PWN1",
    "$(touch PWN2)",
    "`touch PWN3`",
    "x\ntouch PWN4",
    "'; touch PWN5; '",
    '"$(touch PWN6)"',
    "\\",
    "",
    "tab\there\r",
    "{index}-$HOME-{task}",
]
NAME = "md\n#SBATCH --wrap='touch PWN7'\ntouch PWN8;$(touch PWN9)"
INDEX_ENV = {
    "slurm": {"SLURM_ARRAY_TASK_ID": "1"},
    "sge": {"SGE_TASK_ID": "2"},
    "pbs": {"PBS_ARRAY_INDEX": "1"},
    "lsf": {"LSB_JOBINDEX": "2"},
}


def _exe(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def sandbox(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _exe(
        bin_dir / "recorder",
        '#!/bin/bash\nprintf "%s\\0" "$@" > "$RECORD"\n'
        'printf "%s" "$HOSTILE_ENV" > "$RECORD.env"\n'
        'printf "%s" "$ATOMFLOW_JOB_NAME" > "$RECORD.name"\n'
        'printf "%s" "$ATOMFLOW_LAMMPS_ARGS" > "$RECORD.lammps"\n',
    )
    _exe(bin_dir / "module", '#!/bin/bash\nprintf "%s\\0" "$@" >> "$MODULE_RECORD"\n')
    workdir = tmp_path / "w;touch PWN10 $(touch PWN11) `touch PWN12`"
    workdir.mkdir()
    task_list = tmp_path / "list$(touch PWN13).txt"
    task_list.write_text("first\nsecond; touch PWN14\nthird\n")
    return tmp_path, bin_dir, workdir, task_list


def hostile_request(tmp_path, workdir, task_list) -> JobRequest:
    return JobRequest(
        name=NAME,
        command=["recorder", *HOSTILE],
        workdir=workdir,
        array_size=3,
        task_list=task_list,
        output=str(tmp_path / "job.out"),
        env={"RECORD": str(tmp_path / "argv.bin"), "HOSTILE_ENV": "$(touch PWN15)\n`touch PWN16`"},
        gpus=1,
    )


def hostile_profile(scheduler: str) -> SiteProfile:
    return SiteProfile(
        name="hostile",
        scheduler=scheduler,
        queue="q",
        modules=["lammps/1;touch PWN17", "$(touch PWN18)"],
        env={"SITE_VALUE": "'$(touch PWN19)'"},
        lammps={"args": ["-var", "x", "$(touch PWN20)"], "gpu_args": ["-sf", "gpu;touch PWN21"]},
    )


@pytest.mark.parametrize("scheduler", ["slurm", "sge", "pbs", "lsf"])
def test_hostile_values_are_inert_when_the_script_runs(sandbox, scheduler):
    tmp_path, bin_dir, workdir, task_list = sandbox
    script = render(hostile_request(tmp_path, workdir, task_list), hostile_profile(scheduler))
    path = tmp_path / "job.sh"
    path.write_text(script)
    check = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr

    # directive lines carry only sanitised words
    head = [ln for ln in script.splitlines() if ln.startswith(("#SBATCH", "#$", "#PBS", "#BSUB"))]
    assert head and not any(c in ln for ln in head for c in ("$(", "`", ";", "'"))
    assert not any(ln.lstrip().startswith("touch") for ln in script.splitlines())

    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MODULE_RECORD": str(tmp_path / "modules.bin"),
        **INDEX_ENV[scheduler],
    }
    run = subprocess.run(
        ["bash", str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 0, run.stderr
    assert not sorted(p.name for p in tmp_path.rglob("PWN*")), "an injected command ran"

    received = (tmp_path / "argv.bin").read_bytes().split(b"\0")[:-1]
    expected = [w.replace("{index}", "1").replace("{task}", "second; touch PWN14") for w in HOSTILE]
    assert [r.decode() for r in received] == expected
    assert (tmp_path / "argv.bin.env").read_text() == "$(touch PWN15)\n`touch PWN16`"
    assert (tmp_path / "argv.bin.name").read_text() == NAME
    assert (tmp_path / "argv.bin.lammps").read_text() == (
        "-var x '$(touch PWN20)' -sf 'gpu;touch PWN21'"
    )
    modules = (tmp_path / "modules.bin").read_bytes().split(b"\0")[:-1]
    assert [m.decode() for m in modules] == [
        "load",
        "lammps/1;touch PWN17",
        "load",
        "$(touch PWN18)",
    ]


@pytest.mark.parametrize(
    "field,value",
    [
        ("queue", "debug;touch PWN"),
        ("queue", "debug\n#SBATCH --wrap=x"),
        ("account", "$(touch PWN)"),
        ("qos", "`id`"),
        ("name", "a b"),
        ("extra_directives", ["--comment=x\ntouch PWN"]),
        ("extra_directives", ["--comment=$(touch PWN)"]),
        ("setup", ["export A=1\ntouch PWN"]),
        ("env", {"A;B": "x"}),
        ("launcher", ["mpirun\nrm"]),
    ],
)
def test_profile_values_that_could_escape_a_line_are_refused(field, value):
    with pytest.raises(ValueError):
        SiteProfile(**{"name": "p", "scheduler": "slurm", field: value})


@pytest.mark.parametrize(
    "kw",
    [
        {"workdir": Path("/tmp/a;touch PWN")},  # default output path goes into a directive
        {"workdir": Path("/tmp/a b")},
        {"output": "/tmp/x.out\n#SBATCH --wrap=id"},
        {"output": "/tmp/$(id).out"},
        {"error": "/tmp/`id`.err"},
        {"dependencies": ["1\n2"]},
    ],
)
def test_request_values_for_directives_are_refused(tmp_path, kw):
    base = {"name": "x", "command": ["true"], "workdir": tmp_path}
    for scheduler in ("slurm", "sge", "lsf"):
        with pytest.raises(InputError):
            render(JobRequest(**{**base, **kw}), SiteProfile(name="p", scheduler=scheduler))


def test_environment_of_this_test_is_untouched():
    assert "PWN" not in "".join(os.listdir("."))
