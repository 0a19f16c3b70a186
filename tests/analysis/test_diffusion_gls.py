"""GLS diffusivity: exact covariance model, calibrated error bars, regime detection, flags."""

from pathlib import Path

import numpy as np
import pytest

from atomflow.analysis.diffusion import (
    fit_diffusivity,
    local_slope,
    rw_msd_covariance,
)
from atomflow.analysis.msd import compute_msd


def _brute_c1(m, n, T):
    s = 0
    for k in range(T - m):
        for kk in range(T - n):
            s += max(0, min(k + m, kk + n) - max(k, kk)) ** 2
    return 2 * s / ((T - m) * (T - n))


def test_random_walk_covariance_closed_form_equals_direct_sum():
    T = 13
    lags = np.arange(1, T)
    ref = np.array([[_brute_c1(min(a, b), max(a, b), T) for b in lags] for a in lags])
    assert np.allclose(rw_msd_covariance(lags, T), ref, rtol=1e-12, atol=0)


def test_random_walk_covariance_matches_monte_carlo():
    """Empirical covariance of the 1-D MSD of 20,000 unit-step walks agrees within 5 %."""
    rng = np.random.default_rng(0)
    T, lags = 30, np.array([1, 4, 12, 25])
    x = np.cumsum(rng.normal(0, 1, (T, 20000)), axis=0)
    from atomflow.analysis.msd import msd_fft_1d

    curves = msd_fft_1d(x)[lags]  # (n_lags, walks)
    emp = np.cov(curves)
    assert np.allclose(emp, rw_msd_covariance(lags, T), rtol=0.05)


def _gaussian_walks(n_walks, n_atoms, n_frames, D, dt, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n_walks):
        pos = np.cumsum(rng.normal(0, np.sqrt(2 * D * dt), (n_frames, n_atoms, 3)), axis=0)
        yield compute_msd(pos, np.arange(n_frames) * dt, directions=("xyz",))


def _hopping_walks(n_walks, n_atoms, n_frames, p, a, seed):
    """Lattice hops of length a along ±x, ±y, ±z with probability p per frame + vibration."""
    rng = np.random.default_rng(seed)
    for _ in range(n_walks):
        hop = rng.random((n_frames, n_atoms)) < p
        axis = rng.integers(0, 3, (n_frames, n_atoms))
        sign = rng.choice([-1.0, 1.0], (n_frames, n_atoms))
        steps = np.zeros((n_frames, n_atoms, 3))
        np.put_along_axis(steps, axis[..., None], (sign * a * hop)[..., None], axis=2)
        pos = np.cumsum(steps, axis=0) + rng.normal(0, 0.1, (n_frames, n_atoms, 3))
        yield compute_msd(pos, np.arange(n_frames) * 1.0, directions=("xyz",))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gaussian", "hopping"])
def test_error_bars_are_calibrated(kind):
    """Over 60 independent walks with known D, z = (D̂ − D)/σ has a std in [0.8, 1.25]
    and a mean within 3 standard errors of 0."""
    if kind == "gaussian":
        D_true = 0.5  # Å²/ps
        msds = _gaussian_walks(60, 16, 300, D_true, 1.0, seed=1)
    else:
        D_true = 0.05 / 6  # p a² / 6, Å²/ps with 1 ps frames
        msds = _hopping_walks(60, 16, 400, 0.05, 1.0, seed=2)
    z = []
    for msd in msds:
        fit = fit_diffusivity(msd, "xyz", min_displacement_A2=0.0)
        assert fit.converged, fit.note
        z.append((fit.D_cm2_s * 1e4 - D_true) / (fit.D_err_cm2_s * 1e4))
    z = np.array(z)
    assert 0.8 <= z.std(ddof=1) <= 1.25
    assert abs(z.mean()) < 3 * z.std(ddof=1) / np.sqrt(len(z))


def test_ballistic_then_caged_then_diffusive_window_starts_late():
    """A caged walk (vibration of 0.5 Å around sites that hop rarely) is diffusive only after
    the cage plateau: the detected start lies beyond the plateau, and β ≈ 1 there."""
    rng = np.random.default_rng(4)
    T, N = 2000, 40
    hop = rng.random((T, N)) < 0.02
    sites = np.cumsum(hop[..., None] * rng.choice([-2.0, 2.0], (T, N, 3)), axis=0)
    pos = sites + rng.normal(0, 0.5, (T, N, 3))
    msd = compute_msd(pos, np.arange(T) * 0.1, directions=("xyz",))
    fit = fit_diffusivity(msd, "xyz")
    assert fit.converged, fit.note
    assert fit.fit_start_ps > 1.0  # the plateau (≈ 1.5 Å²) lasts a few ps
    D_true = 0.02 * 3 * 4.0 / 6 / 0.1  # hops of ±2 Å on each axis, per 0.1 ps
    assert fit.D_cm2_s * 1e4 == pytest.approx(D_true, abs=3 * fit.D_err_cm2_s * 1e4)
    s = local_slope(msd, "xyz")
    late = (s.t_ps >= fit.fit_start_ps) & (s.t_ps <= fit.fit_end_ps)
    assert np.nanmean(s.slope[late]) == pytest.approx(1.0, abs=0.1)


def test_caged_atoms_are_flagged_not_converged():
    rng = np.random.default_rng(5)
    pos = rng.normal(0, 0.3, (400, 20, 3))  # vibration only, never leaves the site
    msd = compute_msd(pos, np.arange(400) * 0.01, directions=("xyz",))
    fit = fit_diffusivity(msd, "xyz")
    assert not fit.converged
    assert "not reached" in fit.note or "have not left" in fit.note
    assert np.isfinite(fit.D_cm2_s)


def test_explicit_window_is_respected():
    msd = next(_gaussian_walks(1, 10, 200, 0.5, 1.0, seed=8))
    fit = fit_diffusivity(msd, "xyz", fit_start_ps=20.0, fit_end_ps=80.0)
    assert fit.fit_start_ps == pytest.approx(20.0, abs=1.0)
    assert fit.fit_end_ps == pytest.approx(80.0, abs=1.0)
    with pytest.raises(ValueError, match="fit window"):
        fit_diffusivity(msd, "xyz", fit_start_ps=90.0, fit_end_ps=80.0)


def test_the_crossing_from_ballistic_to_caged_is_not_taken_for_diffusion():
    """6 Li along the Mo2N/WN interface at 700 K (limown-pod fit 4, 20 ps; positions relative
    to the host's centre of mass, from the mo2n_wn quick study). The in-plane log-log slope
    passes 1 at 0.04-0.08 ps on its way from ballistic to caged; a fit started there weighed
    the steep early MSD and gave D = 1.4e-4 cm²/s, four times the curve's own slope. The
    fit must agree with the plain slope of the MSD over its window."""
    data = np.load(Path(__file__).with_name("interface_li_700K.npz"))
    msd = compute_msd(data["positions_A"].astype(float), data["times_ps"], directions=("xy",))
    fit = fit_diffusivity(msd, "xy")
    assert fit.fit_start_ps > 0.25  # past the vibrations
    lag, curve = msd.lag_ps, msd.msd_A2["xy"]
    window = (lag >= fit.fit_start_ps) & (lag <= fit.fit_end_ps)
    plain = np.polyfit(lag[window], curve[window], 1)[0] / 4 * 1e-4  # cm²/s, least squares
    assert fit.D_cm2_s == pytest.approx(plain, abs=3 * fit.D_err_cm2_s)
    assert 0.67 < fit.D_cm2_s / plain < 1.5


def test_a_falling_gls_line_through_a_rising_msd_falls_back_to_least_squares():
    """The same interface at 900 K: over the window the in-plane MSD rises from 3.5 to
    11 Å², yet GLS fitted a negative slope (-0.35 ± 0.35 Å²/ps), whose 2σ upper bound would
    have been reported as the diffusivity's. Least squares (+1.0 Å²/ps) is reported instead.
    Its error (±0.5 Å²/ps) leaves it within 2σ of zero, so it is not called converged."""
    data = np.load(Path(__file__).with_name("interface_li_900K.npz"))
    msd = compute_msd(data["positions_A"].astype(float), data["times_ps"], directions=("xy",))
    fit = fit_diffusivity(msd, "xy")
    assert fit.method == "ols-sandwich" and "GLS disagreed" in fit.note
    lag, curve = msd.lag_ps, msd.msd_A2["xy"]
    window = (lag >= fit.fit_start_ps) & (lag <= fit.fit_end_ps)
    assert curve[window][-1] > curve[window][0] + 5.0  # the MSD rises
    plain = np.polyfit(lag[window], curve[window], 1)[0] / 4 * 1e-4
    assert fit.D_cm2_s > 0
    assert fit.D_cm2_s == pytest.approx(plain, abs=1.5 * fit.D_err_cm2_s)
    assert fit.D_cm2_s < 2 * fit.D_err_cm2_s
    assert not fit.converged and "within 2σ of zero" in fit.note


def test_the_significance_threshold_is_d_over_its_error():
    """A walk whose D is z = D/σ standard errors from zero converges under a threshold just
    below z and not just above it; everything else about the fit is unchanged."""
    msd = next(_gaussian_walks(1, 2, 80, 0.5, 1.0, seed=0))
    fit = fit_diffusivity(msd, "xyz", min_displacement_A2=0.0)
    assert fit.converged, fit.note
    z = fit.D_cm2_s / fit.D_err_cm2_s
    assert z > 2.0
    below = fit_diffusivity(msd, "xyz", min_displacement_A2=0.0, min_significance=0.99 * z)
    above = fit_diffusivity(msd, "xyz", min_displacement_A2=0.0, min_significance=1.01 * z)
    assert below.converged and not above.converged
    assert "of zero: not resolved" in above.note
    assert above.D_cm2_s == below.D_cm2_s == fit.D_cm2_s
