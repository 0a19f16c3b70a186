"""Every shipped study's ``full`` preset plans and renders as Slurm jobs, unchanged."""

import re

import pytest
from study_cli import run_cli

STUDIES = ("li3n", "li2zrcl6_n", "bisnsb_dislocation", "crncn_crn_interface", "mo2n_wn")


@pytest.mark.parametrize("study", STUDIES)
def test_full_preset_renders_as_slurm_jobs(study, tmp_path):
    out = run_cli(
        "run", study, "--preset", "full", "--scheduler", "slurm", "--dry-run", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    tasks = int(re.search(r"preset full: (\d+) tasks", " ".join(out.stderr.split())).group(1))
    assert tasks > 10
    scripts = out.stdout.count("#!/bin/bash")
    assert scripts >= 1 and out.stdout.count("#SBATCH --job-name") == scripts
    assert "nothing submitted" in out.stderr
    assert not (tmp_path / "atomflow-store").exists()  # a dry run writes no store
