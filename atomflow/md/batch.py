"""One persistent LAMMPS instance that evaluates many displaced copies of one cell.

Finite-displacement phonons need forces for tens to hundreds of supercells that differ from a
reference only by small atomic displacements. Starting LAMMPS, reading the potential files, building
neighbour lists and setting up Ewald for each of them is pure overhead, so
:class:`BatchEvaluator` loads the reference cell once (one ``run 0`` for the full setup) and
then, per configuration, writes the positions with ``scatter_atoms("x", ...)`` and calls
``run 1 pre no post no``: no re-initialisation, a neighbour-list rebuild only when an atom has
moved more than half the skin, and energy and virial only when asked for (the SNAP energy
costs about half as much again as its forces).

How much this saves depends on the potential: the fixed cost of a fresh LAMMPS instance is a
few ms, so for expensive many-body potentials on large supercells the force call itself
dominates and the gain is about 2x; for cheap potentials or small cells it is larger.

Positions, forces and stresses are exchanged in the frame of the input structure (not the
rotated LAMMPS frame); the rotation is done here with the same ASE ``Prism`` as the box setup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from atomflow.errors import InputError
from atomflow.md.box import lammps_box
from atomflow.md.minimize import _load
from atomflow.md.session import open_lammps
from atomflow.potentials import Potential

#: LAMMPS ``metal`` units report pressure in bar; 1 bar = 1e-4 GPa.
_BAR_TO_GPA = 1e-4


@dataclass(frozen=True)
class Evaluation:
    """Energy, forces and stress of one configuration.

    ``forces_eV_A`` has shape (n_atoms, 3), in the input structure's frame and atom order.
    ``stress_GPa`` is the 3x3 stress tensor, also in the input frame, with ASE's sign
    convention (negative of the pressure tensor: positive = tensile). ``energy_eV`` and
    ``stress_GPa`` are None when the evaluator was opened with ``energy_stress=False``.
    """

    forces_eV_A: np.ndarray
    energy_eV: float | None = None
    stress_GPa: np.ndarray | None = None


class BatchEvaluator:
    """Energies, forces and stress for many configurations of one cell, in one LAMMPS.

    The cell (lattice, species, atom count) is fixed at construction; :meth:`evaluate` takes
    new Cartesian positions. ``energy_stress=False`` computes forces only, which is all that
    finite-displacement phonons need. Use as a context manager, or call :meth:`close`::

        with BatchEvaluator(supercell, potential) as ev:
            results = [ev.evaluate(p) for p in displaced_positions]
    """

    def __init__(
        self,
        structure: Structure,
        potential: Potential,
        energy_stress: bool = True,
        log: str | None = None,
    ):
        self.structure = structure
        self.potential = potential
        self.energy_stress = energy_stress
        self.n_atoms = len(structure)
        potential.check_elements(el.symbol for el in structure.composition.elements)
        self._prism, _ = lammps_box(structure)
        self._lmp = open_lammps(log=log)
        try:
            _load(self._lmp, structure, potential)
            keys = " pe pxx pyy pzz pxy pxz pyz" if energy_stress else ""
            # The last step of every run is a thermo step, on which LAMMPS tallies energy
            # and virial for its default pe and pressure computes even when thermo prints
            # neither: forces only needs them gone (measured on 256-atom SNAP Li3N: about
            # 1.3-1.5x faster).
            lean = [] if energy_stress else ["uncompute thermo_pe", "uncompute thermo_press"]
            self._lmp.commands_list(
                [
                    f"thermo_style custom step{keys}",
                    *lean,
                    "thermo 1000000000",
                    "neigh_modify every 1 delay 0 check yes",
                    "run 0",  # full setup, once
                ]
            )
        except Exception:
            self._lmp.close()
            raise

    def evaluate(self, positions: np.ndarray | None = None) -> Evaluation:
        """Evaluate at Cartesian ``positions`` (Å, shape (n_atoms, 3)); None = the reference."""
        if positions is None:
            positions = np.asarray(self.structure.cart_coords)
        positions = np.asarray(positions, dtype=float)
        if positions.shape != (self.n_atoms, 3):
            raise InputError(
                f"positions have shape {positions.shape}, expected ({self.n_atoms}, 3) for this "
                "cell; a BatchEvaluator handles one cell, open another for a different one"
            )
        if self._lmp is None:
            raise RuntimeError("this BatchEvaluator is closed")
        # Not wrapped: positions near the reference need no re-neighbouring; any atom that
        # moved by more than half the skin (e.g. a jump by a lattice vector) triggers one.
        rot = self._prism.rot_mat  # row vectors: LAMMPS frame = input frame @ rot_mat
        x = np.ascontiguousarray(positions @ rot)
        self._lmp.scatter_atoms("x", 1, 3, np.ctypeslib.as_ctypes(x.ravel()))
        self._lmp.command("run 1 pre no post no")
        f = np.ctypeslib.as_array(self._lmp.gather_atoms("f", 1, 3)).reshape(self.n_atoms, 3)
        forces = f @ rot.T  # a pure rotation: no wrapping of force vectors
        if not self.energy_stress:
            return Evaluation(forces_eV_A=forces)
        p = [float(self._lmp.get_thermo(k)) for k in ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz")]
        pressure = np.array(
            [[p[0], p[3], p[4]], [p[3], p[1], p[5]], [p[4], p[5], p[2]]], dtype=float
        )
        return Evaluation(
            forces_eV_A=forces,
            energy_eV=float(self._lmp.get_thermo("pe")),
            stress_GPa=-(rot @ pressure @ rot.T) * _BAR_TO_GPA,
        )

    def close(self) -> None:
        """Shut LAMMPS down; the evaluator cannot be used afterwards."""
        if self._lmp is not None:
            self._lmp.close()
            self._lmp = None

    def __enter__(self) -> BatchEvaluator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
