"""BiSnSb: random A7 alloy, threading edge/screw dislocation quadrupoles, K slab, controls."""

import numpy as np
import pytest

from atomflow.errors import InputError
from atomflow.structures import elasticity
from atomflow.structures.bisnsb import build_bisnsb, build_bisnsb_slab, parse_ratio
from atomflow.structures.checks import burgers_circuit


@pytest.fixture(scope="module")
def edge():
    return build_bisnsb_slab("edge", seed=4), build_bisnsb_slab("edge", control=True, seed=4)


@pytest.fixture(scope="module")
def screw():
    return build_bisnsb_slab("screw", seed=4), build_bisnsb_slab("screw", control=True, seed=4)


def test_bulk_alloy_is_random_a7_with_exact_counts():
    r = build_bisnsb(seed=1)
    assert r.ok, r.failed()
    assert r.checks["composition"]["counts"] == {"Bi": 64, "Sb": 64, "Sn": 64}
    assert r.checks["parent_symmetry"]["space_group"] == "R-3m"
    assert r.structure.lattice.a == pytest.approx(4 * 4.4073)
    assert r.checks["distances"]["min_distance"] == pytest.approx(2.99, abs=0.01)


def test_ratio_any_value_and_reproducible():
    r = build_bisnsb(ratio="0.5:0.25:0.25", seed=2)
    assert r.checks["composition"]["counts"] == {"Bi": 96, "Sb": 48, "Sn": 48}
    assert build_bisnsb(seed=2).structure == build_bisnsb(seed=2).structure
    assert parse_ratio("1:1:1") == pytest.approx({"Bi": 1 / 3, "Sn": 1 / 3, "Sb": 1 / 3})


@pytest.mark.parametrize("bad", ["0.5:0.3:0.3", (0.2, 0.2), "a:b:c", (-0.1, 0.6, 0.5)])
def test_ratio_must_sum_to_one(bad):
    with pytest.raises(InputError, match="ratio"):
        build_bisnsb(ratio=bad)


def test_edge_burgers_circuits_close_on_b(edge):
    disl, _ = edge
    assert disl.ok, disl.failed()
    d = disl.checks["dislocation"]
    b = 4.4073
    for core in d["cores"]:
        assert np.allclose(np.abs(core["burgers_vector"]), [b, 0, 0], atol=0.05)
        assert core["error"] < 0.05
    assert np.allclose(d["dipole_circuit"]["burgers_vector"], 0, atol=0.05)
    assert disl.metadata["line_direction"] == [0.0, 0.0, 1.0]
    assert disl.metadata["cores"][0]["burgers_vector"] == pytest.approx([b, 0, 0])
    assert disl.metadata["glide_plane_hex"] == "(0001)"


def test_edge_control_has_no_dislocation_and_same_atoms_and_box(edge):
    disl, ctrl = edge
    assert ctrl.ok
    for core in ctrl.checks["dislocation"]["cores"]:
        assert np.allclose(core["burgers_vector"], 0, atol=1e-6)
    assert [str(x) for x in ctrl.structure.species] == [str(x) for x in disl.structure.species]
    assert np.allclose(ctrl.structure.lattice.matrix, disl.structure.lattice.matrix)
    # the control run through the dislocated cell's circuits: the defect is really there
    c = disl.metadata["cores"][0]
    z0, top = disl.metadata["alloy_z_range"]
    mid = (z0 + top) / 2
    res = burgers_circuit(disl.structure, ctrl.structure, (c["x"], c["y"]), 8.0, (mid - 4, mid + 4))
    assert np.linalg.norm(res["burgers_vector"]) == pytest.approx(4.4073, abs=0.05)


def test_loop_enclosing_no_core_closes(edge):
    disl, ctrl = edge
    lx, ly = disl.structure.lattice.abc[:2]
    c = disl.metadata["cores"][0]
    z0, top = disl.metadata["alloy_z_range"]
    mid = (z0 + top) / 2
    centre = (c["x"] + lx / 4, c["y"] + ly / 4)  # between the four cores
    res = burgers_circuit(disl.structure, ctrl.structure, centre, 6.0, (mid - 4, mid + 4))
    assert np.allclose(res["burgers_vector"], 0, atol=0.05)


def test_screw_burgers_along_line(screw):
    disl, ctrl = screw
    assert disl.ok and ctrl.ok
    for core in disl.checks["dislocation"]["cores"]:
        assert np.allclose(np.abs(core["burgers_vector"]), [0, 0, 4.4073], atol=0.05)
    assert disl.metadata["burgers_vector_hex"].startswith("a[100]")
    assert len(disl.structure) == len(ctrl.structure)


def test_k_slab_on_top_with_gap_and_small_strain(edge):
    disl, _ = edge
    k = disl.metadata["k_slab"]
    assert abs(k["strain_e1"]) < 0.03 and abs(k["strain_e2"]) < 0.03
    z = disl.structure.cart_coords[:, 2]
    is_k = np.array([s.specie.symbol == "K" for s in disl.structure])
    assert z[is_k].min() - z[~is_k].max() == pytest.approx(3.0, abs=1e-6)
    assert is_k.sum() == k["n_atoms"] > 0
    assert disl.checks["distances"]["ok"]


def test_negative_gap_and_odd_size_rejected():
    with pytest.raises(InputError, match=r"gap=-1.*>= 0"):
        build_bisnsb_slab("edge", gap=-1.0)
    with pytest.raises(InputError, match="even"):
        build_bisnsb_slab("edge", size=(5, 4, 3))
    with pytest.raises(InputError, match="edge, screw, none"):
        build_bisnsb_slab("mixed")


def test_isotropic_fallback_also_closes():
    r = build_bisnsb_slab("edge", elastic="isotropic", size=(8, 4, 2), k_layers=0)
    assert r.ok, r.failed()
    assert r.metadata["elastic"]["field"].startswith("isotropic")


def test_stroh_field_reduces_to_isotropic_and_circulates_b():
    c = elasticity.isotropic_voigt(30.0, 0.3)
    c[3:, 3:] *= 1.02  # slightly anisotropic: Stroh roots stay distinct
    tensor = elasticity.voigt_to_tensor(c)
    th = np.linspace(-np.pi + 1e-6, np.pi - 1e-6, 200)
    x1, x2 = 5 * np.cos(th), 5 * np.sin(th)
    for b in ([2.0, 0, 0], [0, 0, 2.0]):
        ua = elasticity.anisotropic_displacement(tensor, np.array(b), x1, x2)
        ui = elasticity.isotropic_displacement(0.3, np.array(b), x1, x2)
        assert np.allclose(ua[-1] - ua[0], b, atol=1e-4)
        assert np.abs((ua - ua[50]) - (ui - ui[50])).max() < 0.02 * 2.0


def test_stroh_field_is_in_equilibrium_for_trigonal_constants():
    mean = {k: (elasticity.BI_CIJ[k] + elasticity.SB_CIJ[k]) / 2 for k in elasticity.BI_CIJ}
    rows = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]])
    c = elasticity.rotate_tensor(
        elasticity.voigt_to_tensor(elasticity.trigonal_voigt(**mean)), rows
    )
    b = np.array([4.4, 0, 0])

    def stress(x, y, h=1e-4):
        g = np.zeros((3, 3))
        for k, (dx, dy) in enumerate([(h, 0), (0, h)]):
            up = elasticity.anisotropic_displacement(c, b, np.array([x + dx]), np.array([y + dy]))
            um = elasticity.anisotropic_displacement(c, b, np.array([x - dx]), np.array([y - dy]))
            g[:, k] = (up - um)[0] / (2 * h)
        return np.einsum("ijkl,kl->ij", c, 0.5 * (g + g.T))

    h = 1e-3
    div = (stress(3 + h, 2) - stress(3 - h, 2))[:, 0] / (2 * h)
    div += (stress(3, 2 + h) - stress(3, 2 - h))[:, 1] / (2 * h)
    assert np.abs(div).max() < 1e-4 * np.abs(stress(3, 2)).max()
