"""Workflow tasks for phonons and QHA: JSON-like inputs and outputs, plots in ``workdir``.

``potential`` is a registry name or the ``{name, files}`` dict that studies build with
``potential_input`` (the file digests make edits to a potential invalidate cached results).
A study can run :func:`qha` beside ``npt_lattice`` and join them with :func:`qha_vs_npt`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pymatgen.core import Structure

from atomflow.errors import InputError
from atomflow.graph import task
from atomflow.phonons.harmonic import harmonic_phonons
from atomflow.phonons.plots import plot_bands_dos, plot_qha
from atomflow.phonons.qha import compare_with_npt, run_qha


def _potential_name(potential: str | dict) -> str:
    if isinstance(potential, str):
        return potential
    if isinstance(potential, dict) and "name" in potential:
        return str(potential["name"])
    raise InputError(
        f"potential must be a registry name or a {{name, files}} dict, got {potential!r}"
    )


@task(version="1")
def phonons(
    structure: Structure,
    potential: str | dict,
    supercell: list[int] | None = None,
    min_length: float = 10.0,
    relax: bool = False,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Harmonic phonons: min frequency, imaginary-mode flag, Γ acoustic modes, thermal data."""
    result = harmonic_phonons(
        structure,
        _potential_name(potential),
        supercell=tuple(supercell) if supercell else None,
        min_length=min_length,
        relax=relax,
    )
    out = result.summary()
    out["structure"] = result.structure.as_dict()
    if workdir is not None:
        out["plot"] = str(plot_bands_dos(result, Path(workdir) / "phonons.png"))
    return out


@task(version="1")
def qha(
    structure: Structure,
    potential: str | dict,
    t_max_K: float = 900.0,
    t_step_K: float = 10.0,
    strains: list[float] | None = None,
    supercell: list[int] | None = None,
    min_length: float = 10.0,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """QHA: ``{T_K, a, c, V, ...}`` quantum, the same under ``classical``, static and scan."""
    result = run_qha(
        structure,
        _potential_name(potential),
        t_max_K=t_max_K,
        t_step_K=t_step_K,
        strains=strains,
        supercell=tuple(supercell) if supercell else None,
        min_length=min_length,
    )
    out = result.summary()
    if workdir is not None:
        out["plot"] = str(plot_qha(result, Path(workdir) / "qha.png"))
    return out


@task(version="1")
def qha_vs_npt(qha: dict, npt_lattice: dict, temperature_K: float) -> list[dict[str, Any]]:
    """Comparison rows of QHA (quantum and classical) against NPT MD lattice parameters."""
    return compare_with_npt(qha, npt_lattice, temperature_K)
