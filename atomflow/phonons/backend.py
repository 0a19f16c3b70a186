"""Force backends for finite-displacement phonons: one narrow seam, two implementations.

A backend answers one question: the forces on every atom of a supercell for a list of
displaced position sets (same lattice, same species). Phonopy only ever needs that.

* :class:`LammpsBackend` evaluates any registry potential in-process: one LAMMPS instance per
  call (:class:`ForceLoop`), set up once, then only the atoms move. LAMMPS is not
  re-initialised per displacement and computes forces only (no energy, no virial).
* :class:`AseBackend` wraps any ASE calculator (CHGNet, SevenNet, MACE, EMT, ...), for machine-
  learned universal potentials that are not LAMMPS pair styles.

Where the time goes (``benchmarks/phonons.py`` measures it, CPU ms on the supercells that
``min_length=10`` picks): a fresh LAMMPS instance costs about 5.5 ms before it computes
anything (start 2, box, atoms and potential files 1-2.5, neighbour lists and Ewald set-up
0.6-2, close 0.3), and a fresh ``run 0`` also computes the energy and virial (+5 ms for the
eSNAP). What no batching removes is the force call itself: 13.6 ms for the eSNAP on the
192-atom Li3N supercell (almost all of it the SNAP term; coul/long and Ewald together about
0.5 ms) and 6.5 ms for the POD on the 216-atom Li2ZrCl6 one. So there the batched loop is
about 1.8x (eSNAP, 4 configurations) and 2.4x (POD, 82) faster than a new instance per
displacement, and 1.3x and 2.1x faster than a new instance with the same forces-only
settings; 5x is reached only on small cells, where set-up dominates (POD, 27 atoms: 5.4x).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from pymatgen.core import Structure

from atomflow.errors import InputError
from atomflow.md.box import box_matrix, lammps_box, load_structure
from atomflow.md.session import open_lammps
from atomflow.potentials import Potential, get_potential

#: LAMMPS settings for force-only evaluations (also used by the benchmark's naive loop, so
#: that both do the same work per force call).
#:
#: * ``thermo_pe`` and ``thermo_press`` exist in every LAMMPS instance; while they do, LAMMPS
#:   computes the energy and the virial on every thermo step (whatever ``thermo_style``
#:   prints), and the last step of every ``run`` is a thermo step. For SNAP the energy costs
#:   about 40 % on top of the forces. Phonons need forces only, so both computes go.
#: * ``check yes`` every step: the neighbour lists are rebuilt as soon as any atom has moved
#:   more than half the skin (2 Å in metal units) since the last build, so moved atoms are
#:   always evaluated with valid lists; phonopy's 0.01 Å displacements never trigger one.
FORCES_ONLY_COMMANDS: tuple[str, ...] = (
    "thermo_style custom step",
    "thermo 1000000000",
    "uncompute thermo_pe",
    "uncompute thermo_press",
    "neigh_modify every 1 delay 0 check yes",
)


class ForceLoop:
    """Forces for many position sets of one cell in one LAMMPS instance, forces only.

    The box, species, charges and potential are set up once. :meth:`forces` writes new
    Cartesian positions (input frame, Å) with ``scatter_atoms``; the first call runs the full
    set-up (``run 0``: neighbour lists, Ewald/PPPM set-up) on those positions, later calls
    ``run 1 pre no post no``, which skips re-initialisation. That is exact, not an
    approximation, because nothing the set-up depends on changes: the box and the charges
    are fixed (Ewald k-vectors, PPPM grid and g_ewald depend only on them; the structure
    factors are recomputed from the positions on every call), and the neighbour lists are
    rebuilt whenever an atom has moved more than half the skin (``check yes`` every step).

    Each position set is first mapped to the periodic image nearest the positions LAMMPS
    holds (the same physics), so that an atom on the cell boundary does not jump by a lattice
    vector and force a needless neighbour-list rebuild. Forces come back in the input frame
    and atom order. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, structure: Structure, potential: Potential, log: str | None = None):
        potential.check_elements(el.symbol for el in structure.composition.elements)
        self.n_atoms = len(structure)
        self._rot = lammps_box(structure)[0].rot_mat  # LAMMPS frame = input frame @ rot
        self._set_up = False
        self._lmp = open_lammps(log=log)
        try:
            load_structure(self._lmp, structure, potential)
            self._lmp.commands_list(list(FORCES_ONLY_COMMANDS))
            self._cell = box_matrix(self._lmp.extract_box())
            self._inv_cell = np.linalg.inv(self._cell)
            self._x_ref = self._gather("x")  # where LAMMPS holds the atoms (wrapped)
        except Exception:
            self._lmp.close()
            raise

    def forces(self, positions: np.ndarray) -> np.ndarray:
        """Forces (eV/Å, shape (n_atoms, 3), input frame) at Cartesian ``positions`` (Å)."""
        if self._lmp is None:
            raise RuntimeError("this ForceLoop is closed")
        positions = np.asarray(positions, dtype=float)
        if positions.shape != (self.n_atoms, 3):
            raise InputError(
                f"positions have shape {positions.shape}, expected ({self.n_atoms}, 3) for this "
                "cell; a ForceLoop handles one cell, open another for a different one"
            )
        # the image of each atom nearest to where LAMMPS holds it (same physics)
        frac = (positions @ self._rot - self._x_ref) @ self._inv_cell
        x = np.ascontiguousarray(self._x_ref + (frac - np.round(frac)) @ self._cell)
        self._lmp.scatter_atoms("x", 1, 3, np.ctypeslib.as_ctypes(x.ravel()))
        if self._set_up:
            self._lmp.command("run 1 pre no post no")
        else:
            self._lmp.command("run 0")  # the full set-up, evaluated at these positions
            self._x_ref = self._gather("x")  # as wrapped by the set-up
            self._set_up = True
        return self._gather("f") @ self._rot.T  # a pure rotation back to the input frame

    def _gather(self, name: str) -> np.ndarray:
        data = self._lmp.gather_atoms(name, 1, 3)
        return np.ctypeslib.as_array(data).reshape(self.n_atoms, 3).copy()

    def close(self) -> None:
        """Shut LAMMPS down; the loop cannot be used afterwards."""
        if self._lmp is not None:
            self._lmp.close()
            self._lmp = None

    def __enter__(self) -> ForceLoop:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@runtime_checkable
class ForceBackend(Protocol):
    """Anything that returns forces (eV/Å) for displaced copies of one supercell."""

    name: str

    def check(self, structure: Structure) -> None:
        """Raise :class:`InputError` if ``structure`` cannot be evaluated (e.g. elements)."""

    def forces(self, supercell: Structure, positions: Sequence[np.ndarray]) -> np.ndarray:
        """Forces, shape (len(positions), n_atoms, 3), for each Cartesian position set (Å)."""


class LammpsBackend:
    """Forces from a registry potential, one LAMMPS instance (:class:`ForceLoop`) per call."""

    def __init__(self, potential: Potential | str):
        self.potential = get_potential(potential) if isinstance(potential, str) else potential
        self.name = f"lammps:{self.potential.name}"

    def check(self, structure: Structure) -> None:
        self.potential.check_elements(el.symbol for el in structure.composition.elements)

    def forces(self, supercell: Structure, positions: Sequence[np.ndarray]) -> np.ndarray:
        self.check(supercell)
        if len(positions) == 0:
            return np.zeros((0, len(supercell), 3))
        with ForceLoop(supercell, self.potential) as loop:
            return np.array([loop.forces(p) for p in positions])


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
