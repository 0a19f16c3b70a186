"""A registry of interatomic potentials shipped as package data.

Each potential is a folder ``data/<name>/`` with a ``potential.toml`` (style lines, elements,
charges, kspace, citation, provenance) and its parameter files. A :class:`Potential` is a
small frozen record, validated when built; turning it into LAMMPS commands is pure.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from atomflow.errors import InputError

_REQUIRED = ("name", "elements", "pair_style", "pair_coeff", "citation")


@dataclass(frozen=True)
class Potential:
    """An interatomic potential ready to be written as LAMMPS commands."""

    name: str
    elements: tuple[str, ...]
    pair_style: str
    pair_coeff: tuple[str, ...]
    directory: Path
    files: tuple[str, ...] = ()
    atom_style: str = "atomic"
    units: str = "metal"
    kspace: str | None = None
    charges: dict[str, float] = field(default_factory=dict)
    timestep_fs: float = 1.0
    citation: str = ""
    description: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for fname in self.files:
            if not (self.directory / fname).is_file():
                raise InputError(
                    f"potential {self.name!r}: parameter file {fname} is missing from "
                    f"{self.directory}; reinstall atomflow or restore the file"
                )
        if self.charges and set(self.charges) != set(self.elements):
            raise InputError(
                f"potential {self.name!r}: charges given for {sorted(self.charges)}, "
                f"elements are {list(self.elements)}"
            )
        if self.kspace and not self.charges:
            raise InputError(f"potential {self.name!r}: kspace set but no charges")

    @property
    def charged(self) -> bool:
        return bool(self.charges)

    def type_of(self, element: str) -> int:
        """1-based LAMMPS type of ``element``."""
        try:
            return self.elements.index(element) + 1
        except ValueError:
            raise InputError(
                f"potential {self.name!r} covers {', '.join(self.elements)}, not {element}; "
                "choose a potential for this chemistry"
            ) from None

    def check_elements(self, elements: Iterable[str]) -> None:
        missing = sorted(set(elements) - set(self.elements))
        if missing:
            raise InputError(
                f"structure contains {', '.join(missing)}, which potential {self.name!r} "
                f"does not cover (it has {', '.join(self.elements)})"
            )

    def lammps_commands(self) -> list[str]:
        """pair_style, pair_coeff and kspace lines, with file paths filled in."""
        fmt = {"dir": str(self.directory), "elements": " ".join(self.elements)}
        lines = [f"pair_style {self.pair_style}"]
        lines += [f"pair_coeff {line.format(**fmt)}" for line in self.pair_coeff]
        if self.kspace:
            lines.append(f"kspace_style {self.kspace}")
        return lines

    def files_digest(self) -> dict[str, str]:
        """SHA-256 of each parameter file: part of a task's identity, so edits invalidate caches."""
        import hashlib

        return {
            f: hashlib.sha256((self.directory / f).read_bytes()).hexdigest() for f in self.files
        }


def _data_root() -> Path:
    return Path(str(resources.files("atomflow.potentials") / "data"))


def load_potential_file(path: str | Path) -> Potential:
    """Build a :class:`Potential` from a ``potential.toml`` (shipped or the user's own)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"potential file {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise InputError(f"{path}: missing keys {', '.join(missing)}")
    known = set(Potential.__dataclass_fields__) - {"directory"} | {"license"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InputError(f"{path}: unknown keys {', '.join(unknown)}")
    raw.pop("license", None)
    return Potential(
        directory=path.parent,
        elements=tuple(raw.pop("elements")),
        pair_coeff=tuple(raw.pop("pair_coeff")),
        files=tuple(raw.pop("files", ())),
        **raw,
    )


def available_potentials() -> list[str]:
    """Names of the potentials shipped with atomflow."""
    return sorted(p.parent.name for p in _data_root().glob("*/potential.toml"))


def get_potential(name: str) -> Potential:
    """Return a shipped potential by name, or one from a path to a ``potential.toml``."""
    candidate = Path(name)
    if candidate.suffix == ".toml" or candidate.is_dir():
        return load_potential_file(
            candidate / "potential.toml" if candidate.is_dir() else candidate
        )
    path = _data_root() / name / "potential.toml"
    if not path.is_file():
        raise InputError(
            f"unknown potential {name!r}; shipped: {', '.join(available_potentials())}, "
            "or give a path to a potential.toml"
        )
    return load_potential_file(path)
