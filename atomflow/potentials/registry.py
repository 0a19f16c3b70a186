"""A registry of interatomic potentials shipped as package data.

Each potential is a folder ``data/<name>/`` with a ``potential.toml`` and its parameter files.
An entry names its elements and LAMMPS pair style, its files, its charges and kspace settings
if any, its citation or provenance (for fitted potentials: the workflow, the training-data
hash, the labeller and its version) and its validity range (temperatures and the structures it
was trained on). A :class:`Potential` is a small frozen record, validated when built; turning
it into LAMMPS commands (:meth:`Potential.lammps_commands`) or into plain data that runs in
LAMMPS without atomflow (:meth:`Potential.to_lammps_dict`) is pure.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from atomflow.errors import InputError

_REQUIRED = ("name", "elements", "pair_style", "pair_coeff", "citation")
#: keys of a ``[validity]`` table: ``temperatures_K = [lo, hi]``, ``structures = [...]``,
#: ``notes = "..."`` (all optional)
VALIDITY_KEYS = ("temperatures_K", "structures", "notes")


@dataclass(frozen=True)
class Potential:
    """An interatomic potential ready to be written as LAMMPS commands.

    ``validity`` holds the range it was made for (``temperatures_K = [lo, hi]``,
    ``structures`` it was trained on, free-text ``notes``); ``report`` names a file in
    ``directory`` (e.g. a fit report) and is checked to exist.
    """

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
    validity: dict[str, Any] = field(default_factory=dict)
    report: str | None = None

    def __post_init__(self) -> None:
        _check_validity(self.validity, f"potential {self.name!r}")
        if self.report is not None:
            rel = Path(self.report)
            if rel.is_absolute() or ".." in rel.parts or not (self.directory / rel).is_file():
                raise InputError(
                    f"potential {self.name!r}: report {self.report!r} is not a file in "
                    f"{self.directory}; put it there or remove the report key"
                )
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
        """Raise :class:`InputError` if a structure's ``elements`` are not all covered."""
        missing = sorted(set(elements) - set(self.elements))
        if missing:
            raise InputError(
                f"structure contains {', '.join(missing)}, which potential {self.name!r} "
                f"does not cover (it has {', '.join(self.elements)}); choose a potential "
                f"that covers {', '.join(missing)} or remove those atoms from the structure"
            )

    def pair_coeff_lines(self) -> list[str]:
        """``pair_coeff`` arguments (without the word itself), ``{dir}``/``{elements}`` filled.

        ``{dir}`` becomes the potential's absolute folder, ``{elements}`` the element names in
        LAMMPS type order (type 1 = ``elements[0]``).
        """
        fmt = {"dir": str(self.directory.resolve()), "elements": " ".join(self.elements)}
        return [line.format(**fmt) for line in self.pair_coeff]

    def lammps_commands(self) -> list[str]:
        """pair_style, pair_coeff and kspace lines, with file paths filled in."""
        lines = [f"pair_style {self.pair_style}"]
        lines += [f"pair_coeff {line}" for line in self.pair_coeff_lines()]
        if self.kspace:
            lines.append(f"kspace_style {self.kspace}")
        return lines

    def to_lammps_dict(self) -> dict[str, Any]:
        """JSON-ready data that runs this potential in plain LAMMPS, without atomflow.

        LAMMPS type ``i`` is ``elements[i-1]``; set ``units`` and ``atom_style``, give each type
        its ``masses`` entry and, when ``charges`` is not empty, ``set type i charge q``; then
        ``pair_style``, one ``pair_coeff`` command per entry of ``pair_coeff`` (the arguments
        only, absolute paths filled in) and ``kspace_style`` unless it is null.
        """
        from pymatgen.core import Element

        report = (self.directory / self.report).resolve() if self.report else None
        return {
            "name": self.name,
            "description": self.description,
            "elements": list(self.elements),
            "masses": {el: float(Element(el).atomic_mass) for el in self.elements},
            "units": self.units,
            "atom_style": self.atom_style,
            "pair_style": self.pair_style,
            "pair_coeff": self.pair_coeff_lines(),
            "kspace_style": self.kspace,
            "charges": dict(self.charges),
            "timestep_fs": self.timestep_fs,
            "files": [str((self.directory / f).resolve()) for f in self.files],
            "report": str(report) if report else None,
            "citation": self.citation,
            "provenance": copy.deepcopy(self.provenance),
            "validity": copy.deepcopy(self.validity),
        }

    def files_digest(self) -> dict[str, str]:
        """SHA-256 of each parameter file: part of a task's identity, so edits invalidate caches."""
        import hashlib

        return {
            f: hashlib.sha256((self.directory / f).read_bytes()).hexdigest() for f in self.files
        }


def _check_validity(validity: Any, where: str) -> None:
    """Check a ``[validity]`` table; ``where`` names the potential or its file in errors."""
    if not isinstance(validity, dict):
        raise InputError(f"{where}: validity must be a table, got {validity!r}")
    unknown = sorted(set(validity) - set(VALIDITY_KEYS))
    if unknown:
        raise InputError(
            f"{where}: unknown keys in [validity]: {', '.join(unknown)}; "
            f"allowed: {', '.join(VALIDITY_KEYS)}"
        )
    temps = validity.get("temperatures_K")
    if temps is not None and not (
        isinstance(temps, list | tuple)
        and len(temps) == 2
        and all(isinstance(t, int | float) and not isinstance(t, bool) for t in temps)
        and 0 <= temps[0] <= temps[1]
    ):
        raise InputError(
            f"{where}: validity.temperatures_K must be [low, high] in kelvin with "
            f"0 <= low <= high, got {temps!r}"
        )
    structures = validity.get("structures")
    if structures is not None and not (
        isinstance(structures, list | tuple) and all(isinstance(x, str) for x in structures)
    ):
        raise InputError(
            f"{where}: validity.structures must be a list of strings, got {structures!r}"
        )
    notes = validity.get("notes")
    if notes is not None and not isinstance(notes, str):
        raise InputError(f"{where}: validity.notes must be a string, got {notes!r}")


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
        raise InputError(
            f"{path}: unknown keys {', '.join(unknown)}; allowed: {', '.join(sorted(known))}"
        )
    for key in ("elements", "pair_coeff", "files"):
        value = raw.get(key, [])
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise InputError(f"{path}: {key} must be a list of strings, got {value!r}")
    raw.pop("license", None)
    try:
        return Potential(
            directory=path.parent,
            elements=tuple(raw.pop("elements")),
            pair_coeff=tuple(raw.pop("pair_coeff")),
            files=tuple(raw.pop("files", ())),
            **raw,
        )
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


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
