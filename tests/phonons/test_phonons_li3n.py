"""Phonons and QHA of Li3N with the shipped eSNAP, plus the force backends they stand on.

Oracles: exact agreement of the batched backend with fresh single points; the acoustic sum
rule (three zero modes at Γ, without symmetrising the force constants); the DOS integral 3N;
Dulong-Petit at high T; the classical QHA at 0 K equals the static minimum; NPT MD numbers.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from atomflow.errors import InputError
from atomflow.md.batch import BatchEvaluator
from atomflow.md.box import lammps_box
from atomflow.md.minimize import single_point
from atomflow.phonons.harmonic import (
    ResidualForceWarning,
    compute_phonopy,
    harmonic_phonons,
    relax_structure,
    supercell_for,
)
from atomflow.phonons.qha import compare_with_npt, run_qha
from atomflow.potentials import get_potential
from atomflow.structures.li3n import build_li3n

POT = "li3n-esnap"
R_GAS = 8.314462618  # J/K/mol
#: NPT MD at 300 K with the shipped study (3x3x3 cell, quick preset)
NPT_300K = {"a": 3.6755, "a_err": 0.0016, "c": 3.8929, "c_err": 0.0031}


@pytest.fixture(scope="module")
def relaxed():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return relax_structure(build_li3n((1, 1, 1)), POT)


@pytest.fixture(scope="module")
def harmonic(relaxed):
    return harmonic_phonons(relaxed, POT)


def test_batched_evaluator_matches_fresh_single_points():
    cell = build_li3n((2, 2, 2), a=3.60, c=3.85)
    pot = get_potential(POT)
    rot = lammps_box(cell)[0].rot_mat
    rng = np.random.default_rng(0)
    with BatchEvaluator(cell, pot) as ev, BatchEvaluator(cell, pot, energy_stress=False) as fast:
        for k in range(3):
            disp = rng.normal(0.0, 0.05, (len(cell), 3))
            if k == 2:
                disp[0] += cell.lattice.matrix[0]  # a jump by a lattice vector: same physics
            pos = cell.cart_coords + disp
            energy, forces = single_point(
                Structure(cell.lattice, cell.species, pos, coords_are_cartesian=True), pot
            )
            full, quick = ev.evaluate(pos), fast.evaluate(pos)
            assert full.energy_eV == pytest.approx(energy, abs=1e-9)
            np.testing.assert_allclose(full.forces_eV_A @ rot, forces, atol=1e-10)
            np.testing.assert_allclose(quick.forces_eV_A, full.forces_eV_A, atol=1e-12)
            assert quick.energy_eV is None and full.stress_GPa.shape == (3, 3)
        # forces only: no energy or virial tally is left for the last (thermo) step of a run
        assert not fast._lmp.has_id("compute", "thermo_pe")
        assert ev._lmp.has_id("compute", "thermo_pe")


def test_stress_of_compressed_li3n_is_diagonal_and_compressive():
    # Li3N compressed along all axes: stress negative (compressive) on the diagonal,
    # symmetric, and the hexagonal symmetry makes xx == yy.
    cell = build_li3n((1, 1, 1), a=3.55, c=3.80)
    with BatchEvaluator(cell, get_potential(POT)) as ev:
        s = ev.evaluate().stress_GPa
    np.testing.assert_allclose(s, s.T, atol=1e-9)
    assert s[0, 0] == pytest.approx(s[1, 1], abs=1e-6)
    assert s[0, 0] < 0 and s[2, 2] < 0
    assert np.abs(s - np.diag(np.diag(s))).max() < 1e-6


def test_supercell_from_minimum_width():
    li3n = build_li3n((1, 1, 1), a=3.64, c=3.87)
    assert supercell_for(li3n) == (4, 4, 3)  # in-plane width is a·sin 120° = 3.15 Å
    cubic = Structure(Lattice.cubic(5.0), ["Li"], [[0, 0, 0]])
    assert supercell_for(cubic, min_length=10.0) == (2, 2, 2)
    with pytest.raises(InputError, match="min_length"):
        supercell_for(cubic, min_length=0)


def test_li3n_is_dynamically_stable_and_obeys_sum_rules(harmonic, relaxed):
    assert harmonic.supercell_matrix == ((4, 0, 0), (0, 4, 0), (0, 0, 3))
    assert not harmonic.imaginary_modes
    assert harmonic.min_frequency_THz > -harmonic.imaginary_tol_THz
    assert harmonic.max_residual_force_eV_A < 1e-6
    assert np.abs(harmonic.gamma_acoustic_THz).max() < 1e-3
    assert harmonic.gamma_frequencies_THz[3] > 1.0  # first optical mode well above zero
    n_modes = 3 * len(relaxed)
    integral = np.trapezoid(harmonic.dos_states_per_THz, harmonic.dos_frequencies_THz)
    assert integral == pytest.approx(n_modes, rel=0.01)
    # Dulong-Petit: C_V -> 3N R from below at high T
    cv_1000 = harmonic.heat_capacity_J_K_mol[-1]
    assert harmonic.temperatures_K[-1] == pytest.approx(1000.0)
    assert 0.9 * n_modes * R_GAS < cv_1000 < n_modes * R_GAS
    assert len(harmonic.band.labels) > 3 and harmonic.band.labels[0] == "Γ"
    summary = harmonic.summary()
    json.dumps(summary)
    assert summary["imaginary_modes"] is False and len(summary["gamma_acoustic_THz"]) == 3


def test_acoustic_sum_rule_holds_without_symmetrisation(relaxed):
    ph, _ = compute_phonopy(relaxed, POT, supercell=(3, 3, 3), symmetrize=False)
    gamma = np.sort(np.abs(ph.run_qpoints([[0, 0, 0]]).frequencies[0]))
    assert gamma[:3].max() < 0.05  # THz: forces are translation invariant to high precision
    assert gamma[3] > 1.0


def test_elements_outside_the_potential_are_refused():
    crn = Structure(Lattice.cubic(4.14), ["Cr", "N"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(InputError, match=r"Cr.*li3n-esnap"):
        harmonic_phonons(crn, POT)
    with pytest.raises(InputError, match="Cr"):
        run_qha(crn, POT)


def test_unrelaxed_structures_warn_or_fail_and_relax_fixes_them(relaxed):
    nudged = relaxed.copy()
    nudged.translate_sites([0], [0.0, 0.0, 0.04], frac_coords=False)
    with pytest.warns(ResidualForceWarning, match="relax=True"):
        compute_phonopy(nudged, POT, supercell=(2, 2, 2))
    far = relaxed.copy()
    far.translate_sites([0], [0.0, 0.0, 0.6], frac_coords=False)
    with pytest.raises(InputError, match="relax=True"):
        compute_phonopy(far, POT, supercell=(2, 2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResidualForceWarning)
        fixed = harmonic_phonons(far, POT, supercell=(2, 2, 2), relax=True)
    assert fixed.max_residual_force_eV_A < 1e-3 and not fixed.imaginary_modes


@pytest.mark.slow
def test_qha_li3n_against_npt_md_at_300K(relaxed):
    result = run_qha(relaxed, POT, t_max_K=400.0)
    assert result.supercell_matrix == (4, 4, 3)
    t = result.temperatures_K
    assert t[0] == 0.0 and t[-1] >= 400.0 and result.max_valid_T_K >= 400.0
    # classical QHA at 0 K is the static minimum; zero-point motion expands the lattice
    assert result.classical_volume_A3[0] == pytest.approx(result.static_volume_A3, rel=1e-3)
    assert result.volume_A3[0] > result.static_volume_A3 * 1.01
    assert np.all(np.diff(result.volume_A3) >= 0) and np.all(
        np.diff(result.classical_volume_A3) > 0
    )
    assert np.all(result.volume_A3 >= result.classical_volume_A3)
    assert 30.0 < result.static_bulk_modulus_GPa < 80.0
    assert np.all(result.bulk_modulus_GPa < result.static_bulk_modulus_GPa)
    rows = {r["quantity"]: r for r in compare_with_npt(result, NPT_300K, 300.0)}
    assert set(rows) == {"a", "c"}
    for key in ("a", "c"):
        row = rows[key]
        assert row["diff_quantum_pct"] == pytest.approx(
            100 * (row["qha_quantum"] - NPT_300K[key]) / NPT_300K[key]
        )
        assert abs(row["diff_classical_pct"]) < 1.0
        assert abs(row["diff_quantum_pct"]) < 1.0
    # the same rows from the JSON summary (what the workflow task stores)
    from_summary = compare_with_npt(json.loads(json.dumps(result.summary())), NPT_300K, 300.0)
    assert from_summary[0]["qha_classical"] == pytest.approx(rows["a"]["qha_classical"])
    with pytest.raises(InputError, match="lacks c"):
        compare_with_npt(result, {"a": 3.67}, 300.0)


def test_a_cell_a_few_1e_4_A_off_symmetry_is_snapped_back(relaxed):
    """A minimiser stops ~1e-4 Å off the symmetric sites (how far depends on the CPU); phonopy
    then sees P-3m1 and gives an imaginary acoustic branch. The snap restores P6/mmm."""
    import spglib

    from atomflow.phonons.harmonic import snap_to_symmetry

    def number(s):
        cell = (s.lattice.matrix, s.frac_coords, [site.specie.Z for site in s])
        return spglib.get_symmetry_dataset(cell, symprec=1e-5).number

    off = relaxed.copy()
    off.translate_sites([0], [2.5e-4, 0.0, 0.0], frac_coords=False)
    assert number(relaxed) == 191 and number(off) != 191
    snapped = snap_to_symmetry(off)
    assert number(snapped) == 191
    assert np.abs(snapped.cart_coords - off.cart_coords).max() < 1e-3  # a snap, not a move
    far = relaxed.copy()
    far.translate_sites([0], [0.0, 0.0, 0.6], frac_coords=False)
    assert number(relax_structure(far, POT)) == 191
