"""Run the atomflow CLI in a fresh interpreter, as a user would (shared by the study tests)."""

import subprocess
import sys
from pathlib import Path


def run_cli(*args: str, cwd: Path, timeout: float = 1200) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "atomflow.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def with_preset(text: str, preset: str) -> str:
    """A recipe's text with ``preset`` (TOML of ``[presets.NAME]`` tables) put before its
    quick preset."""
    head, _, tail = text.partition("[presets.quick]")
    return head + preset + "[presets.quick]" + tail


def run_twice(spec: Path, tmp: Path, preset: str = "tiny") -> list[subprocess.CompletedProcess]:
    """``atomflow run`` of ``spec`` into two fresh stores, s1 and s2 (same seeds)."""
    return [
        run_cli("run", str(spec), "--preset", preset, "--store", s, "--workers", "2", cwd=tmp)
        for s in ("s1", "s2")
    ]
