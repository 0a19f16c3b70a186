"""Plots of the Li-at-an-interface report: MSD per region (log-log), Arrhenius per region,
and the lattice deviations from the reference cells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from atomflow.analysis.plots import plot_arrhenius

REGION_TITLES = {"interface": "interface", "bulk_A": "bulk A", "bulk_B": "bulk B"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def msd_by_region(report: dict[str, Any], analyses: list[dict], path: Path) -> Path:
    """Li MSD against lag per region (first configuration), one colour per temperature."""
    plt = _plt()
    regions = list(REGION_TITLES)
    fig, axes = plt.subplots(1, 3, figsize=(12.6, 3.9), dpi=120, squeeze=False)
    temps = sorted({float(a["T_K"]) for a in analyses})
    cmap = plt.get_cmap("plasma")
    colour = {T: cmap(0.85 * i / max(len(temps) - 1, 1)) for i, T in enumerate(temps)}
    phase = {r["region"]: r["phase"] for r in report["diffusion"]}
    for ax, region in zip(axes[0], regions, strict=True):
        runs = sorted(
            (a for a in analyses if a["region"] == region and a["config"] == 0 and "msd" in a),
            key=lambda a: a["T_K"],
        )
        for a in runs:
            lag = np.asarray(a["msd"]["lag_ps"], float)
            msd = np.array([np.nan if v is None else v for v in a["msd"]["msd_A2"]], float)
            ok = np.isfinite(msd) & (lag > 0) & (msd > 0)
            if ok.any():
                ax.loglog(lag[ok], msd[ok], color=colour[float(a["T_K"])], label=f"{a['T_K']:g} K")
        if ax.get_lines():
            x0, x1 = ax.get_xlim()
            y0 = ax.get_ylim()[0]
            ax.loglog([x0, x1], [y0 * 2, y0 * 2 * x1 / x0], "k:", lw=0.8, label="slope 1")
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no Li stayed in the region", ha="center", transform=ax.transAxes)
        direction = "xy (along the plane)" if region == "interface" else "xyz"
        ax.set_title(f"{REGION_TITLES[region]}: {phase.get(region, '')}", fontsize=9)
        ax.set_xlabel("lag (ps)")
        ax.set_ylabel(f"Li MSD {direction} (Å²)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def arrhenius_by_region(report: dict[str, Any], fits: dict[str, Any], path: Path) -> Path:
    """log D against 1000/T per region with error bars and the Arrhenius fits."""
    pts = [
        {**r, "direction": f"{REGION_TITLES[r['region']]} ({r['phase']})"}
        for r in report["diffusion"]
        if r["D_cm2_s"] is not None and r["D_err_cm2_s"] is not None and r["D_cm2_s"] > 0
    ]
    labels = {r["region"]: f"{REGION_TITLES[r['region']]} ({r['phase']})" for r in pts}
    named = {labels[g]: f for g, f in fits.items() if g in labels}
    return plot_arrhenius(named, pts, path, title="Li: interface vs bulks")


def lattice_deviation(report: dict[str, Any], path: Path) -> Path:
    """Deviation (%) of a, c and V from the reference cells, per phase, with error bars."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 3.6), dpi=120)
    names, dev, err = [], [], []
    for lat in report["lattice"].values():
        for q in ("a", "c", "V"):
            v = lat[q]
            names.append(f"{lat['phase']}\n{q}")
            dev.append(v["deviation_pct"])
            err.append(100.0 * v["err"] / v["reference"])
    x = np.arange(len(names))
    ax.bar(x, dev, yerr=err, capsize=3, color=["C0"] * 3 + ["C1"] * (len(names) - 3))
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("NPT − reference (%)")
    ax.set_title("Lattice against the reference cells")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_all(
    workdir: Path, report: dict[str, Any], analyses: list[dict], fits: dict[str, Any]
) -> list[str]:
    """Write every plot; return the file names."""
    workdir = Path(workdir)
    msd_by_region(report, analyses, workdir / "msd_regions.png")
    arrhenius_by_region(report, fits, workdir / "arrhenius_regions.png")
    lattice_deviation(report, workdir / "lattice.png")
    return ["lattice.png", "msd_regions.png", "arrhenius_regions.png"]
