"""Li(2+2x)ZrCl(6-x)N(x): whole counts, exact ratio, neutrality, distances, seeds, Ewald."""

import numpy as np
import pytest
from pymatgen.core.ewald import EwaldSummation

from atomflow.errors import InputError
from atomflow.structures.li2zrcl6 import (
    build_li2zrcl6,
    build_li2zrcl6_ensemble,
    choose_supercell,
    reachable_x,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:Issues encountered while parsing CIF"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture(scope="module")
def x015():
    return build_li2zrcl6(0.15, seed=1)


def counts(s):
    out = {}
    for site in s:
        out[site.specie.symbol] = out.get(site.specie.symbol, 0) + 1
    return out


def test_x015_ratio_is_exactly_2_3_to_1_to_5_85_to_0_15(x015):
    c = counts(x015.structure)
    zr = c["Zr"]
    assert (c["Li"] * 100, c["Cl"] * 100, c["N"] * 100) == (230 * zr, 585 * zr, 15 * zr)
    assert x015.metadata["supercell"] == [2, 2, 5]
    assert c == {"Li": 138, "Zr": 60, "Cl": 351, "N": 9}
    assert x015.checks["ratio"]["ok"] and x015.checks["composition"]["ok"]


def test_x015_neutral_no_overlaps_and_hcp_framework(x015):
    assert x015.ok, x015.failed()
    assert x015.checks["charge"]["total_charge"] == 0
    assert x015.checks["distances"]["min_distance"] > 2.5  # ideal M-Cl 2.597 Å
    assert x015.checks["anion_framework"]["number"] == 194  # Cl+N stay on the hcp array


def test_x015_n_follows_refined_site_weights_and_brings_two_li_each(x015):
    assert x015.metadata["n_N_per_site"] == {"Cl1": 1, "Cl2": 3, "Cl3": 5}
    labels = x015.structure.site_properties["site_label"]
    assert sum(v == "Li:extra" for v in labels) == 18
    assert x015.checks["defects"]["n_N_per_site"] == {"Cl1": 1, "Cl2": 3, "Cl3": 5}


def test_no_face_sharing_6g_6h_li_pairs(x015):
    labels = np.array(x015.structure.site_properties["site_label"])
    li = x015.structure.cart_coords[np.isin(labels, ["Li:6g", "Li:6h"])]
    d = x015.structure.lattice.get_all_distances(
        x015.structure.lattice.get_fractional_coords(li),
        x015.structure.lattice.get_fractional_coords(li),
    )
    np.fill_diagonal(d, 10)
    assert d.min() > 3.0  # 6g/6h pairs stacked along c (2.98 Å) are never both filled


def test_seed_reproducible_and_distinct():
    a = build_li2zrcl6(0.1, seed=7)
    b = build_li2zrcl6(0.1, seed=7)
    c = build_li2zrcl6(0.1, seed=8)
    assert a.structure == b.structure
    assert a.structure != c.structure


def test_electrostatic_li_beats_random_and_energy_is_ewald():
    ew = build_li2zrcl6(0.25, seed=3)
    rnd = build_li2zrcl6(0.25, seed=3, li_placement="random")
    s = ew.structure.copy()
    s.add_oxidation_state_by_element({"Li": 1, "Zr": 4, "Cl": -1, "N": -3})
    e_direct = EwaldSummation(s).total_energy
    assert ew.metadata["ewald_energy_eV"] == pytest.approx(e_direct, abs=1e-3)
    r = rnd.structure.copy()
    r.add_oxidation_state_by_element({"Li": 1, "Zr": 4, "Cl": -1, "N": -3})
    assert e_direct < EwaldSummation(r).total_energy
    # electrostatics keeps the extra Li off the faces of ZrCl6 octahedra where it can
    zr_ew = ew.checks["defects"]["extra_li_face_sharing"]["Zr"]
    assert zr_ew < rnd.checks["defects"]["extra_li_face_sharing"]["Zr"]


def test_ewald_ranked_ensemble_is_distinct_and_sorted():
    ens = build_li2zrcl6_ensemble(0.2, n_configs=3, ewald_samples=12, seed=0)
    e = [r.metadata["ewald_energy_eV"] for r in ens]
    assert e == sorted(e)
    keys = {
        tuple(r.structure.site_properties["site_label"])
        + tuple(r.structure.cart_coords.ravel().round(4))
        for r in ens
    }
    assert len(keys) == 3
    assert all(r.ok for r in ens)


@pytest.mark.parametrize("x", [0.0, 0.05, 0.1, 0.15, 0.2, 0.25])
def test_every_paper_composition_has_whole_counts(x):
    r = build_li2zrcl6(x, li_placement="random")
    n = r.metadata["n_cells"]
    assert 3 * n * x == pytest.approx(round(3 * n * x))
    assert r.checks["composition"]["ok"] and r.checks["charge"]["ok"]


def test_full_disorder_model_spreads_zr():
    r = build_li2zrcl6(0.25, disorder="full", seed=2)
    assert r.ok
    zr_layers = {lab for lab in r.structure.site_properties["site_label"] if lab.startswith("Zr")}
    assert len(zr_layers) > 2  # Zr found on more than the 1a/2d sites of the model


def test_bad_x_is_rejected_with_the_allowed_range():
    with pytest.raises(InputError, match=r"0 <= x <= 0.25"):
        build_li2zrcl6(0.3)


def test_unreachable_x_names_reachable_values():
    with pytest.raises(InputError, match=r"whole counts need x in \{0, 0.041667"):
        build_li2zrcl6(0.13, supercell=(2, 2, 2))
    with pytest.raises(InputError, match="multiple of 100 cells"):
        choose_supercell(0.13)
    assert reachable_x(20)[:3] == [0.0, 0.016667, 0.033333]


def test_n_can_be_kept_off_neighbouring_anion_sites():
    """With n_min_distance_A every two N are at least that far apart (random placement puts
    neighbours at 3.66 Å in this cell); the composition and the site weights are unchanged;
    an impossible request says what to change."""
    from atomflow.errors import InputError
    from atomflow.structures import build_system
    from atomflow.structures.checks import min_distances

    free = build_system("li2zrcl6", x=0.2, seed=1)[0]
    apart = build_system("li2zrcl6", x=0.2, seed=1, n_min_distance_A=4.0)[0]
    assert min_distances(free.structure, 7.0)["N-N"] < 4.0
    assert min_distances(apart.structure, 7.0)["N-N"] >= 4.0
    assert apart.structure.composition == free.structure.composition
    assert apart.metadata["n_N_per_site"] == free.metadata["n_N_per_site"]
    assert apart.metadata["n_min_distance_A"] == 4.0
    with pytest.raises(InputError, match="n_min_distance_A"):
        build_system("li2zrcl6", x=0.25, seed=1, n_min_distance_A=12.0)
