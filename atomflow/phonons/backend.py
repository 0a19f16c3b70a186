"""Force backends for finite-displacement phonons: one narrow seam, two implementations.

A backend answers one question: the forces on every atom of a supercell for a list of
displaced position sets (same lattice, same species). Phonopy only ever needs that.

* :class:`LammpsBackend` evaluates any registry potential in-process, keeping one LAMMPS
  instance per supercell (:class:`atomflow.md.batch.BatchEvaluator`), so LAMMPS is not
  re-initialised per displacement.
* :class:`AseBackend` wraps any ASE calculator (CHGNet, SevenNet, MACE, EMT, ...), for machine-
  learned universal potentials that are not LAMMPS pair styles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from pymatgen.core import Structure

from atomflow.errors import InputError
from atomflow.md.batch import BatchEvaluator
from atomflow.potentials import Potential, get_potential


@runtime_checkable
class ForceBackend(Protocol):
    """Anything that returns forces (eV/Å) for displaced copies of one supercell."""

    name: str

    def check(self, structure: Structure) -> None:
        """Raise :class:`InputError` if ``structure`` cannot be evaluated (e.g. elements)."""

    def forces(self, supercell: Structure, positions: Sequence[np.ndarray]) -> np.ndarray:
        """Forces, shape (len(positions), n_atoms, 3), for each Cartesian position set (Å)."""


class LammpsBackend:
    """Forces from a registry potential, one persistent LAMMPS instance per supercell."""

    def __init__(self, potential: Potential | str):
        self.potential = get_potential(potential) if isinstance(potential, str) else potential
        self.name = f"lammps:{self.potential.name}"

    def check(self, structure: Structure) -> None:
        self.potential.check_elements(el.symbol for el in structure.composition.elements)

    def forces(self, supercell: Structure, positions: Sequence[np.ndarray]) -> np.ndarray:
        self.check(supercell)
        with BatchEvaluator(supercell, self.potential, energy_stress=False) as ev:
            return np.array([ev.evaluate(p).forces_eV_A for p in positions])


class AseBackend:
    """Forces from any ASE calculator (``calculator.get_forces`` on an ``Atoms``).

    ``elements`` optionally lists the species the model covers, so that a structure outside
    it is refused with a clear message before any work; universal models can leave it None.
    """

    def __init__(self, calculator, elements: Sequence[str] | None = None, name: str | None = None):
        self.calculator = calculator
        self.elements = tuple(elements) if elements is not None else None
        self.name = name or f"ase:{type(calculator).__name__}"

    def check(self, structure: Structure) -> None:
        if self.elements is None:
            return
        missing = sorted({el.symbol for el in structure.composition.elements} - set(self.elements))
        if missing:
            raise InputError(
                f"structure contains {', '.join(missing)}, which calculator {self.name!r} does "
                f"not cover (it has {', '.join(self.elements)}); choose another calculator"
            )

    def forces(self, supercell: Structure, positions: Sequence[np.ndarray]) -> np.ndarray:
        from pymatgen.io.ase import AseAtomsAdaptor

        self.check(supercell)
        atoms = AseAtomsAdaptor.get_atoms(supercell)
        atoms.calc = self.calculator
        out = []
        for p in positions:
            atoms.positions = np.asarray(p, dtype=float)
            out.append(np.array(atoms.get_forces(), dtype=float))
        return np.array(out)


def as_backend(potential: ForceBackend | Potential | str) -> ForceBackend:
    """A backend from a registry name, a :class:`Potential`, or a backend itself."""
    if isinstance(potential, str | Potential):
        return LammpsBackend(potential)
    if isinstance(potential, ForceBackend):
        return potential
    raise InputError(
        f"potential must be a registry name, a Potential or a ForceBackend, "
        f"not {type(potential).__name__}; wrap an ASE calculator in AseBackend(calc)"
    )
