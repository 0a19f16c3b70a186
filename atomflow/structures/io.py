"""Structure files at the edge: the format follows the file name.

=========== ========================================================================
``.cif``    pymatgen ``CifWriter`` (partial occupancies kept)
``.extxyz`` ASE extended XYZ (charges in ``initial_charges``, site properties as arrays)
``.vasp``   VASP POSCAR (also a file named ``POSCAR`` or ``CONTCAR``)
``.data``   LAMMPS data file, ``atom_style charge``, metal units, Masses with element
            comments; the first line records the type map (``Li=1 Zr=2 ...``)
=========== ========================================================================

Charges for ``.data`` come from the site property ``charge``, else from an element →
oxidation-state map, else zero. Types are numbered in ``type_order`` (default: the order of
first appearance of each element in the structure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read as ase_read
from ase.io import write as ase_write
from ase.io.lammpsdata import read_lammps_data, write_lammps_data
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.cif import CifWriter

from atomflow.errors import InputError

FORMATS = {".cif": "cif", ".extxyz": "extxyz", ".vasp": "vasp", ".data": "lammps-data"}


def format_of(path: str | Path) -> str:
    """The format name for ``path``, or an error listing the known extensions."""
    p = Path(path)
    if p.name in ("POSCAR", "CONTCAR"):
        return "vasp"
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InputError(
            f"cannot tell the format of {p.name!r}; use one of {', '.join(FORMATS)} "
            "(or a file named POSCAR)"
        )
    return fmt


def type_map(structure: Structure, type_order: Sequence[str] | None = None) -> dict[str, int]:
    """LAMMPS type number per element (1-based)."""
    present = list(dict.fromkeys(site.specie.symbol for site in structure))
    order = list(type_order) if type_order else present
    missing = [e for e in present if e not in order]
    if missing:
        raise InputError(f"type_order {list(order)} lacks elements {missing}")
    return {e: i + 1 for i, e in enumerate(order)}


def site_charges(
    structure: Structure, oxidation_states: Mapping[str, float] | None = None
) -> np.ndarray:
    """Per-site charge: the ``charge`` site property, else the oxidation-state map, else 0."""
    if "charge" in structure.site_properties:
        return np.asarray(structure.site_properties["charge"], float)
    if oxidation_states:
        return np.array([float(oxidation_states.get(s.specie.symbol, 0)) for s in structure])
    return np.zeros(len(structure))


def to_ase(structure: Structure, oxidation_states: Mapping[str, float] | None = None) -> Atoms:
    """ASE Atoms with ``initial_charges`` set and string site properties left out."""
    plain = Structure(
        structure.lattice, [s.specie.symbol for s in structure], structure.frac_coords
    )
    atoms = AseAtomsAdaptor.get_atoms(plain)
    atoms.set_initial_charges(site_charges(structure, oxidation_states))
    for key, values in structure.site_properties.items():
        if key != "charge":
            atoms.arrays[key] = np.array([str(v) for v in values])
    return atoms


def write_structure(
    structure: Structure,
    path: str | Path,
    oxidation_states: Mapping[str, float] | None = None,
    type_order: Sequence[str] | None = None,
) -> dict:
    """Write ``structure`` to ``path`` in the format of its extension; returns what was written."""
    path = Path(path)
    fmt = format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info: dict = {"path": str(path), "format": fmt}
    if fmt == "cif":
        plain = Structure(structure.lattice, structure.species, structure.frac_coords)
        CifWriter(plain).write_file(path)
    elif fmt == "vasp":
        ase_write(path, to_ase(structure), format="vasp", direct=True, sort=False)
    elif fmt == "extxyz":
        ase_write(path, to_ase(structure, oxidation_states), format="extxyz")
    else:
        tmap = type_map(structure, type_order)
        atoms = to_ase(structure, oxidation_states)
        with open(path, "w") as fd:
            write_lammps_data(
                fd,
                atoms,
                specorder=list(tmap),
                atom_style="charge",
                masses=True,
                units="metal",
            )
        text = path.read_text().split("\n", 1)
        header = "atomflow: type map " + " ".join(f"{e}={t}" for e, t in tmap.items())
        path.write_text(header + "\n" + text[1])
        info["type_map"] = tmap
        info["total_charge"] = float(atoms.get_initial_charges().sum())
    return info


def read_structure(path: str | Path) -> Structure:
    """Read a file written by :func:`write_structure` (``.data`` uses its type-map line)."""
    path = Path(path)
    fmt = format_of(path)
    if fmt == "cif":
        return Structure.from_file(path)
    if fmt == "lammps-data":
        first = path.read_text().split("\n", 1)[0]
        if "type map" not in first:
            raise InputError(f"{path} has no atomflow type-map line; cannot name the types")
        pairs = [p.split("=") for p in first.split("type map", 1)[1].split()]
        z_of = {int(t): Atoms(e).numbers[0] for e, t in pairs}
        with open(path) as fd:
            atoms = read_lammps_data(fd, Z_of_type=z_of, atom_style="charge", units="metal")
    else:
        atoms = ase_read(path, format=fmt)
    s = AseAtomsAdaptor.get_structure(atoms)
    return Structure(
        s.lattice,
        s.species,
        s.frac_coords,
        site_properties={"charge": list(atoms.get_initial_charges())},
    )
