"""Reference crystal structures shipped under ``structures/`` with their provenance."""

from __future__ import annotations

import tomllib
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pymatgen.core import Structure

from atomflow.resources import data_dir


@dataclass(frozen=True)
class ReferenceEntry:
    """One catalogue entry of ``structures/catalog.toml``."""

    name: str
    file: str
    formula: str
    space_group: str
    cell: dict
    confidence: str
    source: str
    notes: str = ""

    @property
    def path(self) -> Path:
        return data_dir("structures") / self.file


@cache
def _catalog_text() -> str:
    return (data_dir("structures") / "catalog.toml").read_text()


def catalog() -> dict[str, ReferenceEntry]:
    """All reference entries, keyed by name."""
    raw = tomllib.loads(_catalog_text())
    return {name: ReferenceEntry(name=name, **fields) for name, fields in raw.items()}


def reference_entry(name: str) -> ReferenceEntry:
    """Return the catalogue entry ``name``, or raise with the known names."""
    entries = catalog()
    if name not in entries:
        raise KeyError(f"unknown reference structure {name!r}; known: {', '.join(sorted(entries))}")
    return entries[name]


def load_reference(name: str) -> Structure:
    """Load the reference crystal ``name`` (for example ``li3n_alpha``) as a pymatgen Structure.

    The CIFs hold ideal fractions (1/3, 1/9, ...) written to finite precision; pymatgen's notice
    that it rounded them back is expected and silenced here (other warnings pass through).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"Issues encountered while parsing CIF: \d+ fractional coordinates"
        )
        return Structure.from_file(reference_entry(name).path)
