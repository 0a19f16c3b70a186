"""The two force backends on one Lennard-Jones crystal: same forces, same phonons.

A user's potential.toml with ``lj/cut`` feeds the LAMMPS backend; ASE's LennardJones with
the same parameters feeds the ASE backend. fcc argon (one atom per primitive cell) has
only acoustic branches and is dynamically stable.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.lj import LennardJones
from pymatgen.core import Lattice, Structure

from atomflow.errors import InputError
from atomflow.phonons.backend import AseBackend, LammpsBackend, as_backend
from atomflow.phonons.harmonic import compute_phonopy, harmonic_phonons

SIGMA, EPS, RC = 3.40, 0.0104, 7.0


@pytest.fixture
def lj_toml(tmp_path):
    path = tmp_path / "ar-lj" / "potential.toml"
    path.parent.mkdir()
    path.write_text(
        'name = "ar-lj"\nelements = ["Ar"]\n'
        f'pair_style = "lj/cut {RC}"\npair_coeff = ["1 1 {EPS} {SIGMA}"]\n'
        'citation = "test fixture"\n'
    )
    return str(path)


def fcc_ar(a: float = 5.25) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Ar"], [[0, 0, 0]])


def test_lammps_and_ase_backends_give_the_same_forces(lj_toml):
    cell = fcc_ar() * (2, 2, 2)
    rng = np.random.default_rng(3)
    positions = [cell.cart_coords + rng.normal(0, 0.03, (len(cell), 3)) for _ in range(3)]
    lammps = LammpsBackend(lj_toml).forces(cell, positions)
    ase = AseBackend(LennardJones(sigma=SIGMA, epsilon=EPS, rc=RC, smooth=False)).forces(
        cell, positions
    )
    assert lammps.shape == (3, len(cell), 3)
    np.testing.assert_allclose(lammps, ase, atol=1e-8)


def test_ase_backend_phonons_match_lammps_phonons(lj_toml):
    calc = LennardJones(sigma=SIGMA, epsilon=EPS, rc=RC, smooth=False)
    via_ase = harmonic_phonons(fcc_ar(), AseBackend(calc, elements=["Ar"]), supercell=(2, 2, 2))
    via_lammps = harmonic_phonons(fcc_ar(), lj_toml, supercell=(2, 2, 2))
    assert not via_ase.imaginary_modes and np.abs(via_ase.gamma_acoustic_THz).max() < 1e-3
    np.testing.assert_allclose(
        via_ase.gamma_frequencies_THz, via_lammps.gamma_frequencies_THz, atol=1e-4
    )
    for fa, fl in zip(via_ase.band.frequencies_THz, via_lammps.band.frequencies_THz, strict=True):
        np.testing.assert_allclose(fa, fl, atol=1e-4)
    assert via_ase.backend == "ase:LennardJones"


def test_backend_errors_name_the_input():
    ar = fcc_ar()
    with pytest.raises(InputError, match=r"Ar.*li3n-esnap"):
        compute_phonopy(ar, "li3n-esnap", supercell=(1, 1, 1))
    with pytest.raises(InputError, match=r"Ar.*does not cover"):
        AseBackend(LennardJones(), elements=["Li", "N"]).check(ar)
    with pytest.raises(InputError, match="AseBackend"):
        as_backend(LennardJones())
    with pytest.raises(InputError, match="relax=True needs a LAMMPS"):
        harmonic_phonons(ar, AseBackend(LennardJones()), relax=True)
    with pytest.raises(InputError, match="unknown potential"):
        harmonic_phonons(ar, "no-such-potential")
    with pytest.raises(InputError, match="supercell"):
        compute_phonopy(ar, AseBackend(LennardJones()), supercell=(0, 1, 1))


def test_the_unit_cell_given_is_phonopy_primitive_cell():
    """Everything phonopy normalises per primitive cell (DOS, free energy) must be per the
    structure given: a conventional 4-atom fcc cell stays 4 atoms (12 branches), and its
    free energy is 4 times that of the 1-atom primitive cell."""
    calc = LennardJones(sigma=SIGMA, epsilon=EPS, rc=RC, smooth=False)
    backend = AseBackend(calc, elements=["Ar"])
    conventional = fcc_ar()
    primitive = conventional.get_primitive_structure()
    assert (len(conventional), len(primitive)) == (4, 1)
    ph4, _ = compute_phonopy(conventional, backend, supercell=(2, 2, 2))
    ph1, _ = compute_phonopy(primitive, backend, supercell=(4, 4, 4))
    assert len(ph4.primitive) == 4 and len(ph1.primitive) == 1
    free = []
    for ph in (ph4, ph1):
        ph.run_mesh([12, 12, 12])
        ph.run_thermal_properties(temperatures=[50.0])
        free.append(ph.get_thermal_properties_dict()["free_energy"][0])
    assert free[0] == pytest.approx(4 * free[1], rel=0.02)
