"""Study reports: ``report.json`` (machine-readable), ``report.md`` (tables) and PNG plots.

Every simulated number is set beside its reference value (paper or experiment) with the
percentage deviation and our error bar, and the report says which checks pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from atomflow.analysis.arrhenius import fit_arrhenius
from atomflow.analysis.plots import plot_arrhenius
from atomflow.studies.numbers import deviation_pct as _dev
from atomflow.studies.numbers import fmt as _fmt
from atomflow.studies.numbers import fmt_d


def arrhenius_table(diffusion: list[dict], species: str) -> tuple[list[dict], dict]:
    """Weighted Arrhenius fit per direction over converged, positive D values."""
    rows, fits = [], {}
    for direction in dict.fromkeys(r["direction"] for r in diffusion):
        pts = [r for r in diffusion if r["direction"] == direction and r["species"] == species]
        use = [r for r in pts if r["converged"] and r["D_cm2_s"] > 0]
        row: dict[str, Any] = {
            "species": species,
            "direction": direction,
            "n_points": len(use),
            "T_K": [r["T_K"] for r in use],
        }
        if len(use) >= 2:
            fit = fit_arrhenius(
                np.array([r["T_K"] for r in use]),
                np.array([r["D_cm2_s"] for r in use]),
                np.array([r["D_err_cm2_s"] for r in use]),
            )
            fits[direction] = fit
            d300, d300_err = fit.extrapolate(300.0)
            row.update(
                Ea_eV=fit.Ea_eV,
                Ea_err_eV=fit.Ea_err_eV,
                D0_cm2_s=fit.prefactor,
                D300_cm2_s=float(d300),
                D300_err_cm2_s=float(d300_err),
            )
        else:
            row.update(
                Ea_eV=None,
                Ea_err_eV=None,
                note=f"only {len(use)} converged temperature(s) with D > 0: no fit",
            )
        rows.append(row)
    return rows, fits


def write_transport_report(
    workdir: Path,
    *,
    title: str,
    lattice: dict[str, float],
    lattice_T_K: float,
    analyses: list[dict],
    species: str,
    reference: dict[str, Any],
    settings: dict[str, Any],
    qha: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write report.json, report.md, msd.png and arrhenius.png into ``workdir``."""
    workdir = Path(workdir)
    diffusion = [r for a in analyses for r in a["diffusion"]]
    arrhenius, fits = arrhenius_table(diffusion, species)

    comparison = []
    ref_lat = reference.get("lattice", {})
    for key in ("a", "c"):
        if key in ref_lat and key in lattice:
            comparison.append(
                {
                    "quantity": f"{key} (Å) at {lattice_T_K:g} K",
                    "ours": lattice[key],
                    "ours_err": lattice[f"{key}_err"],
                    "reference": ref_lat[key],
                    "deviation_pct": _dev(lattice[key], ref_lat[key]),
                    "source": ref_lat.get("source", ""),
                }
            )
    ref_ea = reference.get("arrhenius", {})
    for row in arrhenius:
        ref = ref_ea.get(row["direction"])
        if ref and row.get("Ea_eV") is not None:
            comparison.append(
                {
                    "quantity": f"Ea {species} {row['direction']} (eV)",
                    "ours": row["Ea_eV"],
                    "ours_err": row["Ea_err_eV"],
                    "reference": ref["Ea_eV"],
                    "deviation_pct": _dev(row["Ea_eV"], ref["Ea_eV"]),
                    "source": ref.get("source", ""),
                }
            )

    checks = {}
    by = {(r["T_K"], r["direction"]): r for r in diffusion}
    temps = sorted({r["T_K"] for r in diffusion})
    if all((T, "xy") in by and (T, "z") in by for T in temps):
        checks["in_plane_faster_than_along_c"] = all(
            by[(T, "xy")]["D_cm2_s"] > by[(T, "z")]["D_cm2_s"] for T in temps
        )

    qha_rows = []
    if qha is not None:
        from atomflow.phonons.qha import compare_with_npt

        qha_rows = compare_with_npt(qha, lattice, lattice_T_K)
    report = {
        "title": title,
        "qha_vs_npt": qha_rows,
        "lattice": {**lattice, "T_K": lattice_T_K},
        "diffusion": diffusion,
        "arrhenius": arrhenius,
        "experiment": reference,
        "comparison": comparison,
        "checks": checks,
        "settings": settings,
        "plots": ["msd.png", "arrhenius.png"],
    }
    plot_msd_curves(analyses, workdir / "msd.png", title=f"{species} MSD")
    plot_arrhenius(fits, diffusion, workdir / "arrhenius.png", title=f"{species} Arrhenius")
    (workdir / "report.json").write_text(json.dumps(report, indent=1, default=float))
    (workdir / "report.md").write_text(markdown(report))
    return report


def plot_msd_curves(analyses: list[dict], path: Path, title: str = "") -> Path:
    """All temperatures' MSD curves on log-log axes, one colour per T, one style per direction."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    styles = {"xy": "-", "z": "--", "xyz": ":"}
    cmap = plt.get_cmap("plasma")
    n = max(len(analyses) - 1, 1)
    for i, a in enumerate(sorted(analyses, key=lambda a: a["temperature_K"])):
        lag = np.asarray(a["msd"]["lag_ps"])
        for direction, msd in a["msd"]["msd_A2"].items():
            keep = lag > 0
            ax.loglog(
                lag[keep],
                np.asarray(msd)[keep],
                styles.get(direction, "-"),
                color=cmap(0.85 * i / n),
                label=f"{a['temperature_K']:g} K {direction}",
            )
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel("MSD (Å²)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def markdown(report: dict[str, Any]) -> str:
    """Human-readable tables of a transport report."""
    lat = report["lattice"]
    out = [
        f"# {report['title']}",
        "",
        f"## Lattice parameters (NPT, {lat['T_K']:g} K)",
        "",
        "| quantity | simulated | reference | deviation | source |",
        "|---|---|---|---|---|",
    ]
    comp = {c["quantity"]: c for c in report["comparison"]}
    for key in ("a", "c", "V"):
        label = f"{key} (Å)" if key != "V" else "V per cell (Å³)"
        c = comp.get(f"{key} (Å) at {lat['T_K']:g} K")
        ref = f"{c['reference']:.4g}" if c else "—"
        dev = f"{c['deviation_pct']:+.2f} %" if c else "—"
        out.append(
            f"| {label} | {_fmt(lat[key], lat[f'{key}_err'], 5)} | {ref} | {dev} | "
            f"{c['source'] if c else ''} |"
        )
    out += [
        "",
        "## Tracer diffusivity",
        "",
        "| T (K) | species | direction | D (cm²/s) | fit window (ps) | converged | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(report["diffusion"], key=lambda r: (r["direction"], r["T_K"])):
        out.append(
            f"| {r['T_K']:g} | {r['species']} | {r['direction']} | "
            f"{fmt_d(r['D_cm2_s'], r['D_err_cm2_s'], r['converged'], invalid=r.get('invalid'))} "
            f"| {r['fit_start_ps']:.3g}–{r['fit_end_ps']:.3g} | "
            f"{'yes' if r['converged'] else 'no'} | {r.get('note', '')[:200]} |"
        )
    out += [
        "",
        "## Arrhenius",
        "",
        "| species | direction | Ea (eV) | D(300 K) (cm²/s) | reference Ea (eV) | note |",
        "|---|---|---|---|---|---|",
    ]
    ref_ea = report["experiment"].get("arrhenius", {})
    for r in report["arrhenius"]:
        ref = ref_ea.get(r["direction"], {})
        d300 = _fmt(r.get("D300_cm2_s"), r.get("D300_err_cm2_s"), 3) if r.get("Ea_eV") else "n/a"
        out.append(
            f"| {r['species']} | {r['direction']} | {_fmt(r.get('Ea_eV'), r.get('Ea_err_eV'), 3)} "
            f"| {d300} | {ref.get('Ea_eV', '—')} | {r.get('note', ref.get('source', ''))} |"
        )
    if report.get("qha_vs_npt"):
        out += [
            "",
            f"## Quasi-harmonic lattice vs NPT MD ({lat['T_K']:g} K)",
            "",
            "| quantity | NPT MD | QHA classical | Δ | QHA with zero-point | Δ |",
            "|---|---|---|---|---|---|",
        ]
        for r in report["qha_vs_npt"]:
            out.append(
                f"| {r['quantity']} | {_fmt(r['npt'], r.get('npt_err'), 5)} | "
                f"{r['qha_classical']:.5g} | {r['diff_classical_pct']:+.2f} % | "
                f"{r['qha_quantum']:.5g} | {r['diff_quantum_pct']:+.2f} % |"
            )
        out += [
            "",
            "Classical QHA is the like-for-like comparison with classical MD; the zero-point "
            "column adds quantum zero-point expansion (Li is light).",
        ]
    notes = report["experiment"].get("notes", [])
    if notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    if report["checks"]:
        out += ["", "## Checks", ""]
        out += [
            f"- {k.replace('_', ' ')}: {'yes' if v else 'NO'}" for k, v in report["checks"].items()
        ]
    out += ["", "![MSD](msd.png)", "", "![Arrhenius](arrhenius.png)", ""]
    return "\n".join(out)
