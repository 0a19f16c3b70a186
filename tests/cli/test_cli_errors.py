"""Bad input gives one clear line and exit code 2, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from atomflow.resources import data_dir

SHIPPED = data_dir("workflows") / "li3n.toml"


def atomflow(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "atomflow.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def edited(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED.read_text()
    assert old in text
    path = tmp_path / "study.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


CASES = {
    "malformed": (
        lambda t: write(t / "bad.toml", "[study\nname="),
        "malformed TOML",
    ),
    "unknown_preset": (lambda t: SHIPPED, "unknown preset 'huge'; this recipe has: full, quick"),
    "negative_T": (
        lambda t: edited(t, "temperatures_K = [500", "temperatures_K = [-500"),
        "presets.quick.nvt.temperatures_K.0: Input should be greater than 0",
    ),
    "unknown_key": (
        lambda t: edited(t, "timestep_fs = 1.0", "timestep_fs = 1.0\ntimestpe = 2"),
        "presets.quick.timestpe: unknown key",
    ),
    "unknown_system": (
        lambda t: edited(t, 'system = "li3n"', 'system = "unobtainium"'),
        "study.system: unknown system 'unobtainium'; known: bisnsb_k, li2zrcl6_n, li3n",
    ),
    "missing_file": (lambda t: t / "nope.toml", "no workflow file"),
    "missing_potential": (
        lambda t: edited(t, 'potential = "li3n-esnap"', 'potential = "li3n-missing"'),
        "unknown potential 'li3n-missing'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2(tmp_path, case):
    make, expected = CASES[case]
    spec = make(tmp_path)
    preset = "huge" if case == "unknown_preset" else "quick"
    proc = atomflow(
        "run", str(spec), "--preset", preset, "--store", str(tmp_path / "s"), cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_results_without_store_is_clear(tmp_path):
    proc = atomflow("results", "--store", str(tmp_path / "none"), cwd=tmp_path)
    assert proc.returncode == 2 and "no results" in proc.stderr
