"""Plots of the K-into-BiSnSb report: K front against time, K density profiles, region MSDs,
and side-view snapshots (rendered with ASE) at chosen times, like the paper's Figure 6."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

# element colours for the snapshots (ASE's jmol colours make Bi, Sb and K all purple)
COLOURS = {"K": "#f39c12", "Bi": "#2e86c1", "Sn": "#95a5a6", "Sb": "#27ae60"}
STYLE = {"edge": "C3", "control": "C0", "screw": "C1", "screw_control": "C2"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def front_vs_time(analyses: list[dict], path: Path) -> Path:
    """K front depth (deepest 5 %) below the alloy's initial surface against time."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    seen = set()
    for a in analyses:
        f = a["front"]
        t = np.asarray(f["t_ps"])
        y = np.asarray(f["front_A"])
        e = np.asarray(f["front_err_A"])
        colour = STYLE.get(a["model"], None)
        label = None if a["model"] in seen else a["model"]
        seen.add(a["model"])
        ax.plot(t, y, color=colour, label=label, lw=1.2)
        ax.fill_between(t, y - e, y + e, color=colour, alpha=0.2, lw=0)
    ax.axhline(0.0, color="k", lw=0.8, ls=":")
    ax.set_xlabel("time (ps)")
    ax.set_ylabel("K front depth below the alloy surface (Å)")
    ax.set_title("K front (deepest 5 % of K atoms)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _first_per_model(analyses: list[dict]) -> dict[str, dict]:
    """The first configuration of each model, in order of appearance."""
    first: dict[str, dict] = {}
    for a in analyses:
        first.setdefault(a["model"], a)
    return first


def density_profiles(analyses: list[dict], path: Path) -> Path:
    """K density against depth at the profile times, one panel per model (first config)."""
    plt = _plt()
    first = _first_per_model(analyses)
    n = len(first)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), dpi=120, squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, (model, a) in zip(axes[0], first.items(), strict=True):
        p = a["profiles"]
        depth = np.asarray(p["depth_A"])
        alloy = np.asarray(p["alloy_density_A3_t0"])
        ax.fill_between(depth, 0, alloy, color="0.85", step="mid", label="alloy, 0 ps")
        k = max(len(p["times_ps"]) - 1, 1)
        for i, (t, rho) in enumerate(zip(p["times_ps"], p["density_A3"], strict=True)):
            ax.step(depth, rho, where="mid", color=cmap(0.9 * i / k), label=f"K, {t:.0f} ps")
        ax.axvline(0.0, color="k", lw=0.8, ls=":")
        ax.set_xlabel("depth below the alloy surface (Å)")
        ax.set_ylabel("number density (atoms/Å³)")
        ax.set_title(model)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def region_msds(analyses: list[dict], path: Path) -> Path:
    """K MSD per region (core, alloy, film), one panel per model (first config)."""
    plt = _plt()
    first = _first_per_model(analyses)
    n = len(first)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), dpi=120, squeeze=False)
    colours = {"core": "C3", "alloy": "C0", "film": "C1"}
    for ax, (model, a) in zip(axes[0], first.items(), strict=True):
        for rg in a["regions"]:
            if "msd" not in rg:
                continue
            lag = np.asarray(rg["msd"]["lag_ps"], float)
            msd = np.array([np.nan if v is None else v for v in rg["msd"]["msd_A2"]], float)
            ok = np.isfinite(msd) & (lag > 0) & (msd > 0)
            if ok.any():
                ax.loglog(lag[ok], msd[ok], color=colours.get(rg["region"]), label=rg["region"])
        ax.set_xlabel("lag (ps)")
        ax.set_ylabel("K MSD (Å²)")
        ax.set_title(model)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def render_snapshots(
    frames: list[np.ndarray],
    times_ps: list[float],
    species: np.ndarray,
    cell: np.ndarray,
    cores: list[dict],
    path: Path,
    title: str = "",
) -> Path:
    """Side views (along y, the slab normal up) at the given frames, atoms coloured by element.

    ``frames``: (N, 3) positions with a contiguous slab in z; x and y are wrapped into the
    cell. Dashed lines mark the x of the dislocation cores (lines along z).
    """
    from ase import Atoms
    from ase.visualize.plot import Matplotlib

    plt = _plt()
    cell = np.asarray(cell, float)
    colours = [COLOURS.get(str(s), "#7f8c8d") for s in species]
    fig, axes = plt.subplots(
        1, len(frames), figsize=(3.6 * len(frames), 5.0), dpi=120, squeeze=False
    )
    zmin = min(float(f[:, 2].min()) for f in frames) - 1.0
    for ax, pos, t in zip(axes[0], frames, times_ps, strict=True):
        p = np.array(pos, float)
        frac = p[:, :2] @ np.linalg.inv(cell[:2, :2])
        p[:, :2] = (frac - np.floor(frac)) @ cell[:2, :2]
        p[:, 2] -= zmin
        atoms = Atoms(symbols=[str(s) for s in species], positions=p, cell=cell, pbc=True)
        view = Matplotlib(atoms, ax, rotation="-90x", colors=colours, radii=0.65)
        view.write()
        ax.axis("off")
        # view x = cell x − offset (the rotation keeps x); only cores with a Burgers vector
        for c in {round(float(c["x"]), 3) for c in cores if any(c.get("burgers_vector", [1]))}:
            ax.axvline(c - view.offset[0], color="k", ls="--", lw=0.8)
        ax.set_title(f"{t:.0f} ps", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=e) for e, c in COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path)
    plt.close(fig)
    return path


def write_all(workdir: Path, rows: list[dict], analyses: list[dict]) -> list[str]:
    """Write every plot that has data, copy the snapshots in; return the file names."""
    workdir = Path(workdir)
    names = []
    if analyses:
        front_vs_time(analyses, workdir / "k_front.png")
        density_profiles(analyses, workdir / "k_profiles.png")
        region_msds(analyses, workdir / "k_region_msd.png")
        names += ["k_front.png", "k_profiles.png", "k_region_msd.png"]
    for a in analyses:
        src = a.get("snapshots")
        if src and Path(src).is_file():
            name = f"snapshots_{a['model']}" + (f"-c{a['config']}" if a.get("config") else "")
            shutil.copyfile(src, workdir / f"{name}.png")
            names.append(f"{name}.png")
    return names
