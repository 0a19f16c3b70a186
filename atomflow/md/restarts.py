"""Restart bookkeeping: two alternating restart files plus a small JSON index.

A restart file is written under a temporary name and renamed, so a kill during the write
leaves the previous pair intact. Candidates are tried newest first; one that LAMMPS cannot
read is skipped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

INDEX = "restart.json"
NAMES = ("restart.a", "restart.b")


def candidates(workdir: Path) -> list[tuple[int, Path]]:
    """(step, path) of usable restart files, newest first."""
    try:
        index = json.loads((workdir / INDEX).read_text())
    except (OSError, json.JSONDecodeError):
        return []
    found = [
        (int(step), workdir / name)
        for name, step in index.get("files", {}).items()
        if (workdir / name).is_file() and (workdir / name).stat().st_size > 0
    ]
    return sorted(found, reverse=True)


def next_name(workdir: Path) -> str:
    """The older of the two names (or the first unused one)."""
    have = {p.name: step for step, p in candidates(workdir)}
    for name in NAMES:
        if name not in have:
            return name
    return min(have, key=have.get)


def record(workdir: Path, name: str, step: int) -> None:
    """Register ``name`` as holding ``step`` (called after its atomic rename)."""
    path = workdir / INDEX
    try:
        index = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        index = {"files": {}}
    index["files"][name] = step
    tmp = workdir / f".{INDEX}.tmp"
    tmp.write_text(json.dumps(index))
    os.replace(tmp, path)


def write(lmp, workdir: Path, step: int, rank: int = 0) -> Path:
    """Write a restart at the current step; only rank 0 renames and records it."""
    name = next_name(workdir)
    tmp = workdir / f"{name}.tmp"
    lmp.command(f"write_restart {tmp}")
    final = workdir / name
    if rank == 0:
        os.replace(tmp, final)
        record(workdir, name, step)
    return final
