"""The Li2ZrCl6–N report's arithmetic on synthetic task outputs (no MD)."""

import math

import numpy as np
import pytest

from atomflow.analysis.arrhenius import KB_EV_K
from atomflow.studies.lzc_report import comparison_rows, composition_rows, paper_values, trends

E = 1.602176634e-19
KB = 1.380649e-23

REFERENCE = {
    "source": "test",
    "lattice": {"0": {"a": 11.053, "c": 5.962, "V": 630.739}, "0.15": {"a": 11.145, "c": 6.042}},
    "Ea_eV": {"0": 0.349, "0.15": 0.244},
    "sigma_RT_mS_cm": {"0": 0.51, "0.15": 1.50, "0.25": 0.74},
}


def _npt(a, c, err=0.002):
    return {
        "temperature_K": 300.0,
        "lattice": {
            "a": a,
            "a_err": err,
            "c": c,
            "c_err": err,
            "V": a * a * c * 0.866,
            "V_err": 0.3,
        },
    }


def _transport(T, D, n_li=48, volume=5000.0):
    return {
        "temperature_K": T,
        "D_cm2_s": D,
        "D_err_cm2_s": 0.05 * D,
        "converged": True,
        "n_mobile": n_li,
        "volume_A3": volume,
        "fit_start_ps": 1.0,
        "fit_end_ps": 5.0,
        "sigma_NE_mS_cm": 1.0,
        "sigma_EH_mS_cm": 1.0,
        "sigma_EH_err_mS_cm": 0.5,
        "sigma_EH_converged": False,
        "haven_ratio": float("nan"),
    }


def _series(x, Ea, D0=1e-3, temps=(600.0, 750.0, 900.0)):
    return [x] * len(temps), [_transport(T, D0 * math.exp(-Ea / (KB_EV_K * T))) for T in temps]


def test_arrhenius_and_nernst_einstein_recover_the_inputs():
    xs0, tr0 = _series(0.0, 0.30)
    xs1, tr1 = _series(0.15, 0.20)
    rows = composition_rows([0.0, 0.15], [_npt(11.0, 5.95), _npt(11.1, 6.02)], xs0 + xs1, tr0 + tr1)
    r0, r1 = rows
    assert r0["Ea_eV"] == pytest.approx(0.30, rel=1e-6)
    assert r1["Ea_eV"] == pytest.approx(0.20, rel=1e-6)
    d300 = 1e-3 * math.exp(-0.30 / (KB_EV_K * 300))
    assert r0["D300_cm2_s"] == pytest.approx(d300, rel=1e-6)
    # σ = n q² D / (kB T), SI, written out independently of atomflow.analysis.transport
    n = 48 / (5000.0e-30)
    sigma_S_m = n * E**2 * (d300 * 1e-4) / (KB * 300.0)
    assert r0["sigma300_mS_cm"] == pytest.approx(sigma_S_m * 10, rel=1e-6)
    assert r0["sigma300_err"] > 0
    # the inputs' σ_EH is flagged unconverged: the row carries the flag and no Haven ratio
    assert r0["diffusion"][0]["sigma_EH_converged"] is False
    assert r0["diffusion"][0]["haven_ratio"] is None


def test_nernst_einstein_matches_the_papers_derived_diffusivity():
    # targets.md (derived): σ = 0.51 mS/cm for 6 Li per 630.739 Å³ at 298.15 K ⇔ D ≈ 8.6e-9
    from atomflow.analysis.transport import nernst_einstein

    ne = nernst_einstein({"Li": 8.6e-9}, {"Li": 0.0}, {"Li": 6}, {"Li": 1.0}, 630.739, 298.15)
    assert ne.sigma_mS_cm == pytest.approx(0.51, rel=0.02)


def test_trends_verdicts_follow_the_error_bars():
    paper = paper_values(REFERENCE)
    xs0, tr0 = _series(0.0, 0.30)
    xs1, tr1 = _series(0.15, 0.20)
    xs2, tr2 = _series(0.25, 0.28)
    rows = composition_rows(
        [0.0, 0.15, 0.25],
        [_npt(11.0, 5.95), _npt(11.1, 5.95), _npt(11.12, 6.0)],
        xs0 + xs1 + xs2,
        tr0 + tr1 + tr2,
    )
    verdict = {t["finding"]: t["reproduced"] for t in trends(rows, paper)}
    assert verdict["a expands from x = 0 to 0.15"] == "yes"
    assert verdict["c expands from x = 0 to 0.15"] == "not resolved"  # equal c
    assert verdict["Ea lower at x = 0.15 than at x = 0"] == "yes"
    assert verdict["σ(RT) peaks at x = 0.15"] == "yes"
    # a contraction is reported as not reproduced
    rows_bad = composition_rows([0.0, 0.15], [_npt(11.1, 6.0), _npt(11.0, 6.1)], [], [])
    bad = {t["finding"]: t["reproduced"] for t in trends(rows_bad, paper)}
    assert bad["a expands from x = 0 to 0.15"] == "no"
    assert bad["c expands from x = 0 to 0.15"] == "yes"
    assert bad["Ea lower at x = 0.15 than at x = 0"] == "not computed"


def test_configurations_are_averaged_with_their_scatter():
    rows = composition_rows(
        [0.1, 0.1, 0.1], [_npt(11.0, 6.0), _npt(11.1, 6.0), _npt(11.2, 6.0)], [], []
    )
    (r,) = rows
    assert r["n_configs"] == 3
    assert r["a"] == pytest.approx(11.1)
    assert r["a_err"] == pytest.approx(np.std([11.0, 11.1, 11.2], ddof=1) / np.sqrt(3))
    assert r["Ea_eV"] is None and "no transport" in r["note"]


def test_comparison_rows_carry_deviations():
    paper = paper_values(REFERENCE)
    rows = composition_rows([0.0], [_npt(11.053 * 1.01, 5.962)], [], [])
    cmp = {(c["x"], c["quantity"]): c for c in comparison_rows(rows, paper)}
    assert cmp[(0.0, "a (Å)")]["deviation_pct"] == pytest.approx(1.0)
    assert cmp[(0.0, "Ea (eV)")]["ours"] is None and cmp[(0.0, "Ea (eV)")]["deviation_pct"] is None


def test_an_unresolved_diffusivity_is_shown_as_its_upper_bound_not_a_negative_value():
    from atomflow.studies.numbers import fmt_d

    # a slope of -3e-8 ± 5e-8 cm²/s (Li that never hopped): the bound, never the negative fit
    assert fmt_d(-3e-8, 5e-8, converged=False) == "≤ 1e-07 (not resolved)"
    assert fmt_d(2e-8, 5e-8, converged=False) == "≤ 1.2e-07 (not resolved)"
    assert fmt_d(4e-7, 5e-8, converged=False) == "4e-07 ± 5e-08"  # resolved, just flagged
    assert fmt_d(4e-7, 5e-8, converged=True) == "4e-07 ± 5e-08"
    assert fmt_d(None, None, converged=False) == "n/a"


def test_collapsed_configurations_are_left_out_and_an_all_collapsed_row_gives_no_sigma():
    from atomflow.studies.lzc_report import markdown

    intact = [_transport(T, 1e-3 * math.exp(-0.3 / (KB_EV_K * T))) for T in (600.0, 750.0, 900.0)]
    broken = {"invalid": True, "converged": False, "note": "host collapsed: W-W"}
    collapsed = [{**r, **broken, "D_cm2_s": 1e-2, "sigma_NE_mS_cm": 99.0} for r in intact]
    # two configurations per temperature, one collapsed; at 900 K both collapsed
    records = intact[:2] + collapsed + [collapsed[2]]
    rows = composition_rows([0.0], [_npt(11.0, 5.95)], [0.0] * len(records), records)
    by_T = {d["T_K"]: d for d in rows[0]["diffusion"]}
    for T, r in zip((600.0, 750.0), intact, strict=False):
        assert by_T[T]["D_cm2_s"] == pytest.approx(r["D_cm2_s"])  # the collapsed one left out
        assert by_T[T]["n_configs"] == 1 and by_T[T]["n_collapsed"] == 1
        assert not by_T[T]["invalid"] and by_T[T]["sigma_NE_mS_cm"] == 1.0
    hot = by_T[900.0]
    assert hot["invalid"] and hot["n_collapsed"] == 2 and not hot["converged"]
    assert hot["sigma_NE_mS_cm"] is None and hot["haven_ratio"] is None
    assert "collapsed" in hot["haven_note"]
    # two intact temperatures still give an Arrhenius fit of the intact runs
    assert rows[0]["Ea_eV"] == pytest.approx(0.3, rel=1e-6)
    report = {
        "title": "t",
        "potential": "p",
        "paper": {"source": "s"},
        "compositions": rows,
        "comparison": [],
        "trends": [],
        "qha_vs_npt": [],
        "notes": [],
        "plots": [],
    }
    line = next(s for s in markdown(report).splitlines() if s.startswith("| 0 | 900 |"))
    assert "invalid (host collapsed)" in line and "99" not in line
    assert line.rstrip(" |").endswith("— | — | —")
