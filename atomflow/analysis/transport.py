"""Collective transport: ionic conductivity by Einstein–Helfand, Nernst–Einstein, Haven ratio.

Einstein–Helfand: σ = lim (1 / (6 V k_B T)) d/dt ⟨|ΔP(t)|²⟩, P = Σ_i q_i r_i (the charge
displacement, e·Å). Its MSD is that of a single collective coordinate, so it is fitted by
the same GLS as tracer MSDs with N = 1 and Gaussian statistics (a sum of many
displacements); the error bar is therefore large, and a warning is raised above 30 %.

Nernst–Einstein: σ_NE = (e² / (V k_B T)) Σ_s N_s q_s² D_s from tracer diffusivities.
Haven ratio: H_R = σ_NE / σ (1 for uncorrelated ions), errors propagated in quadrature.
Units: σ in mS/cm, D in cm²/s, V in Å³, T in K, charges in e.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from atomflow.analysis.diffusion import DiffusionFit, fit_diffusivity
from atomflow.analysis.msd import MSDResult, compute_msd
from atomflow.errors import InputError

E_C = 1.602176634e-19
KB_J_K = 1.380649e-23
RELATIVE_ERROR_WARNING = 0.30


def _sigma_mS_cm(slope_e2A2_ps: float, volume_A3: float, T_K: float, dim: int) -> float:
    """σ (mS/cm) from the slope (e²·Å²/ps) of the charge-displacement MSD."""
    s_per_m = E_C**2 * slope_e2A2_ps * 1e-8 / (2 * dim * volume_A3 * 1e-30 * KB_J_K * T_K)
    return s_per_m * 10.0  # 1 S/m = 10 mS/cm


@dataclass(frozen=True)
class Conductivity:
    """Einstein–Helfand σ (mS/cm) ± 1σ error, with the fit of the charge MSD (e²·Å²)."""

    sigma_mS_cm: float
    sigma_err_mS_cm: float
    temperature_K: float
    volume_A3: float
    fit: DiffusionFit
    msd: MSDResult
    converged: bool
    note: str = ""


def charge_displacement(positions, charges: np.ndarray) -> np.ndarray:
    """P(t) = Σ_i q_i r_i, (n_frames, 3) e·Å, summed over atoms in blocks."""
    n_frames, n_atoms, _ = positions.shape
    q = np.asarray(charges, dtype=np.float64)
    if q.shape != (n_atoms,):
        raise InputError(f"charges must give one value per atom ({n_atoms}), got {q.shape}")
    out = np.zeros((n_frames, 3))
    step = max(1, 2**22 // max(1, n_frames * 3))
    for a in range(0, n_atoms, step):
        out += np.einsum(
            "fai,a->fi", np.asarray(positions[:, a : a + step], float), q[a : a + step]
        )
    return out


def einstein_helfand(
    positions,
    times_ps,
    charges,
    volume_A3: float,
    temperature_K: float,
    fit_start_ps: float | None = None,
    fit_end_ps: float | None = None,
) -> Conductivity:
    """Ionic conductivity from the MSD of the total charge displacement (all origins)."""
    if not volume_A3 > 0 or not temperature_K > 0:
        raise InputError(f"volume ({volume_A3}) and temperature ({temperature_K}) must be > 0")
    if abs(float(np.sum(charges))) > 1e-6 * max(1.0, float(np.abs(charges).sum())):
        raise InputError(
            f"the charges sum to {np.sum(charges):g} e, not 0: σ would depend "
            "on the origin; give charges of a neutral system"
        )
    P = charge_displacement(positions, charges)
    msd = compute_msd(P[:, None, :], times_ps, directions=("xyz",))
    fit = fit_diffusivity(
        msd, "xyz", fit_start_ps, fit_end_ps, gaussian=True, min_displacement_A2=0.0
    )
    slope = fit.D_cm2_s * 1e4 * 6  # e²·Å²/ps
    sigma = _sigma_mS_cm(slope, volume_A3, temperature_K, 3)
    sigma_err = _sigma_mS_cm(fit.D_err_cm2_s * 1e4 * 6, volume_A3, temperature_K, 3)
    notes = [fit.note] if fit.note else []
    rel = sigma_err / abs(sigma) if sigma else np.inf
    if sigma <= 0:
        msg = (
            f"Einstein–Helfand conductivity came out {sigma:.3g} mS/cm (the charge MSD falls "
            "over the fit window): not converged; run longer or average several runs"
        )
        warnings.warn(msg, stacklevel=2)
        notes.append(msg)
    elif rel > RELATIVE_ERROR_WARNING:
        msg = (
            f"Einstein–Helfand conductivity has a {100 * rel:.0f} % error (> 30 %): the "
            "collective MSD is one coordinate; run longer or average several runs"
        )
        warnings.warn(msg, stacklevel=2)
        notes.append(msg)
    return Conductivity(
        sigma,
        sigma_err,
        float(temperature_K),
        float(volume_A3),
        fit,
        msd,
        converged=fit.converged and sigma > 0 and rel <= RELATIVE_ERROR_WARNING,
        note="; ".join(notes),
    )


@dataclass(frozen=True)
class NernstEinstein:
    """σ_NE (mS/cm) ± error from tracer D per species (cm²/s), counts and charges (e)."""

    sigma_mS_cm: float
    sigma_err_mS_cm: float
    contributions_mS_cm: dict[str, float]


def nernst_einstein(
    D_cm2_s: Mapping[str, float],
    D_err_cm2_s: Mapping[str, float],
    counts: Mapping[str, int],
    charges: Mapping[str, float],
    volume_A3: float,
    temperature_K: float,
) -> NernstEinstein:
    """σ_NE = (e²/(V k_B T)) Σ_s N_s q_s² D_s; errors of D added in quadrature."""
    contrib, var = {}, 0.0
    for s, D in D_cm2_s.items():
        if s not in charges or s not in counts:
            raise InputError(
                f"species {s!r} needs a charge and a count for Nernst–Einstein (CLI: --charge Li=1)"
            )
        k = counts[s] * charges[s] ** 2
        # D cm²/s → Å²/ps: ×1e4; the Einstein-Helfand form with slope 6 N q² D
        contrib[s] = _sigma_mS_cm(6 * k * D * 1e4, volume_A3, temperature_K, 3)
        var += _sigma_mS_cm(6 * k * D_err_cm2_s.get(s, 0.0) * 1e4, volume_A3, temperature_K, 3) ** 2
    return NernstEinstein(float(sum(contrib.values())), float(np.sqrt(var)), contrib)


def haven_ratio(ne: NernstEinstein, eh: Conductivity) -> tuple[float, float]:
    """H_R = σ_NE / σ and its 1σ error (relative errors in quadrature)."""
    h = ne.sigma_mS_cm / eh.sigma_mS_cm
    rel = np.hypot(
        ne.sigma_err_mS_cm / ne.sigma_mS_cm if ne.sigma_mS_cm else 0.0,
        eh.sigma_err_mS_cm / eh.sigma_mS_cm,
    )
    return float(h), float(abs(h) * rel)
