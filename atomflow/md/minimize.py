"""Energy minimisation with LAMMPS, optionally relaxing the cell (``fix box/relax``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Lattice, Structure

from atomflow.md.box import box_matrix, load_structure
from atomflow.md.session import open_lammps
from atomflow.potentials import Potential


@dataclass(frozen=True)
class Relaxed:
    """A minimised structure in the LAMMPS frame, with its energy and residuals."""

    structure: Structure
    energy_eV: float
    max_force_eV_A: float
    pressure_bar: float


_load = load_structure  # kept for callers of the earlier private name


def _snapshot(lmp, structure: Structure) -> tuple[Structure, np.ndarray]:
    n = len(structure)
    x = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3)).reshape(n, 3)
    f = np.ctypeslib.as_array(lmp.gather_atoms("f", 1, 3)).reshape(n, 3)
    cell = box_matrix(lmp.extract_box())
    return Structure(Lattice(cell), structure.species, x, coords_are_cartesian=True), f


def single_point(structure: Structure, potential: Potential) -> tuple[float, np.ndarray]:
    """Energy (eV) and forces (eV/Å, LAMMPS frame, input order) of ``structure``."""
    potential.check_elements(el.symbol for el in structure.composition.elements)
    lmp = open_lammps()
    try:
        _load(lmp, structure, potential)
        lmp.command("run 0")
        _, forces = _snapshot(lmp, structure)
        return float(lmp.get_thermo("pe")), forces
    finally:
        lmp.close()


def relax(
    structure: Structure,
    potential: Potential,
    cell: str | None = "aniso",
    etol: float = 1e-12,
    ftol: float = 1e-6,
    max_iter: int = 5000,
    pressure_bar: float = 0.0,
) -> Relaxed:
    """Minimise positions (and the cell: ``iso``, ``aniso``, ``tri``, ``hexagonal``, or None)."""
    potential.check_elements(el.symbol for el in structure.composition.elements)
    lmp = open_lammps()
    try:
        _load(lmp, structure, potential)
        lmp.command("thermo_style custom step pe press lx ly lz")
        if cell:
            spec = {"hexagonal": f"aniso {pressure_bar} couple xy"}.get(
                cell, f"{cell} {pressure_bar}"
            )
            lmp.command(f"fix relax all box/relax {spec} vmax 0.001")
        lmp.command("min_style cg")
        for _ in range(3 if cell else 1):  # box/relax needs restarts to converge the cell
            lmp.command(f"minimize {etol} {ftol} {max_iter} {10 * max_iter}")
        relaxed, forces = _snapshot(lmp, structure)
        return Relaxed(
            structure=relaxed,
            energy_eV=float(lmp.get_thermo("pe")),
            max_force_eV_A=float(np.abs(forces).max()),
            pressure_bar=float(lmp.get_thermo("press")),
        )
    finally:
        lmp.close()
