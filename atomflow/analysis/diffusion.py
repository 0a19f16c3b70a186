"""Tracer diffusivity from the MSD by generalised least squares, with a calibrated error bar.

MSD points at different lags are strongly correlated (they share displacements), so an
ordinary least-squares slope error is far too small. Following McCluskey, Coles & Morgan
(JCTC 2024, the method of kinisi), the covariance of the atom- and origin-averaged MSD is
modelled as that of a random walk, scaled by what the data say:

    Σ(m, n) = √(v_m v_n) · C₁(m, n) / (2 m n N_atoms)

* C₁(m, n) is the exact covariance of the all-origins 1-D MSD at lags m ≤ n (in frames) of a
  Gaussian random walk with unit step variance over T frames (closed form below); the
  number of independent observations at lag m is N̂_m = 2 m² N_atoms / C₁(m, m).
* v_m = 2 M(m)² / d is the Gaussian variance of a single squared displacement, M the model
  MSD (the fitted line). Hopping makes displacements non-Gaussian; for independent steps
  this adds κ·K₁(m, n)/N (K₁ closed form below), κ the excess fourth moment per step,
  measured from the variance of single squared displacements in the data
  (:class:`MSDResult` samples it at a grid of lags).

D and its error come from the GLS fit of M = c + 2dD·t over the fit window, iterated so that
the covariance uses the fitted line. The window starts where the local log-log slope
reaches 1 within its error (``local_slope``) and ends at half the longest lag by default.

A fit is flagged ``converged=False`` (with a note) when the diffusive regime is not reached
before the end of the window, when atoms have not left their vibrational cage, when the
log-log slope over the window is far from 1, or (failing none of these) when D lies within
2σ of zero. The number is still reported, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from atomflow.analysis.msd import MSDResult
from atomflow.errors import InputError

A2_PER_PS_TO_CM2_PER_S = 1e-4  # 1 Å²/ps = 1e-16 cm² / 1e-12 s


@dataclass(frozen=True)
class DiffusionFit:
    """D (cm²/s) with its 1σ error, the window used (ps), and whether it is trustworthy.

    regime_start_ps: where the diffusive regime was detected (nan if never);
    intercept_A2: fitted MSD intercept (Å²); n_points: MSD lags used in the GLS fit;
    loglog_slope: slope of ln MSD against ln t over the window (1 when diffusive).
    """

    direction: str
    D_cm2_s: float
    D_err_cm2_s: float
    fit_start_ps: float
    fit_end_ps: float
    dimension: int
    n_atoms: int
    converged: bool
    note: str = ""
    loglog_slope: float = float("nan")
    regime_start_ps: float = float("nan")
    intercept_A2: float = float("nan")
    n_points: int = 0
    method: str = "gls"


def rw_msd_covariance(lags, n_frames: int) -> np.ndarray:
    """C₁(m, n): covariance of the all-origins MSD of a 1-D Gaussian random walk.

    Unit step variance, ``n_frames`` frames, lags in frames (1 ≤ m ≤ n_frames − 1).
    With K = T − m − n, P = T − m, Q = T − n, for m ≤ n:
    C₁ = 2 [2 Σ_{u=1}^{m−1} max(0, K + u) u² + (n − m + 1) Q m²] / (P Q).
    """
    lags = np.asarray(lags, dtype=np.float64)
    m = np.minimum.outer(lags, lags)
    n = np.maximum.outer(lags, lags)
    T = float(n_frames)
    K = T - m - n
    lo = np.maximum(1.0, 1.0 - K)
    hi = m - 1.0

    def f2(a):
        return a * (a + 1) * (2 * a + 1) / 6.0

    def f3(a):
        return (a * (a + 1) / 2.0) ** 2

    tail = np.where(hi >= lo, K * (f2(hi) - f2(lo - 1)) + f3(hi) - f3(lo - 1), 0.0)
    s = 2.0 * tail + (n - m + 1.0) * (T - n) * m * m
    return 2.0 * s / ((T - m) * (T - n))


def rw_msd_kurtosis_covariance(lags, n_frames: int) -> np.ndarray:
    """K₁(m, n) = Σ_k Σ_k' |overlap of windows| / (P Q): the part of the MSD covariance
    proportional to the excess fourth moment of the steps (zero for Gaussian steps).

    For m ≤ n: K₁ = [2 Σ_{u=1}^{m−1} max(0, K + u) u + (n − m + 1) Q m] / (P Q).
    """
    lags = np.asarray(lags, dtype=np.float64)
    m = np.minimum.outer(lags, lags)
    n = np.maximum.outer(lags, lags)
    T = float(n_frames)
    K = T - m - n
    lo = np.maximum(1.0, 1.0 - K)
    hi = m - 1.0

    def f1(a):
        return a * (a + 1) / 2.0

    def f2(a):
        return a * (a + 1) * (2 * a + 1) / 6.0

    tail = np.where(hi >= lo, K * (f1(hi) - f1(lo - 1)) + f2(hi) - f2(lo - 1), 0.0)
    s = 2.0 * tail + (n - m + 1.0) * (T - n) * m
    return s / ((T - m) * (T - n))


def _gls(t: np.ndarray, y: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    A = np.column_stack([np.ones_like(t), t])
    scale = float(np.mean(np.diag(cov)))
    jitter = 0.0
    for _ in range(6):
        try:
            cf = scipy.linalg.cho_factor(cov / scale + jitter * np.eye(len(t)))
            break
        except np.linalg.LinAlgError:
            jitter = 1e-12 if jitter == 0 else jitter * 100
    else:  # pragma: no cover - covariance hopeless: fall back to diagonal
        cf = scipy.linalg.cho_factor(np.diag(np.diag(cov)) / scale)
    ca = scipy.linalg.cho_solve(cf, A)
    pcov = np.linalg.inv(A.T @ ca) * scale
    params = pcov @ (ca.T @ y) / scale
    return params, pcov


def _iid_covariance(m, model, d, n_atoms, c1, k1, v_data) -> np.ndarray:
    """Σ = [√(v_m v_n)·C₁/(2mn) + κ·K₁] / N with v = 2M²/d (Gaussian part) and κ, the excess
    fourth moment per step, from the measured single-displacement variance: v_data ≈ v + κm.
    """
    vg = 2.0 * model**2 / d
    cov = np.sqrt(np.outer(vg, vg)) * c1 / (2.0 * np.outer(m, m))
    if k1 is not None and v_data is not None:
        ok = np.isfinite(v_data) & np.isfinite(vg)
        w = 1.0 / m[ok].astype(float) ** 2
        kappa = float(np.sum(w * (v_data[ok] - vg[ok])) / np.sum(w * m[ok])) if ok.any() else 0.0
        kappa = max(kappa, -0.5 * float(np.min(vg / m)))
        cov = cov + kappa * k1
    return cov / n_atoms


@dataclass(frozen=True)
class LocalSlope:
    """Local log-log slope β = d ln MSD / d ln t with its 1σ error, at lags t_ps (ps)."""

    t_ps: np.ndarray
    slope: np.ndarray
    slope_err: np.ndarray


def _log_covariance(msd: MSDResult, direction: str, gaussian: bool) -> np.ndarray:
    """Covariance of ln MSD on the grid, from the same model with M = the data."""
    grid = msd.grid
    curve = np.maximum(msd.msd_A2[direction][grid], 1e-300)
    v_data = None if gaussian else msd.sd_var_A4.get(direction)
    k1 = None if gaussian else rw_msd_kurtosis_covariance(grid, msd.n_frames)
    cov = _iid_covariance(
        grid,
        curve,
        msd.dimension(direction),
        msd.n_atoms,
        rw_msd_covariance(grid, msd.n_frames),
        k1,
        v_data,
    )
    return cov / np.outer(curve, curve)


def _loglog_fit(x, y, rel, idx) -> tuple[float, float]:
    xc = x[idx] - x[idx].mean()
    w = xc / (xc @ xc)
    return float(w @ y[idx]), float(np.sqrt(max(w @ rel[np.ix_(idx, idx)] @ w, 0.0)))


def _log_data(msd: MSDResult, direction: str):
    x = np.log(msd.grid.astype(float))
    curve = msd.msd_A2[direction][msd.grid]
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(np.where(curve > 0, curve, np.nan))
    return x, y


def local_slope(
    msd: MSDResult, direction: str, *, gaussian: bool = False, span: float = 1.5
) -> LocalSlope:
    """β(t) from a straight-line fit of ln MSD on ln t over lags within a factor ``span``."""
    rel = _log_covariance(msd, direction, gaussian)
    x, y = _log_data(msd, direction)
    beta = np.full(len(x), np.nan)
    err = np.full(len(x), np.nan)
    for i in range(len(x)):
        near = np.flatnonzero(np.abs(x - x[i]) <= np.log(span))
        if len(near) >= 3 and np.all(np.isfinite(y[near])):
            beta[i], err[i] = _loglog_fit(x, y, rel, near)
    return LocalSlope(msd.lag_ps[msd.grid], beta, err)


def diffusive_start(
    msd: MSDResult,
    direction: str,
    end_ps: float,
    *,
    gaussian: bool = False,
    tolerance: float = 0.1,
    n_sigma: float = 3.0,
    hold: float = 2.0,
) -> float:
    """First grid lag t (ps) such that the log-log slope over [t, hold·t] and over the next
    stretch, [hold·t, hold²·t] (both capped at end_ps), is 1 within max(n_sigma·σ, tolerance);
    nan when there is none (never diffusive).

    Testing the slope over a stretch, not point by point, keeps one noisy point from pushing
    the start late. The second stretch rules out the crossing of β = 1 between the ballistic
    (β = 2) and caged (β < 1) regimes: Li at the Mo2N/WN interface at 700 K had β = 0.99
    over [0.04, 0.08] ps and 0.37 over [0.08, 0.16] ps, and a fit from 0.04 ps gave D four
    times the MSD's own slope.
    """
    rel = _log_covariance(msd, direction, gaussian)
    x, y = _log_data(msd, direction)
    t = msd.lag_ps[msd.grid]
    for i in range(len(t)):
        if t[i] > end_ps / hold or not np.isfinite(y[i]):
            break
        idx = np.flatnonzero((t >= t[i]) & (t <= min(hold * t[i], end_ps)))
        if len(idx) < 3 or not np.all(np.isfinite(y[idx])):
            continue
        beta, err = _loglog_fit(x, y, rel, idx)
        if abs(beta - 1.0) > max(n_sigma * err, tolerance):
            continue
        t2 = min(hold * t[i], end_ps)
        after = np.flatnonzero((t >= t2) & (t <= min(hold * t2, end_ps)) & np.isfinite(y))
        if len(after) >= 3:
            beta, err = _loglog_fit(x, y, rel, after)
            if abs(beta - 1.0) > max(n_sigma * err, tolerance):
                continue
        return float(t[i])
    return float("nan")


def fit_diffusivity(
    msd: MSDResult,
    direction: str,
    fit_start_ps: float | None = None,
    fit_end_ps: float | None = None,
    *,
    max_fit_fraction: float = 0.5,
    min_window_factor: float = 2.0,
    min_displacement_A2: float = 1.0,
    min_significance: float = 2.0,
    gaussian: bool = False,
    n_iter: int = 3,
) -> DiffusionFit:
    """D over [fit_start_ps, fit_end_ps] by GLS with the random-walk covariance model.

    Defaults: the window ends at ``max_fit_fraction`` of the longest lag and starts where
    the diffusive regime is detected. ``gaussian=True`` takes the non-Gaussian factor as 1
    (right for collective quantities, sums of many displacements). A detected window that
    spans less than ``min_window_factor`` in time is flagged not converged, and so is a D
    within ``min_significance`` standard errors of zero: it passes the regime test by noise
    and cannot be told from no diffusion (nor weighed in ln D by an Arrhenius fit).
    """
    if direction not in msd.msd_A2:
        raise InputError(f"direction {direction!r} not computed; have {list(msd.msd_A2)}")
    lag, curve = msd.lag_ps, msd.msd_A2[direction]
    finite = np.flatnonzero(np.isfinite(curve))
    t_max = float(lag[finite[-1]])
    d = msd.dimension(direction)
    notes: list[str] = []
    t1 = max_fit_fraction * t_max if fit_end_ps is None else float(fit_end_ps)
    start = diffusive_start(msd, direction, t1, gaussian=gaussian)
    if fit_start_ps is not None:
        t0 = float(fit_start_ps)
    elif np.isfinite(start) and start * min_window_factor <= t1:
        t0 = start
    else:
        t0 = 0.2 * t1
        notes.append(
            "diffusive regime (log-log slope 1 within error) not reached "
            + (f"before {start:.3g} ps" if np.isfinite(start) else f"by {t1:.3g} ps")
            + f" of a {t_max:.3g} ps trajectory: run longer or hotter"
        )
    if not 0 <= t0 < t1 <= t_max:
        raise InputError(
            f"fit window {t0:g}–{t1:g} ps must lie inside 0–{t_max:g} ps "
            "(fit_start_ps < fit_end_ps)"
        )
    grid = msd.grid
    sel = np.flatnonzero(
        (lag[grid] >= t0 - 1e-12) & (lag[grid] <= t1 + 1e-12) & np.isfinite(curve[grid])
    )
    if len(sel) < 3:
        raise InputError(
            f"fit window {t0:g}–{t1:g} ps holds fewer than 3 MSD points; "
            "widen it or use a longer trajectory"
        )
    m = grid[sel]
    t, y = lag[m], curve[m]
    c1 = rw_msd_covariance(m, msd.n_frames)
    k1 = rw_msd_kurtosis_covariance(m, msd.n_frames) if not gaussian else None
    v_data = msd.sd_var_A4.get(direction)
    v_data = None if v_data is None or gaussian else v_data[sel]
    model = np.maximum(y, 1e-300)
    for _ in range(n_iter):
        cov = _iid_covariance(m, model, d, msd.n_atoms, c1, k1, v_data)
        params, pcov = _gls(t, y, cov)
        # the covariance follows the fitted line; its intercept only when clearly positive
        # (vibrational offset), since a noisy intercept would distort the structure
        c = params[0] if params[0] > 3.0 * np.sqrt(max(pcov[0, 0], 0.0)) else 0.0
        new = c + params[1] * t
        if np.all(new > 0):
            model = new
    method = "gls"
    # Guard: the GLS estimate must agree with ordinary least squares within the OLS error
    # that the same covariance model implies (sandwich form). When it does not, the model
    # does not describe these data (e.g. a few correlated hoppers over a long window), so
    # the OLS estimate with its model-based error is reported instead, and the fit says so.
    A = np.column_stack([np.ones_like(t), t])
    ata_inv = np.linalg.inv(A.T @ A)
    ols = ata_inv @ A.T @ y
    ols_cov = ata_inv @ A.T @ cov @ A @ ata_inv
    # under a correct model var(OLS - GLS) = var(OLS) - var(GLS) (GLS is the best estimator)
    spread = float(np.sqrt(max(ols_cov[1, 1] - pcov[1, 1], 0.0)))
    if (
        not np.isfinite(params[1])
        or abs(params[1] - ols[1]) > 5.0 * max(spread, 1e-300)
        # a falling GLS line through a rising MSD: 6 Li at the Mo2N/WN interface, 900 K,
        # GLS -0.35 ± 0.35 against least squares +1.02 Å²/ps; its upper bound read as
        # "D ≤ 9e-6 cm²/s" where the curve itself says 2.5e-5
        or params[1] <= 0 < ols[1]
    ):
        params, pcov, method = ols, ols_cov, "ols-sandwich"
        notes_model = (
            "GLS disagreed with least squares beyond the model error; least-squares slope "
            "with its covariance-model (sandwich) error reported"
        )
    else:
        notes_model = ""
    slope_A2_ps = float(params[1])
    D = slope_A2_ps / (2 * d)
    D_err = float(np.sqrt(max(pcov[1, 1], 0.0))) / (2 * d)

    rise = float(y[-1] - y[0])
    if rise < min_displacement_A2:
        notes.append(
            f"MSD rises only {rise:.2g} Å² over the fit window: atoms have not left "
            "their sites (run longer or hotter)"
        )
    pos = (t > 0) & (y > 0)
    slope_ll = float("nan")
    if pos.sum() >= 3:
        slope_ll = float(np.polyfit(np.log(t[pos]), np.log(y[pos]), 1)[0])
        if not 0.7 <= slope_ll <= 1.3:
            notes.append(f"log-log slope {slope_ll:.2f} over the window is not diffusive (≈1)")
    if D <= 0:
        notes.append("fitted slope is not positive")
    elif not notes and D < min_significance * D_err:
        notes.append(
            f"D = {D * A2_PER_PS_TO_CM2_PER_S:.2g} ± {D_err * A2_PER_PS_TO_CM2_PER_S:.1g} cm²/s "
            f"lies within {min_significance:g}σ of zero: not resolved from no diffusion "
            "(run longer or hotter, or with more mobile atoms)"
        )
    converged = not notes
    if notes_model:
        notes.append(notes_model)
    return DiffusionFit(
        direction=direction,
        D_cm2_s=D * A2_PER_PS_TO_CM2_PER_S,
        D_err_cm2_s=D_err * A2_PER_PS_TO_CM2_PER_S,
        fit_start_ps=float(t[0]),
        fit_end_ps=float(t[-1]),
        dimension=d,
        n_atoms=msd.n_atoms,
        converged=converged,
        note="; ".join(notes),
        loglog_slope=slope_ll,
        regime_start_ps=start,
        intercept_A2=float(params[0]),
        n_points=len(m),
        method=method,
    )
