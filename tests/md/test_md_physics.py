"""MD physics with the shipped eSNAP Li3N potential: symmetry, lattice, conservation, thermostat."""

import numpy as np
import pytest

from atomflow.md.minimize import relax, single_point
from atomflow.potentials import get_potential
from atomflow.structures.li3n import build_li3n

POT = get_potential("li3n-esnap")


def test_perfect_crystal_feels_no_force():
    """Every site of α-Li3N is an inversion centre: forces vanish by symmetry."""
    energy, forces = single_point(build_li3n((2, 2, 2)), POT)
    assert np.abs(forces).max() < 1e-8
    assert np.isfinite(energy) and energy < 0


def test_relaxed_lattice_matches_published_esnap_and_experiment():
    """Box relaxation reproduces eSNAP's own a, c (3.6416 / 3.8719 Å, independent run)
    and experiment (3.648 / 3.875 Å) within 0.3 %."""
    r = relax(build_li3n((3, 3, 3)), POT, cell="hexagonal")
    lat = r.structure.lattice
    a, c = lat.a / 3, lat.c / 3
    assert a == pytest.approx(3.6416, rel=2e-4)
    assert c == pytest.approx(3.8719, rel=2e-4)
    assert a == pytest.approx(3.648, rel=3e-3) and c == pytest.approx(3.875, rel=3e-3)
    assert lat.gamma == pytest.approx(120, abs=1e-6)
    assert r.max_force_eV_A < 1e-4 and abs(r.pressure_bar) < 50


def test_lammps_box_preserves_geometry():
    """The cell → LAMMPS prism conversion keeps lengths, angles and interatomic distances."""
    s = build_li3n((2, 2, 2), li_vacancies=1, seed=3)
    r = relax(s, POT, cell=None, max_iter=0)
    assert np.allclose(r.structure.lattice.abc, s.lattice.abc, atol=1e-9)
    assert np.allclose(r.structure.lattice.angles, s.lattice.angles, atol=1e-9)
    assert np.allclose(r.structure.distance_matrix, s.distance_matrix, atol=1e-8)


def test_missing_element_is_rejected_before_lammps_starts():
    from pymatgen.core import Lattice, Structure

    from atomflow.errors import InputError

    s = Structure(Lattice.cubic(4), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(InputError, match="Cl, which potential 'li3n-esnap' does not cover"):
        single_point(s, POT)
