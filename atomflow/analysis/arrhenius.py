"""Arrhenius fits: D(T) = D0·exp(−Ea / kB T), weighted least squares in ln D against 1/T."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KB_EV_K = 8.617333262e-5


@dataclass(frozen=True)
class ArrheniusFit:
    """Ea (eV) ± error, prefactor D0 (units of D) ± error, and the parameter covariance."""

    Ea_eV: float
    Ea_err_eV: float
    prefactor: float
    prefactor_err: float
    T_K: tuple[float, ...]
    n_points: int
    reduced_chi2: float
    cov: tuple[tuple[float, float], tuple[float, float]]  # of (ln D0, Ea/kB)

    def extrapolate(self, T_K: float) -> tuple[float, float]:
        """D(T) and its propagated 1σ error."""
        x = np.array([1.0, -1.0 / T_K])
        ln_d = np.log(self.prefactor) - self.Ea_eV / (KB_EV_K * T_K)
        var = float(x @ np.array(self.cov) @ x)
        d = float(np.exp(ln_d))
        return d, d * float(np.sqrt(max(var, 0.0)))


def fit_arrhenius(T_K, D, D_err=None) -> ArrheniusFit:
    """Weighted fit of ln D = ln D0 − (Ea/kB)(1/T); weights from relative errors of D.

    Points with D ≤ 0 are rejected with an error naming them. With more than two points the
    covariance is scaled by the reduced χ² when that exceeds 1 (scatter beyond error bars).
    """
    T = np.asarray(T_K, dtype=np.float64)
    D = np.asarray(D, dtype=np.float64)
    if T.shape != D.shape or T.ndim != 1:
        raise ValueError("T_K and D must be 1-D arrays of the same length")
    if len(T) < 2:
        raise ValueError(f"an Arrhenius fit needs at least 2 temperatures, got {len(T)}")
    if np.any(T <= 0):
        raise ValueError(f"temperatures must be positive, got {T.tolist()}")
    if np.any(D <= 0):
        raise ValueError(f"D must be positive for ln D; got {D.tolist()} at T = {T.tolist()}")
    if D_err is None:
        sigma = np.full_like(D, 0.1)
    else:
        rel = np.asarray(D_err, dtype=np.float64) / D
        sigma = np.where(
            np.isfinite(rel) & (rel > 0),
            rel,
            np.nanmax(rel[rel > 0]) if np.any(np.isfinite(rel) & (rel > 0)) else 0.1,
        )
    A = np.column_stack([np.ones_like(T), -1.0 / T])
    W = 1.0 / sigma**2
    AtW = A.T * W
    cov = np.linalg.inv(AtW @ A)
    params = cov @ AtW @ np.log(D)
    resid = np.log(D) - A @ params
    dof = len(T) - 2
    chi2 = float(np.sum(W * resid**2) / dof) if dof > 0 else float("nan")
    if dof > 0 and chi2 > 1:
        cov = cov * chi2
    ln_d0, ea_over_kb = params
    d0 = float(np.exp(ln_d0))
    return ArrheniusFit(
        Ea_eV=float(ea_over_kb * KB_EV_K),
        Ea_err_eV=float(np.sqrt(cov[1, 1]) * KB_EV_K),
        prefactor=d0,
        prefactor_err=d0 * float(np.sqrt(cov[0, 0])),
        T_K=tuple(T.tolist()),
        n_points=len(T),
        reduced_chi2=chi2,
        cov=((cov[0, 0], cov[0, 1]), (cov[1, 0], cov[1, 1])),
    )
