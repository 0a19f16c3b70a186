"""Cr2(NCN)3/CrN and γ-Mo2N/δ-WN: lattice match, shared strain, stoichiometry, Li placement."""

import numpy as np
import pytest

from atomflow.errors import InputError
from atomflow.structures.crncn_crn import build_crncn_crn
from atomflow.structures.heterostructure import _unit_normal
from atomflow.structures.mo2n_wn import build_mo2n_wn, ordered_mo2n


@pytest.fixture(scope="module")
def crncn():
    return build_crncn_crn(n_li=4)


@pytest.fixture(scope="module")
def mo2n():
    return build_mo2n_wn(n_li=3)


def li_z(r):
    s = r.structure
    z = s.cart_coords @ _unit_normal(s.lattice)
    return z[[i for i, x in enumerate(s) if x.specie.symbol == "Li"]]


def test_crncn_default_match_strain_below_3_percent_each_side(crncn):
    m = crncn.metadata
    assert m["film_strain"] < 0.03 and m["substrate_strain"] < 0.03
    assert m["area"] == pytest.approx(97.1, abs=0.5)
    assert m["terminations"] == {"film": "Cr_P6/mmm_2", "substrate": "Cr_R-3m_1"}
    assert crncn.checks["strain"]["ok"]


def test_crncn_stoichiometric_sides_intact_ncn_and_checks(crncn):
    assert crncn.ok, crncn.failed()
    st = crncn.checks["stoichiometry"]
    assert st["film"] == {"Cr": 48, "C": 72, "N": 144}
    assert st["substrate"]["Cr"] == st["substrate"]["N"]
    assert crncn.checks["ncn_units"]["ok"]
    assert crncn.checks["bulk_symmetry"]["film"]["space_group"] == "R-3c"
    assert crncn.checks["bulk_symmetry"]["substrate"]["space_group"] == "Fm-3m"


def test_crncn_li_charge_compensated_and_at_interface(crncn):
    ch = crncn.checks["charge"]
    assert ch["total_charge"] == pytest.approx(4.0) and ch["ok"]
    h = crncn.structure.lattice.volume / crncn.metadata["area"]
    d = [
        min(abs((z - zi + h / 2) % h - h / 2) for zi in crncn.metadata["interfaces_z"])
        for z in li_z(crncn)
    ]
    assert len(d) == 4 and max(d) <= 3.0


def test_crncn_li_in_film_bulk():
    r = build_crncn_crn(n_li=2, li_region="film")
    lo, hi = r.metadata["film_z_range"]
    assert all(lo + (hi - lo) / 3 <= z <= hi - (hi - lo) / 3 for z in li_z(r))
    assert r.ok


def test_crncn_rocksalt_bulk_has_no_room_for_li_at_default_margin():
    with pytest.raises(InputError, match="lower li_margin"):
        build_crncn_crn(n_li=1, li_region="substrate")


def test_terminations_and_gap_validated():
    with pytest.raises(InputError, match=r"termination=9; choose 0\.\.1"):
        build_crncn_crn(termination=9)
    with pytest.raises(InputError, match="gap"):
        build_crncn_crn(gap=-0.5)


def test_mo2n_ordering_is_i41amd():
    s, info = ordered_mo2n()
    assert info["space_group"] == "I4_1/amd" and info["orderings"] == 70
    assert s.composition.reduced_formula == "Mo2N"


def test_mo2n_wn_interface(mo2n):
    assert mo2n.ok, mo2n.failed()
    m = mo2n.metadata
    assert m["film_strain"] < 0.03 and m["substrate_strain"] < 0.03
    assert mo2n.checks["stoichiometry"]["ok"]
    assert mo2n.checks["bulk_symmetry"]["substrate"]["space_group"] == "P-6m2"
    assert len(li_z(mo2n)) == 3
    assert 300 < len(mo2n.structure) < 3000
    assert mo2n.checks["charge"]["compensated_by"]["charge"] == 3.0


def test_li_placement_reproducible_from_seed():
    a = build_mo2n_wn(n_li=2, li_selection="random", seed=5, inplane_repeat=(2, 2))
    b = build_mo2n_wn(n_li=2, li_selection="random", seed=5, inplane_repeat=(2, 2))
    assert np.allclose(li_z(a), li_z(b))


def test_ordered_mo2n_bulk_is_a_whole_mo2n_cell_for_fits():
    """The catalogue's γ-Mo2N has N at half occupancy; the 'mo2n' builder orders it."""
    from atomflow.structures import build_system

    made = build_system("mo2n", supercell=[2, 2, 1])[0]
    s = made.structure
    assert s.is_ordered and s.composition.reduced_formula == "Mo2N"
    assert len(s) == 48 and made.checks["ordered"]["ok"]
    assert s.lattice.a / 2 == pytest.approx(4.163) and s.lattice.c / 2 == pytest.approx(4.163)


def test_off_faces_moves_sites_off_the_oriented_cell_faces_and_keeps_the_slab_primitive():
    """A site on a face of the (111) cell of rock-salt CrN wraps to 0 or to 1 - 1e-16 by CPU;
    at 1 its layer splits and the slab loses its primitive in-plane cell (2.933 Å)."""
    from pymatgen.core.surface import SlabGenerator

    from atomflow.structures.crncn_crn import bulk_crn
    from atomflow.structures.heterostructure import _oriented_cell, off_faces

    bulk = bulk_crn()
    moved = off_faces(bulk, (1, 1, 1))
    c = _oriented_cell(moved, (1, 1, 1)).frac_coords[:, 2]
    assert np.min(np.abs(c - np.round(c))) > 1e-4
    assert np.allclose(moved.distance_matrix, bulk.distance_matrix)  # a rigid translation
    df = moved.frac_coords[0] - bulk.frac_coords[0]
    step = bulk.lattice.get_cartesian_coords(df - np.round(df))
    assert np.allclose(np.cross(step, [1, 1, 1]), 0, atol=1e-9)  # along the (111) normal
    slab = SlabGenerator(
        moved, (1, 1, 1), 1, 3, in_unit_planes=True, primitive=True, reorient_lattice=False
    ).get_slab(shift=0)
    assert slab.lattice.a == pytest.approx(4.148 / np.sqrt(2), abs=1e-6)
    assert slab.composition.reduced_formula == "CrN" and len(slab) == 2
