"""Plots people look at rather than read: MSD with its fit window, Arrhenius with error bars.

Each function draws onto its own figure (Agg backend, no global style changes), writes a
PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from atomflow.analysis.arrhenius import ArrheniusFit
from atomflow.analysis.diffusion import DiffusionFit
from atomflow.analysis.msd import MSDResult


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    return plt, fig, ax


def plot_msd(
    msd: MSDResult, fits: Mapping[str, DiffusionFit], path: str | Path, title: str = "", slope=None
) -> Path:
    """Log-log MSD per direction, each fit window shaded and the fitted line drawn.

    ``slope`` (a :class:`~atomflow.analysis.diffusion.LocalSlope`) adds a lower panel with
    the local log-log slope and its error band; the diffusive regime is where it is 1.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    if slope is None:
        fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    else:
        fig, (ax, ax2) = plt.subplots(
            2, 1, figsize=(6, 6.5), dpi=120, sharex=True, gridspec_kw={"height_ratios": [2, 1]}
        )
    lag = msd.lag_ps
    keep = lag > 0
    for direction, curve in msd.msd_A2.items():
        (line,) = ax.loglog(lag[keep], curve[keep], label=direction)
        fit = fits.get(direction)
        if fit is not None and fit.D_cm2_s > 0:
            t = np.geomspace(fit.fit_start_ps, fit.fit_end_ps, 20)
            slope_A2 = 2 * fit.dimension * fit.D_cm2_s / 1e-4
            c = fit.intercept_A2 if np.isfinite(fit.intercept_A2) else 0.0
            ax.loglog(t, c + slope_A2 * t, "--", color=line.get_color(), lw=1)
            ax.axvspan(
                fit.fit_start_ps,
                fit.fit_end_ps,
                color=line.get_color(),
                alpha=0.08,
                zorder=0,
                label=f"{direction} fit window",
            )
    ax.set_ylabel("MSD (Å²)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    if slope is not None:
        ok = np.isfinite(slope.slope)
        ax2.semilogx(slope.t_ps[ok], slope.slope[ok], color="k", lw=1)
        ax2.fill_between(
            slope.t_ps[ok],
            (slope.slope - slope.slope_err)[ok],
            (slope.slope + slope.slope_err)[ok],
            color="0.7",
        )
        ax2.axhline(1.0, ls=":", color="r")
        ax2.set_ylim(0, 2.2)
        ax2.set_ylabel("d ln MSD / d ln t")
        ax2.set_xlabel("lag time (ps)")
    else:
        ax.set_xlabel("lag time (ps)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_penetration(profile, path: str | Path, title: str = "") -> Path:
    """Density of a species against depth, one line per time."""
    plt, fig, ax = _figure()
    for t, dens in zip(profile.times_ps, profile.density_A3, strict=True):
        ax.plot(profile.depth_A, dens, label=f"{t:g} ps")
    ax.set_xlabel(f"depth along {'xyz'[profile.axis]} (Å)")
    ax.set_ylabel(f"{profile.species} density (atoms/Å³)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_arrhenius(
    fits: Mapping[str, ArrheniusFit], diffusion: list[dict], path: str | Path, title: str = ""
) -> Path:
    """log10 D against 1000/T per direction with error bars, fit lines and Ea labels.

    ``diffusion`` holds records with T_K, direction, D_cm2_s, D_err_cm2_s, converged.
    """
    plt, fig, ax = _figure()
    for direction in dict.fromkeys(r["direction"] for r in diffusion):
        pts = [r for r in diffusion if r["direction"] == direction and r["D_cm2_s"] > 0]
        if not pts:
            continue
        T = np.array([r["T_K"] for r in pts])
        D = np.array([r["D_cm2_s"] for r in pts])
        err = np.array([r["D_err_cm2_s"] for r in pts])
        err = np.where(np.isfinite(err), err, 0)
        conv = np.array([r.get("converged", True) for r in pts])
        label = direction
        fit = fits.get(direction)
        if fit is not None:
            label += f": Ea = {fit.Ea_eV:.3f} ± {fit.Ea_err_eV:.3f} eV"
        bars = ax.errorbar(1000 / T[conv], D[conv], yerr=err[conv], fmt="o", capsize=3, label=label)
        if (~conv).any():
            ax.plot(
                1000 / T[~conv],
                D[~conv],
                "x",
                color=bars[0].get_color(),
                label=f"{direction}: not converged",
            )
        if fit is not None:
            tt = np.linspace(T.min(), T.max(), 50)
            ax.plot(
                1000 / tt, [fit.extrapolate(t)[0] for t in tt], "-", color=bars[0].get_color(), lw=1
            )
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel("D (cm²/s)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
