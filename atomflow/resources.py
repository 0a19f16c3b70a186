"""Locate data shipped inside the package: ``structures/``, ``workflows/``, ``hpc/``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_KINDS = ("structures", "workflows", "hpc")


def data_dir(kind: str) -> Path:
    """Return the installed folder for ``kind`` (one of structures, workflows, hpc)."""
    if kind not in _KINDS:
        raise ValueError(f"unknown data kind {kind!r}; choose one of {', '.join(_KINDS)}")
    path = Path(str(resources.files("atomflow") / "_data" / kind))
    if not path.is_dir():
        raise FileNotFoundError(
            f"atomflow's {kind}/ data is missing at {path}; reinstall atomflow (pip install .)"
        )
    return path


def workflow_file(name: str) -> Path:
    """Resolve a study recipe by path or by name (``li3n`` → shipped ``li3n.toml``)."""
    candidate = Path(name)
    if candidate.is_file():
        return candidate
    shipped = data_dir("workflows") / (name if name.endswith(".toml") else f"{name}.toml")
    if shipped.is_file():
        return shipped
    known = sorted(p.stem for p in data_dir("workflows").glob("*.toml"))
    raise FileNotFoundError(
        f"no workflow file {name!r}: not a path, and not a shipped recipe "
        f"(shipped: {', '.join(known) or 'none'})"
    )
