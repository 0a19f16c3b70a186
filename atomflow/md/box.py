"""Cell ↔ LAMMPS box conversion and atom placement, using ASE's triclinic Prism."""

from __future__ import annotations

import numpy as np
from ase.calculators.lammps.coordinatetransform import Prism
from pymatgen.core import Structure

from atomflow.potentials import Potential


def lammps_box(structure: Structure) -> tuple[Prism, list[str]]:
    """Return the Prism and the ``region``/``create_box``-ready bounds for ``structure``."""
    prism = Prism(np.asarray(structure.lattice.matrix), pbc=True)
    xhi, yhi, zhi, xy, xz, yz = (float(v) for v in prism.get_lammps_prism())
    region = f"region box prism 0 {xhi!r} 0 {yhi!r} 0 {zhi!r} {xy!r} {xz!r} {yz!r} units box"
    return prism, [region]


def box_matrix(box: tuple) -> np.ndarray:
    """Rows = cell vectors from ``lmp.extract_box()`` output (boxlo, boxhi, xy, yz, xz, ...)."""
    boxlo, boxhi, xy, yz, xz = box[:5]
    lx, ly, lz = (boxhi[i] - boxlo[i] for i in range(3))
    return np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])


def setup_commands(
    structure: Structure, potential: Potential
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Box-creation commands, per-atom LAMMPS types and LAMMPS-frame positions."""
    potential.check_elements(el.symbol for el in structure.composition.elements)
    prism, region = lammps_box(structure)
    types = np.array([potential.type_of(site.specie.symbol) for site in structure], dtype=np.int32)
    positions = prism.vector_to_lammps(np.asarray(structure.cart_coords), wrap=True)
    from pymatgen.core import Element

    cmds = [
        f"units {potential.units}",
        f"atom_style {potential.atom_style}",
        "atom_modify map array sort 0 0.0",
        "boundary p p p",
        *region,
        f"create_box {len(potential.elements)} box",
    ]
    for i, el in enumerate(potential.elements, start=1):
        cmds.append(f"mass {i} {float(Element(el).atomic_mass)!r}")
    return cmds, types, positions


def load_structure(lmp, structure: Structure, potential: Potential) -> None:
    """Create the box, the atoms (with charges) and the potential in a fresh LAMMPS instance."""
    cmds, types, positions = setup_commands(structure, potential)
    lmp.commands_list(cmds)
    n = len(structure)
    lmp.create_atoms(n, list(range(1, n + 1)), types.tolist(), positions.ravel().tolist())
    for element, q in potential.charges.items():
        lmp.command(f"set type {potential.type_of(element)} charge {q!r}")
    lmp.commands_list(potential.lammps_commands())
