"""Harmonic phonons by finite displacements: phonopy for the bookkeeping, a backend for forces.

Pipeline: (optionally relax) -> choose a supercell from a minimum length -> phonopy's
symmetry-reduced displacements -> forces from a :class:`~atomflow.phonons.backend.ForceBackend`
(minus the forces of the undisplaced supercell, which removes residual-force bias) -> force
constants (symmetrised, so the acoustic sum rule holds) -> band structure along seekpath's
standard path, total DOS on a mesh, thermal properties, lowest frequency.

Pitfalls
--------
* Phonons of a structure that is not at a minimum are not meaningful. Residual forces above
  ``residual_force_tol`` warn (:class:`ResidualForceWarning`); above ``max_residual_force``
  they raise :class:`~atomflow.errors.InputError`. Both name the fix: ``relax=True``.
* Frequencies are in THz; imaginary modes are reported as negative frequencies (phonopy's
  convention). A structure is flagged dynamically unstable when any frequency on the band path
  or the mesh is below ``-imaginary_tol_THz``.
* Relaxation with LAMMPS returns the cell in the LAMMPS frame (a along x, b in the xy plane).
  That is a rigid rotation; frequencies, DOS and lattice parameters do not change.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from phonopy import Phonopy
from phonopy.structure.atoms import PhonopyAtoms
from pymatgen.core import Structure

from atomflow.errors import InputError
from atomflow.md.minimize import relax as lammps_relax
from atomflow.phonons.backend import ForceBackend, LammpsBackend, as_backend
from atomflow.potentials import Potential


class PhononWarning(UserWarning):
    """A phonon or QHA result that may be unreliable; the message says why and what to do."""


class ResidualForceWarning(PhononWarning):
    """The input structure is not at a force minimum; phonons may be unreliable."""


@dataclass(frozen=True)
class BandStructure:
    """Frequencies along a high-symmetry path.

    ``distances`` (1/Å, without 2π) and ``frequencies_THz`` (n_points, 3N) are one array per
    segment; ``labels`` are the segment end labels as phonopy gives them (one per break), and
    ``connections[i]`` says whether segment i continues into segment i+1.
    """

    distances: tuple[np.ndarray, ...]
    frequencies_THz: tuple[np.ndarray, ...]
    labels: tuple[str, ...]
    connections: tuple[bool, ...]


@dataclass(frozen=True)
class HarmonicResult:
    """Harmonic phonons of one structure, per unit cell of ``structure``.

    Attributes
    ----------
    structure : the (relaxed, if asked) unit cell the phonons belong to.
    supercell_matrix : 3x3 integer matrix used for the displacements.
    n_displacements : number of displaced supercells evaluated.
    max_residual_force_eV_A : largest force component on the undisplaced supercell.
    min_frequency_THz : lowest frequency over the band path and the mesh (negative = imaginary).
    imaginary_modes : True if ``min_frequency_THz < -imaginary_tol_THz``.
    gamma_frequencies_THz : all 3N frequencies at Γ, ascending.
    gamma_acoustic_THz : the three Γ frequencies closest to zero (acoustic sum rule: ~0).
    band : :class:`BandStructure` along seekpath's path.
    dos_frequencies_THz, dos_states_per_THz : total DOS per unit cell; integrates to 3N.
    temperatures_K, free_energy_kJ_mol, entropy_J_K_mol, heat_capacity_J_K_mol : harmonic
        thermal properties per mole of unit cells (phonopy's units), quantum statistics,
        zero-point energy included.
    """

    structure: Structure
    backend: str
    supercell_matrix: tuple[tuple[int, ...], ...]
    n_displacements: int
    max_residual_force_eV_A: float
    min_frequency_THz: float
    imaginary_modes: bool
    imaginary_tol_THz: float
    gamma_frequencies_THz: np.ndarray
    gamma_acoustic_THz: np.ndarray
    band: BandStructure
    dos_frequencies_THz: np.ndarray
    dos_states_per_THz: np.ndarray
    temperatures_K: np.ndarray
    free_energy_kJ_mol: np.ndarray
    entropy_J_K_mol: np.ndarray
    heat_capacity_J_K_mol: np.ndarray

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (no band or DOS arrays)."""
        lat = self.structure.lattice
        return {
            "formula": self.structure.composition.reduced_formula,
            "n_atoms": len(self.structure),
            "lattice_A": {"a": lat.a, "b": lat.b, "c": lat.c, "volume_A3": lat.volume},
            "backend": self.backend,
            "supercell_matrix": [list(r) for r in self.supercell_matrix],
            "n_displacements": self.n_displacements,
            "max_residual_force_eV_A": self.max_residual_force_eV_A,
            "min_frequency_THz": self.min_frequency_THz,
            "imaginary_modes": self.imaginary_modes,
            "gamma_acoustic_THz": [float(f) for f in self.gamma_acoustic_THz],
            "gamma_frequencies_THz": [float(f) for f in self.gamma_frequencies_THz],
            "dos_integral": float(np.trapezoid(self.dos_states_per_THz, self.dos_frequencies_THz)),
            "thermal": {
                "T_K": self.temperatures_K.tolist(),
                "free_energy_kJ_mol": self.free_energy_kJ_mol.tolist(),
                "entropy_J_K_mol": self.entropy_J_K_mol.tolist(),
                "heat_capacity_J_K_mol": self.heat_capacity_J_K_mol.tolist(),
            },
        }


def to_phonopy_atoms(structure: Structure) -> PhonopyAtoms:
    """A pymatgen Structure as phonopy's structure type."""
    return PhonopyAtoms(
        symbols=[site.specie.symbol for site in structure],
        cell=np.asarray(structure.lattice.matrix),
        scaled_positions=np.asarray(structure.frac_coords),
    )


def to_structure(cell: PhonopyAtoms) -> Structure:
    """Phonopy's structure type as a pymatgen Structure."""
    return Structure(cell.cell, list(cell.symbols), cell.scaled_positions)


def supercell_for(structure: Structure, min_length: float = 10.0) -> tuple[int, int, int]:
    """Diagonal supercell whose three face-to-face widths are all at least ``min_length`` Å.

    The width along axis i is V / |a_j x a_k|, the diameter of the largest sphere that fits;
    for a hexagonal cell it is a·sin(120°) in plane, not a.
    """
    if min_length <= 0:
        raise InputError(f"min_length must be positive (Å), got {min_length}")
    m = np.asarray(structure.lattice.matrix)
    vol = abs(np.linalg.det(m))
    widths = [vol / np.linalg.norm(np.cross(m[(i + 1) % 3], m[(i + 2) % 3])) for i in range(3)]
    return tuple(max(1, math.ceil(min_length / w - 1e-6)) for w in widths)


def relax_mode(structure: Structure, tol: float = 1e-3) -> str:
    """The ``fix box/relax`` mode that keeps this cell's shape class in the LAMMPS frame.

    Hexagonal-shaped (a = b, γ = 120°, α = β = 90°): ``hexagonal`` (a and b coupled);
    orthogonal cells: ``aniso`` (``iso`` when a = b = c); anything else: ``tri``.
    """
    a, b, c = structure.lattice.abc
    al, be, ga = structure.lattice.angles
    right = all(abs(x - 90) < 1e-2 for x in (al, be))
    if right and abs(a - b) < tol * a and abs(ga - 120) < 1e-2:
        return "hexagonal"
    if right and abs(ga - 90) < 1e-2:
        return "iso" if abs(a - b) < tol * a and abs(a - c) < tol * a else "aniso"
    return "tri"


def snap_to_symmetry(structure: Structure, symprec: float = 1e-3) -> Structure:
    """``structure`` with cell and positions snapped to the space group found within
    ``symprec`` Å (ASE's ``refine_symmetry``); same orientation, order and site properties.

    Why: a minimiser stops a few 1e-4 Å off a symmetric site (how far depends on the CPU's
    floating-point path); phonopy then finds a lower space group, and its force constants
    give a spurious imaginary acoustic branch near Γ (Li3N: −0.48 THz instead of none).
    """
    from ase.spacegroup.symmetrize import refine_symmetry

    from atomflow.structures.io import to_ase

    atoms = to_ase(structure)
    refine_symmetry(atoms, symprec=symprec)
    return Structure(
        atoms.cell.array,
        structure.species,
        atoms.get_scaled_positions(),
        site_properties=structure.site_properties,
    )


def relax_structure(
    structure: Structure,
    potential: Potential | str,
    pressure_bar: float = 0.0,
    symprec: float | None = 1e-3,
) -> Structure:
    """Relax positions and cell (shape class kept, see :func:`relax_mode`) with LAMMPS, then
    :func:`snap_to_symmetry` within ``symprec`` Å (``None`` skips the snap)."""
    backend = LammpsBackend(potential)
    backend.check(structure)
    relaxed = lammps_relax(
        structure, backend.potential, cell=relax_mode(structure), pressure_bar=pressure_bar
    ).structure
    return relaxed if symprec is None else snap_to_symmetry(relaxed, symprec)


def compute_phonopy(
    structure: Structure,
    potential: ForceBackend | Potential | str,
    supercell: tuple[int, int, int] | None = None,
    min_length: float = 10.0,
    displacement_A: float = 0.01,
    symmetrize: bool = True,
    residual_force_tol: float = 0.01,
    max_residual_force: float = 0.5,
    symprec: float = 1e-4,
) -> tuple[Phonopy, float]:
    """A Phonopy object with force constants set, and the max residual force (eV/Å).

    The unit cell is ``structure`` itself (phonopy's primitive = unit cell), so everything
    phonopy normalises per primitive cell is per ``structure``.
    """
    backend = as_backend(potential)
    backend.check(structure)
    if supercell is None:
        supercell = supercell_for(structure, min_length)
    if len(supercell) != 3 or any(int(n) < 1 for n in supercell):
        raise InputError(f"supercell must be three positive integers, got {supercell!r}")
    ph = Phonopy(
        to_phonopy_atoms(structure),
        supercell_matrix=np.diag([int(n) for n in supercell]),
        primitive_matrix="P",  # phonopy 4 would pick a primitive cell of its own ("auto")
        symprec=symprec,
    )
    ph.generate_displacements(distance=displacement_A)
    sc = to_structure(ph.supercell)
    ref_positions = np.asarray(ph.supercell.positions)
    displaced = [np.asarray(c.positions) for c in ph.supercells_with_displacements]
    forces = backend.forces(sc, [ref_positions, *displaced])
    residual = float(np.abs(forces[0]).max())
    _check_residual(structure, residual, residual_force_tol, max_residual_force)
    ph.forces = forces[1:] - forces[0]
    ph.produce_force_constants()
    if symmetrize:
        ph.symmetrize_force_constants()
    return ph, residual


def _check_residual(structure: Structure, residual: float, tol: float, hard: float) -> None:
    what = f"{structure.composition.reduced_formula} ({len(structure)} atoms)"
    fix = "pass relax=True (CLI: --relax) to relax the structure with the potential first"
    if residual > hard:
        raise InputError(
            f"structure {what} has residual forces up to {residual:.3g} eV/Å (limit "
            f"{hard} eV/Å): it is far from a minimum and its phonons are meaningless; {fix}"
        )
    if residual > tol:
        warnings.warn(
            f"structure {what} has residual forces up to {residual:.3g} eV/Å (> {tol} eV/Å); "
            f"phonons of an unrelaxed structure can show spurious soft or imaginary modes; {fix}",
            ResidualForceWarning,
            stacklevel=3,
        )


def harmonic_phonons(
    structure: Structure,
    potential: ForceBackend | Potential | str,
    supercell: tuple[int, int, int] | None = None,
    min_length: float = 10.0,
    relax: bool = False,
    mesh: float = 50.0,
    band_points: int = 51,
    t_max_K: float = 1000.0,
    t_step_K: float = 10.0,
    imaginary_tol_THz: float = 0.05,
    residual_force_tol: float = 0.01,
    dos_pitch_THz: float = 0.02,
) -> HarmonicResult:
    """Harmonic phonons of ``structure``: bands, DOS, thermal properties, stability flag.

    ``potential`` is a registry name, a :class:`Potential`, or any :class:`ForceBackend`
    (e.g. :class:`~atomflow.phonons.backend.AseBackend`). ``relax=True`` first relaxes
    positions and cell with LAMMPS (registry potentials only). ``mesh`` is phonopy's length
    for the DOS and thermal mesh. CLI: ``atomflow phonons STRUCTURE --potential NAME``.
    """
    backend = as_backend(potential)
    backend.check(structure)
    if relax:
        if not isinstance(backend, LammpsBackend):
            raise InputError(
                f"relax=True needs a LAMMPS registry potential, not backend {backend.name!r}; "
                "relax the structure with your calculator first and pass relax=False"
            )
        structure = relax_structure(structure, backend.potential)
    ph, residual = compute_phonopy(
        structure,
        backend,
        supercell=supercell,
        min_length=min_length,
        residual_force_tol=residual_force_tol,
    )
    band = _band_structure(ph, band_points)
    ph.run_mesh(mesh)
    mesh_min = float(np.min(ph.mesh.frequencies))
    ph.run_total_dos(freq_pitch=dos_pitch_THz)
    ph.run_thermal_properties(t_min=0, t_max=t_max_K, t_step=t_step_K, exclude_gamma_acoustic=True)
    tp = ph.thermal_properties
    gamma = np.sort(ph.run_qpoints([[0.0, 0.0, 0.0]]).frequencies[0])
    acoustic = gamma[np.argsort(np.abs(gamma))[:3]]
    band_min = min(float(f.min()) for f in band.frequencies_THz)
    min_freq = min(mesh_min, band_min)
    return HarmonicResult(
        structure=structure,
        backend=backend.name,
        supercell_matrix=tuple(tuple(int(v) for v in row) for row in ph.supercell_matrix),
        n_displacements=len(ph.displacements),
        max_residual_force_eV_A=residual,
        min_frequency_THz=min_freq,
        imaginary_modes=bool(min_freq < -imaginary_tol_THz),
        imaginary_tol_THz=imaginary_tol_THz,
        gamma_frequencies_THz=gamma,
        gamma_acoustic_THz=np.sort(acoustic),
        band=band,
        dos_frequencies_THz=np.asarray(ph.total_dos.frequency_points),
        dos_states_per_THz=np.asarray(ph.total_dos.dos),
        temperatures_K=np.asarray(tp.temperatures),
        free_energy_kJ_mol=np.asarray(tp.free_energy),
        entropy_J_K_mol=np.asarray(tp.entropy),
        heat_capacity_J_K_mol=np.asarray(tp.heat_capacity),
    )


def _band_structure(ph: Phonopy, npoints: int) -> BandStructure:
    """Bands along seekpath's standard path, expressed in this unit cell's reciprocal basis."""
    import seekpath

    cell = ph.primitive
    numbers = list(cell.numbers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SupercellWarning for defected supercells: expected
        path = seekpath.get_path_orig_cell((cell.cell, cell.scaled_positions, numbers))
    coords = {k: np.asarray(v) for k, v in path["point_coords"].items()}
    bands, labels, connections = [], [], []
    for i, (start, end) in enumerate(path["path"]):
        q0, q1 = coords[start], coords[end]
        bands.append(np.array([q0 + (q1 - q0) * t for t in np.linspace(0, 1, npoints)]))
        nxt = path["path"][i + 1][0] if i + 1 < len(path["path"]) else None
        connected = nxt == end
        connections.append(connected)
        if not labels:
            labels.append(start)
        labels.append(end)
        if not connected and nxt is not None:
            labels.append(nxt)
    labels = ["Γ" if s == "GAMMA" else s.replace("_", "") for s in labels]
    ph.run_band_structure(bands, path_connections=connections, labels=labels)
    bs = ph.band_structure
    return BandStructure(
        distances=tuple(np.asarray(x) for x in bs.distances),
        frequencies_THz=tuple(np.asarray(x) for x in bs.frequencies),
        labels=tuple(labels),
        connections=tuple(connections),
    )
