"""The batched LAMMPS force loop equals a fresh LAMMPS evaluation, configuration by configuration.

The fast path sets LAMMPS up once and then only moves atoms (``run 1 pre no post no``, forces
only). Oracle: :func:`atomflow.md.minimize.single_point`, a new LAMMPS instance per
configuration with full initialisation. Covered: Ewald (the shipped eSNAP, SNAP +
coul/long), PPPM (a user potential), a many-body potential without Coulomb (the shipped POD
on ZBL); phonopy-size displacements, random ones, atoms given in another periodic image, and
a displacement beyond half the neighbour skin (forces a list rebuild) followed by small ones
again.
"""

from __future__ import annotations

import numpy as np
import pytest
from phonopy import Phonopy
from pymatgen.core import Structure

from atomflow.errors import InputError
from atomflow.md.box import lammps_box
from atomflow.md.minimize import single_point
from atomflow.phonons.backend import ForceLoop, LammpsBackend
from atomflow.phonons.harmonic import to_phonopy_atoms, to_structure
from atomflow.potentials import get_potential
from atomflow.structures.li2zrcl6 import build_li2zrcl6
from atomflow.structures.li3n import build_li3n

TOL = 1e-9  # eV/Å; both paths agree to round-off (~1e-13)


@pytest.fixture
def pppm_toml(tmp_path):
    """Li3N point charges with long-range Coulomb by PPPM (no shipped potential uses PPPM)."""
    path = tmp_path / "li3n-pppm" / "potential.toml"
    path.parent.mkdir()
    path.write_text(
        'name = "li3n-pppm"\nelements = ["Li", "N"]\natom_style = "charge"\n'
        'pair_style = "coul/long 6.0"\npair_coeff = ["* *"]\nkspace = "pppm 1.0e-6"\n'
        "charges = { Li = 0.239, N = -0.717 }\n"
        'citation = "test fixture"\n'
    )
    return str(path)


def _configurations(cell: Structure) -> list[np.ndarray]:
    """Reference, phonopy's displacements, random ones, another image, a rebuild and back."""
    ph = Phonopy(
        to_phonopy_atoms(cell), supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P"
    )
    ph.generate_displacements(distance=0.01)
    ref = np.asarray(to_structure(ph.supercell).cart_coords)
    out = [ref, *(np.asarray(c.positions) for c in ph.supercells_with_displacements)]
    rng = np.random.default_rng(7)
    noisy = ref + rng.normal(0.0, 0.03, ref.shape)
    out.append(noisy)
    jumped = noisy.copy()
    jumped[0] += cell.lattice.matrix[0]  # a lattice vector: the same configuration
    jumped[-1] -= cell.lattice.matrix[2]
    out.append(jumped)
    far = ref.copy()
    far[1] += [1.3, 0.0, 0.0]  # beyond half the 2 Å skin: LAMMPS must rebuild its lists
    out.append(far)
    out.append(out[1])  # a small displacement again, after the rebuild
    return out


def _cell(kind: str) -> Structure:
    if kind == "li2zrcl6":
        return to_structure(to_phonopy_atoms(build_li2zrcl6(0.0, supercell=(1, 1, 1)).structure))
    return to_structure(to_phonopy_atoms(build_li3n((2, 2, 2), a=3.64, c=3.87)))


@pytest.mark.parametrize(
    ("potential", "kind"),
    [("li3n-esnap", "li3n"), ("pppm", "li3n"), ("li2zrcl6n-pod", "li2zrcl6")],
    ids=["esnap-ewald", "coulomb-pppm", "pod-zbl"],
)
def test_fast_forces_equal_a_fresh_lammps_evaluation(potential, kind, pppm_toml):
    pot = get_potential(pppm_toml if potential == "pppm" else potential)
    cell = _cell(kind)
    configs = _configurations(cell)
    fast = LammpsBackend(pot).forces(cell, configs)
    assert fast.shape == (len(configs), len(cell), 3)
    rot = lammps_box(cell)[0].rot_mat  # single_point returns forces in the LAMMPS frame
    for positions, forces in zip(configs, fast, strict=True):
        fresh = single_point(
            Structure(cell.lattice, cell.species, positions, coords_are_cartesian=True), pot
        )[1]
        np.testing.assert_allclose(forces @ rot, fresh, rtol=0, atol=TOL)
    # the displacements produce real force differences (the check is not vacuous)
    assert np.abs(fast[1] - fast[0]).max() > 1e-4


def test_force_loop_rejects_other_cells_and_handles_no_configurations():
    cell = build_li3n((1, 1, 1), a=3.64, c=3.87)
    backend = LammpsBackend("li3n-esnap")
    assert backend.forces(cell, []).shape == (0, len(cell), 3)
    with ForceLoop(cell, backend.potential) as loop:
        with pytest.raises(InputError, match="expected"):
            loop.forces(np.zeros((len(cell) + 1, 3)))
        first = loop.forces(cell.cart_coords)
        np.testing.assert_allclose(loop.forces(cell.cart_coords), first, atol=1e-12)
    with pytest.raises(RuntimeError, match="closed"):
        loop.forces(cell.cart_coords)
