"""Plots of the Li2ZrCl6–N report: lattice against x, Arrhenius per x, Ea and σ against x."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from atomflow.analysis.arrhenius import fit_arrhenius
from atomflow.analysis.plots import plot_arrhenius


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def lattice_vs_x(rows: list[dict], paper: dict[str, Any], path: Path) -> Path:
    """a, c and V against x with error bars, the paper's XRD values as open squares."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), dpi=120)
    x = np.array([r["x"] for r in rows])
    for ax, key, unit in zip(axes, ("a", "c", "V"), ("Å", "Å", "Å³"), strict=True):
        ax.errorbar(
            x,
            [r[key] for r in rows],
            yerr=[r[f"{key}_err"] for r in rows],
            fmt="o-",
            capsize=3,
            label="MD (NPT)",
        )
        px = [xx for xx, v in sorted(paper["lattice"].items()) if key in v]
        if px:
            ax.plot(
                px,
                [paper["lattice"][xx][key] for xx in px],
                "s",
                mfc="none",
                ms=8,
                color="k",
                label="paper (XRD)",
            )
        ax.set_xlabel("x (N per formula unit)")
        ax.set_ylabel(f"{key} ({unit})")
        ax.legend(fontsize=7)
    fig.suptitle("Lattice parameters per P-3m1 cell")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def transport_vs_x(rows: list[dict], paper: dict[str, Any], path: Path) -> Path:
    """Ea and σ(300 K) against x, with the paper's values."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=120)
    fitted = [r for r in rows if r["Ea_eV"] is not None]
    if fitted:
        ax1.errorbar(
            [r["x"] for r in fitted],
            [r["Ea_eV"] for r in fitted],
            yerr=[r["Ea_err_eV"] for r in fitted],
            fmt="o-",
            capsize=3,
            label="MD",
        )
        ax2.errorbar(
            [r["x"] for r in fitted],
            [r["sigma300_mS_cm"] for r in fitted],
            yerr=[r["sigma300_err"] for r in fitted],
            fmt="o-",
            capsize=3,
            label="MD, Nernst–Einstein",
        )
    for ax, key in ((ax1, "Ea_eV"), (ax2, "sigma_RT_mS_cm")):
        pts = sorted(paper[key].items())
        if pts:
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                "s--",
                mfc="none",
                color="k",
                label="paper",
            )
        ax.set_xlabel("x (N per formula unit)")
        ax.legend(fontsize=7)
    ax1.set_ylabel("Ea (eV)")
    ax2.set_ylabel("σ(RT) (mS/cm)")
    ax2.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def arrhenius_by_x(rows: list[dict], path: Path) -> Path:
    """D(Li) against 1000/T, one series per composition, with its fit and Ea."""
    records, fits = [], {}
    for r in rows:
        label = f"x = {r['x']:g}"
        for d in r["diffusion"]:
            records.append({**d, "direction": label})
        use = [d for d in r["diffusion"] if d["converged"] and d["D_cm2_s"] > 0]
        if len(use) >= 2:
            fits[label] = fit_arrhenius(
                [d["T_K"] for d in use],
                [d["D_cm2_s"] for d in use],
                [d["D_err_cm2_s"] for d in use],
            )
    return plot_arrhenius(fits, records, path, title="Li tracer diffusivity")


def write_all(
    workdir: Path, rows: list[dict], paper: dict[str, Any], transports, transport_x
) -> list[str]:
    """Write every plot that has data; return their file names."""
    names = ["lattice_vs_x.png"]
    lattice_vs_x(rows, paper, workdir / names[0])
    if any(r["diffusion"] for r in rows):
        arrhenius_by_x(rows, workdir / "arrhenius.png")
        names.append("arrhenius.png")
        transport_vs_x(rows, paper, workdir / "transport_vs_x.png")
        names.append("transport_vs_x.png")
    return names
