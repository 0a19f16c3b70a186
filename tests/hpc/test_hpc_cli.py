"""``atomflow hpc render`` (dry run) and ``atomflow hpc profiles``."""

import json

from typer.testing import CliRunner

from atomflow.cli.hpc_cmd import hpc_app

runner = CliRunner()


def test_render_plain_command_prints_the_exact_script(tmp_path):
    res = runner.invoke(
        hpc_app,
        [
            "render",
            "--profile",
            "local-slurm",
            "--workdir",
            str(tmp_path),
            "--",
            "lmp",
            "-in",
            "a;b",
        ],
    )
    assert res.exit_code == 0, res.output
    assert res.output.startswith("#!/bin/bash\n#SBATCH --job-name=job\n")
    assert "atomflow_cmd=( lmp -in 'a;b' )" in res.output


def test_render_json_description_to_file(tmp_path):
    spec = tmp_path / "job.json"
    spec.write_text(
        json.dumps(
            {
                "name": "md",
                "command": "python -m atomflow.md run {task}",
                "workdir": str(tmp_path),
                "array_size": 3,
                "task_list": str(tmp_path / "tasks.txt"),
                "dependencies": [12],
            }
        )
    )
    out = tmp_path / "md.sh"
    res = runner.invoke(hpc_app, ["render", str(spec), "-p", "example-lsf", "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert '#BSUB -J "md[1-3]"' in text and '#BSUB -w "done(12)"' in text
    assert 'run "$ATOMFLOW_TASK" )' in text


def test_render_errors_are_one_line(tmp_path):
    spec = tmp_path / "job.toml"
    spec.write_text('command = ["true"]\nbogus = 1\n')
    res = runner.invoke(hpc_app, ["render", str(spec), "-p", "local-sge"])
    assert res.exit_code == 2 and "unknown key(s) bogus" in res.output
    res = runner.invoke(hpc_app, ["render", "-p", "nope", "--", "true"])
    assert res.exit_code == 2 and "no site profile" in res.output


def test_profiles_lists_shipped_profiles():
    res = runner.invoke(hpc_app, ["profiles"])
    assert res.exit_code == 0
    assert "local-slurm" in res.output and "example-pbspro" in res.output
