"""PNG plots of phonon results; they read result objects and write files, nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from atomflow.phonons.harmonic import HarmonicResult
from atomflow.phonons.qha import QHAResult


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_bands_dos(result: HarmonicResult, path: str | Path) -> Path:
    """Band structure (left) and total DOS (right), frequencies in THz, saved as PNG."""
    plt = _pyplot()
    fig, (ax, ax_dos) = plt.subplots(
        1, 2, sharey=True, figsize=(8, 4.5), gridspec_kw={"width_ratios": [3, 1]}
    )
    band = result.band
    ticks, tick_labels = [float(band.distances[0][0])], [band.labels[0]]
    li = 1
    for i, (d, f) in enumerate(zip(band.distances, band.frequencies_THz, strict=True)):
        ax.plot(d, f, color="C0", lw=1)
        end = band.labels[li]
        li += 1
        if not band.connections[i] and li < len(band.labels):
            end = f"{end}|{band.labels[li]}"
            li += 1
        ticks.append(float(d[-1]))
        tick_labels.append(end)
    for t in ticks:
        ax.axvline(t, color="0.7", lw=0.5)
    ax.axhline(0, color="0.5", lw=0.5, ls="--")
    ax.set_xticks(ticks, tick_labels)
    ax.set_xlim(ticks[0], ticks[-1])
    ax.set_ylabel("frequency (THz)")
    formula = result.structure.composition.reduced_formula
    state = "imaginary modes" if result.imaginary_modes else "dynamically stable"
    ax.set_title(f"{formula}, {result.backend}: {state}")
    ax_dos.plot(result.dos_states_per_THz, result.dos_frequencies_THz, color="C1", lw=1)
    ax_dos.set_xlabel("DOS (states/THz)")
    ax_dos.set_xlim(left=0)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_qha(
    result: QHAResult,
    path: str | Path,
    npt: Mapping[float, Mapping[str, float]] | None = None,
) -> Path:
    """a(T), c(T) and V(T), quantum and classical QHA, with optional NPT MD points.

    ``npt`` maps temperature (K) to an NPT lattice dict ``{a, a_err, c, c_err, V, V_err}``.
    """
    plt = _pyplot()
    t = result.temperatures_K
    panels = [("V", "V (Å³/cell)", result.volume_A3, result.classical_volume_A3)]
    if result.lattice_A is not None and result.classical_lattice_A is not None:
        panels = [
            ("a", "a (Å)", result.lattice_A[:, 0], result.classical_lattice_A[:, 0]),
            ("c", "c (Å)", result.lattice_A[:, 2], result.classical_lattice_A[:, 2]),
            *panels,
        ]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6))
    for ax, (key, label, quantum, classical) in zip(np.atleast_1d(axes), panels, strict=True):
        ax.plot(t, quantum, label="QHA (quantum, with ZPE)")
        ax.plot(t, classical, ls="--", label="QHA (classical)")
        for temp, lat in (npt or {}).items():
            if key in lat:
                ax.errorbar(
                    float(temp),
                    lat[key],
                    yerr=lat.get(f"{key}_err", 0.0),
                    fmt="ko",
                    ms=4,
                    label="NPT MD",
                )
        if result.max_valid_T_K < t[-1]:
            ax.axvspan(result.max_valid_T_K, t[-1], color="0.9", label="extrapolated")
        ax.set_xlabel("T (K)")
        ax.set_ylabel(label)
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    np.atleast_1d(axes)[0].legend(unique.values(), unique.keys(), fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
