"""Rendered scripts against each scheduler's documented directive syntax; profiles; templates."""

import re
import subprocess
from pathlib import Path

import pytest

from atomflow.errors import InputError
from atomflow.hpc.profiles import SiteProfile, list_profiles, load_profile, parse_walltime
from atomflow.hpc.render import JobRequest, render, write_script


def directives(script: str, prefix: str) -> list[str]:
    return [line[len(prefix) :].strip() for line in script.splitlines() if line.startswith(prefix)]


def request(tmp_path: Path, **kw) -> JobRequest:
    base = {
        "name": "li3n md",
        "command": ["python", "-m", "atomflow.graph.filetask", "/s", "--index", "{index}"],
        "workdir": tmp_path,
        "walltime": "02:00:00",
    }
    return JobRequest(**{**base, **kw})


def bash_n(script: str, tmp_path: Path) -> None:
    path = tmp_path / "check.sh"
    path.write_text(script)
    proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_shipped_profiles_load_and_render(tmp_path):
    names = list_profiles()
    assert {"local-slurm", "local-sge", "example-pbspro", "example-lsf"} <= set(names)
    for name in names:
        prof = load_profile(name)
        script = render(request(tmp_path, array_size=3, ntasks=1, mpi=True), prof)
        assert script.startswith("#!/bin/bash\n#")
        bash_n(script, tmp_path)


def test_slurm_directives(tmp_path):
    prof = SiteProfile(name="s", scheduler="slurm", queue="debug", account="p1", qos="long")
    script = render(
        request(tmp_path, array_size=4, max_parallel=2, dependencies=["7", "8_1"], memory_mb=900),
        prof,
    )
    d = directives(script, "#SBATCH")
    assert "--job-name=li3n_md" in d
    assert "--time=02:00:00" in d
    assert "--array=0-3%2" in d
    assert "--dependency=afterok:7:8_1" in d
    assert "--kill-on-invalid-dep=yes" in d
    assert "--signal=B:USR1@300" in d
    assert "--partition=debug" in d and "--account=p1" in d and "--qos=long" in d
    assert "--mem=900M" in d
    assert f"--output={tmp_path}/li3n_md.%A_%a.out" in d
    assert 'ATOMFLOW_ARRAY_INDEX="${SLURM_ARRAY_TASK_ID:-0}"' in script
    assert '--index "$ATOMFLOW_ARRAY_INDEX"' in script


def test_slurm_long_walltime_and_mpi_launcher(tmp_path):
    prof = SiteProfile(name="s", scheduler="slurm", launcher=["srun"], cores_per_node=4)
    script = render(request(tmp_path, walltime="1-12:00:30", ntasks=8, mpi=True), prof)
    assert "--time=1-12:01:00" in directives(script, "#SBATCH")  # rounded up to a minute
    assert "atomflow_cmd=( srun python -m" in script
    prof = SiteProfile(name="m", scheduler="slurm", launcher=["mpirun", "-np", "{ntasks}"])
    assert "atomflow_cmd=( mpirun -np 8 python" in render(
        request(tmp_path, ntasks=8, mpi=True), prof
    )


def test_sge_directives(tmp_path):
    prof = SiteProfile(name="g", scheduler="sge", queue="all.q", parallel_environment="smp")
    script = render(
        request(tmp_path, array_size=4, dependencies=["5_0", "5_1", "6"], cpus_per_task=4), prof
    )
    d = directives(script, "#$")
    assert "-t 1-4" in d  # SGE arrays are 1-based
    assert "-hold_jid 5,6" in d
    assert "-l h_rt=02:00:00" in d and "-l s_rt=01:55:00" in d and "-notify" in d
    assert "-pe smp 4" in d and "-q all.q" in d
    assert 'ATOMFLOW_ARRAY_INDEX="$(( ${SGE_TASK_ID:-1} - 1 ))"' in script
    assert "trap 'atomflow_forward USR2 USR1' USR2" in script
    assert script.rstrip().endswith("exit 0") and "then exit 100; fi" in script


def test_sge_multislot_job_needs_a_parallel_environment(tmp_path):
    with pytest.raises(InputError, match="parallel_environment"):
        render(request(tmp_path, ntasks=2), SiteProfile(name="g", scheduler="sge"))


def test_pbs_pro_directives(tmp_path):
    prof = SiteProfile(name="p", scheduler="pbs", queue="workq", account="A1", cores_per_node=64)
    script = render(
        request(tmp_path, array_size=10, ntasks=128, memory_mb=64000, gpus=2, dependencies=["9.s"]),
        prof,
    )
    d = directives(script, "#PBS")
    assert "-l walltime=02:00:00" in d
    assert "-l select=2:ncpus=64:mpiprocs=64:mem=32000mb:ngpus=2" in d
    assert "-J 0-9" in d
    assert "-W depend=afterok:9.s" in d
    assert "-q workq" in d and "-A A1" in d
    assert 'ATOMFLOW_ARRAY_INDEX="${PBS_ARRAY_INDEX:-0}"' in script
    # no warning directive in PBS: the script's own timer fires 300 s before the limit
    assert "sleep 6900 & s=$!" in script
    assert all(re.match(r"^-[A-Za-z]", x) for x in d)


def test_pbs_single_index_is_a_plain_job(tmp_path):
    prof = SiteProfile(name="p", scheduler="pbs")
    script = render(request(tmp_path, array_indices=[3]), prof)
    assert not any(x.startswith("-J") for x in directives(script, "#PBS"))
    assert "ATOMFLOW_ARRAY_INDEX=3" in script


def test_torque_directives(tmp_path):
    prof = SiteProfile(name="t", scheduler="pbs", pbs_flavor="torque", cores_per_node=28)
    script = render(request(tmp_path, array_indices=[0, 1, 2, 5], ntasks=56, memory_mb=1000), prof)
    d = directives(script, "#PBS")
    assert "-l nodes=2:ppn=28" in d and "-l mem=1000mb" in d
    assert "-t 0-2,5" in d
    assert 'ATOMFLOW_ARRAY_INDEX="${PBS_ARRAYID:-0}"' in script


def test_lsf_directives(tmp_path):
    prof = SiteProfile(name="l", scheduler="lsf", queue="normal", account="chem")
    script = render(
        request(tmp_path, array_size=10, ntasks=4, dependencies=["55", "56_0"], walltime=5430),
        prof,
    )
    d = directives(script, "#BSUB")
    assert '-J "li3n_md[1-10]"' in d
    assert "-n 4" in d
    assert "-W 01:31" in d  # HH:MM, rounded up
    assert '-w "done(55) && done(56[1])"' in d
    assert "-ti" in d and "-wa USR1" in d and "-wt 5" in d
    assert "-q normal" in d and "-P chem" in d
    assert f"-o {tmp_path}/li3n_md.%J_%I.out" in d
    assert 'ATOMFLOW_ARRAY_INDEX="$(( ${LSB_JOBINDEX:-1} - 1 ))"' in script


def test_gpu_jobs_get_resources_and_lammps_gpu_args(tmp_path):
    prof = load_profile("example-slurm-gpu")
    script = render(request(tmp_path, gpus=4), prof)
    assert "--gres=gpu:4" in directives(script, "#SBATCH")
    assert "export ATOMFLOW_LAMMPS_ARGS='-k on g 1 -sf kk -pk kokkos neigh half newton on'" in (
        script
    )
    assert "--constraint=a100" in directives(script, "#SBATCH")
    cpu = render(request(tmp_path), prof)
    assert "export ATOMFLOW_LAMMPS_ARGS=''" in cpu


def test_warning_longer_than_limit_warns_at_half_time(tmp_path):
    prof = SiteProfile(name="s", scheduler="slurm", warning_seconds=600)
    script = render(request(tmp_path, walltime=60), prof)
    assert "--signal=B:USR1@30" in directives(script, "#SBATCH")
    assert "--signal" not in render(request(tmp_path, warning_seconds=0), prof)


def test_user_template_overrides_and_includes_shipped_body(tmp_path):
    own = tmp_path / "mine.sh.j2"
    own.write_text(
        "#!/bin/bash\n#SBATCH --job-name={{ job.name }}\n#SBATCH --comment=site-{{ job.time }}\n"
        '{% include "_body.sh.j2" %}\nexit "$atomflow_rc"\n'
    )
    prof_file = tmp_path / "site.toml"
    prof_file.write_text('scheduler = "slurm"\ntemplate = "mine.sh.j2"\n')
    prof = load_profile(prof_file)
    assert prof.name == "site" and prof.template == own
    script = render(request(tmp_path), prof)
    assert "#SBATCH --comment=site-02:00:00" in script and "atomflow_run" in script
    own.write_text("#!/bin/bash\n{{ job.no_such_field }}\n")
    with pytest.raises(InputError, match="no_such_field"):
        render(request(tmp_path), prof)


def test_write_script_is_executable(tmp_path):
    path = write_script(request(tmp_path), load_profile("local-slurm"), tmp_path / "a" / "j.sh")
    assert path.stat().st_mode & 0o111 and path.read_text().startswith("#!/bin/bash")


@pytest.mark.parametrize(
    "bad",
    [
        {"command": "python run.py"},  # a string, not argv
        {"command": []},
        {"ntasks": 0},
        {"walltime": "1:99:00"},
        {"array_indices": [0, 2, 3], "array_size": 3},
        {"dependencies": ["1; touch x"]},
        {"env": {"A-B": "x"}},
    ],
)
def test_bad_requests_are_refused(tmp_path, bad):
    with pytest.raises(InputError):
        render(request(tmp_path, **bad), load_profile("local-slurm"))


def test_sge_and_pbs_refuse_uneven_index_lists(tmp_path):
    with pytest.raises(InputError, match="evenly spaced"):
        render(request(tmp_path, array_indices=[0, 1, 5]), load_profile("local-sge"))
    assert "-t 1-5:2" in render(
        request(tmp_path, array_indices=[0, 2, 4]), load_profile("local-sge")
    )


def test_walltime_parsing():
    assert parse_walltime("01:30") == 5400
    assert parse_walltime("2-00:00:10") == 172810
    assert parse_walltime(90) == 90
    for bad in ("abc", "1:60:00", 0, "-5"):
        with pytest.raises(InputError):
            parse_walltime(bad)


def test_profile_errors_name_the_file_and_field(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('scheduler = "slurm"\nqueue = "a b"\n')
    with pytest.raises(InputError, match=r"bad.toml.*queue"):
        load_profile(f)
    f.write_text('scheduler = "condor"\n')
    with pytest.raises(InputError, match="scheduler"):
        load_profile(f)
    with pytest.raises(InputError, match="shipped"):
        load_profile("no-such-profile")
