"""The value every builder returns: a structure, what it is, and the checks it passed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymatgen.core import Structure


@dataclass(frozen=True)
class BuildResult:
    """A built structure with its provenance and checks.

    ``metadata`` holds the build parameters and what a reader needs to use the model (counts,
    sites, Burgers vectors, strains); ``checks`` maps a check name to a dict with at least an
    ``ok`` key (see :mod:`atomflow.structures.checks`). Species carry oxidation states where the
    builder assigned them; ``io.write_structure`` turns them into LAMMPS charges.
    """

    structure: Structure
    metadata: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(bool(c.get("ok", True)) for c in self.checks.values())

    def failed(self) -> list[str]:
        """Names of the checks that did not pass."""
        return [name for name, c in self.checks.items() if not c.get("ok", True)]

    def summary(self) -> dict[str, Any]:
        """JSON-ready ``{formula, natoms, cell, checks, metadata}`` (what ``--json`` prints)."""
        lat = self.structure.lattice
        return {
            "formula": self.structure.composition.formula.replace(" ", ""),
            "natoms": len(self.structure),
            "cell": {
                "matrix": [[round(float(v), 6) for v in row] for row in lat.matrix],
                "abc": [round(float(v), 6) for v in lat.abc],
                "angles": [round(float(v), 4) for v in lat.angles],
                "volume": round(float(lat.volume), 4),
            },
            "checks": _jsonable(self.checks),
            "metadata": _jsonable(self.metadata),
        }


def _jsonable(obj: Any) -> Any:
    """Numpy scalars and arrays, tuples and sets to plain JSON types."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        return round(float(obj), 6)
    return obj
