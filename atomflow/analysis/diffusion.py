"""Tracer diffusivity from the MSD: D = slope / (2d) over a fit window, with a block error.

The error bar is the spread of D over ``n_blocks`` independent time blocks of the
trajectory (each analysed with all its time origins), divided by √n_blocks — not an
ordinary-least-squares slope error, which ignores that MSD points are strongly correlated
and is typically far too small.

A fit is flagged ``converged=False`` (with a note) when the atoms have not left their
vibrational cage over the window, or when the log-log slope over the window is far from 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atomflow.analysis.msd import MSDResult, compute_msd

A2_PER_PS_TO_CM2_PER_S = 1e-4  # 1 Å²/ps = 1e-16 cm² / 1e-12 s


@dataclass(frozen=True)
class DiffusionFit:
    """D (cm²/s) with its error, the window used (ps), and whether it is trustworthy."""

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


def _slope(lag: np.ndarray, msd: np.ndarray, lo: int, hi: int) -> float:
    return float(np.polyfit(lag[lo:hi], msd[lo:hi], 1)[0])


def fit_diffusivity(
    msd: MSDResult,
    direction: str,
    fit_start_ps: float | None = None,
    fit_end_ps: float | None = None,
    n_blocks: int = 5,
    min_displacement_A2: float = 1.0,
) -> DiffusionFit:
    """Fit D over [fit_start_ps, fit_end_ps] (default: 10 %–50 % of the longest lag)."""
    if direction not in msd.msd_A2:
        raise ValueError(f"direction {direction!r} not computed; have {list(msd.msd_A2)}")
    lag, curve = msd.lag_ps, msd.msd_A2[direction]
    t_max = lag[-1]
    t0 = 0.1 * t_max if fit_start_ps is None else fit_start_ps
    t1 = 0.5 * t_max if fit_end_ps is None else fit_end_ps
    if not 0 <= t0 < t1 <= t_max:
        raise ValueError(f"fit window {t0:g}–{t1:g} ps must lie inside 0–{t_max:g} ps")
    lo = int(np.searchsorted(lag, t0))
    hi = int(np.searchsorted(lag, t1, side="right"))
    if hi - lo < 3:
        raise ValueError(f"fit window {t0:g}–{t1:g} ps holds fewer than 3 MSD points")
    d = msd.dimension(direction)
    D = _slope(lag, curve, lo, hi) / (2 * d)

    # error: the same analysis on independent time blocks
    n_frames = msd.positions.shape[0]
    block = n_frames // n_blocks
    D_blocks = []
    if block >= 8:
        for b in range(n_blocks):
            sub = msd.positions[b * block : (b + 1) * block]
            sub_msd = compute_msd(sub, lag[:block], directions=(direction,))
            blag = sub_msd.lag_ps
            bhi = min(int(np.searchsorted(blag, min(t1, 0.5 * blag[-1]), side="right")), block)
            blo = min(lo, max(bhi - 3, 0))
            if bhi - blo >= 3:
                D_blocks.append(_slope(blag, sub_msd.msd_A2[direction], blo, bhi) / (2 * d))
    D_err = float(np.std(D_blocks, ddof=1) / np.sqrt(len(D_blocks))) if len(D_blocks) >= 3 \
        else float("nan")

    notes = []
    rise = curve[hi - 1] - curve[lo]
    if rise < min_displacement_A2:
        notes.append(f"MSD rises only {rise:.2g} Å² over the fit window: atoms have not left "
                     "their sites (run longer or hotter)")
    pos = (lag[lo:hi] > 0) & (curve[lo:hi] > 0)
    slope_ll = float("nan")
    if pos.sum() >= 3:
        slope_ll = float(np.polyfit(np.log(lag[lo:hi][pos]), np.log(curve[lo:hi][pos]), 1)[0])
        if not 0.7 <= slope_ll <= 1.3:
            notes.append(f"log-log slope {slope_ll:.2f} over the window is not diffusive (≈1)")
    if not np.isfinite(D_err):
        notes.append("too few frames for a block error")
    return DiffusionFit(
        direction=direction,
        D_cm2_s=D * A2_PER_PS_TO_CM2_PER_S,
        D_err_cm2_s=D_err * A2_PER_PS_TO_CM2_PER_S,
        fit_start_ps=float(lag[lo]),
        fit_end_ps=float(lag[hi - 1]),
        dimension=d,
        n_atoms=msd.n_atoms,
        converged=not notes,
        note="; ".join(notes),
        loglog_slope=slope_ll,
    )
