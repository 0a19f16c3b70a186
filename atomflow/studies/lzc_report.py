"""The Li2ZrCl6–N study report: per-composition table, paper comparison, trends, plots.

Pure functions of the task outputs (NPT lattices and ion-transport records), so the numbers
can be checked without MD. ``report.json`` schema (documented in the README):

- ``compositions``: one entry per x with ``x, a, a_err, c, c_err, V, V_err`` (Å, Å³ per P-3m1
  cell at the NPT temperature), ``Ea_eV, Ea_err_eV, D300_cm2_s, D300_err_cm2_s,
  sigma300_mS_cm, sigma300_err`` (Nernst–Einstein at 300 K from the Arrhenius fit, Haven
  ratio 1), ``diffusion`` (per T: D, σ_NE, σ_EH, Haven ratio) and ``n_configs``;
- ``paper``: the paper's values; ``comparison``: ours beside them with deviations;
- ``trends``: each of the paper's findings with ``reproduced`` = "yes", "no" or
  "not resolved" (the difference is within two standard errors).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from atomflow.analysis.arrhenius import fit_arrhenius
from atomflow.analysis.transport import nernst_einstein
from atomflow.studies.numbers import deviation_pct as _dev
from atomflow.studies.numbers import findings_table, fmt_d, split_intact
from atomflow.studies.numbers import fmt as _fmt
from atomflow.studies.numbers import mean_err as _mean_err
from atomflow.studies.numbers import verdict as _verdict

PAPER_KEYS = ("lattice", "Ea_eV", "sigma_RT_mS_cm")


def _by_x(xs: list[float], items: list[dict]) -> dict[float, list[dict]]:
    out: dict[float, list[dict]] = {}
    for x, item in zip(xs, items, strict=True):
        out.setdefault(round(float(x), 4), []).append(item)
    return out


def composition_rows(
    lattice_x: list[float],
    npts: list[dict],
    transport_x: list[float],
    transports: list[dict],
) -> list[dict[str, Any]]:
    """One row per x: lattice, D(T), Arrhenius Ea, σ(300 K) by Nernst–Einstein."""
    lat_by = _by_x(lattice_x, npts)
    tr_by = _by_x(transport_x, transports)
    rows = []
    for x in sorted(lat_by):
        row: dict[str, Any] = {"x": x, "n_configs": len(lat_by[x])}
        for key in ("a", "c", "V"):
            lats = [n["lattice"] for n in lat_by[x]]
            row[key], row[f"{key}_err"] = _mean_err(
                [lt[key] for lt in lats], [lt[f"{key}_err"] for lt in lats]
            )
        row["T_lattice_K"] = lat_by[x][0]["temperature_K"]
        row.update(_transport(tr_by.get(x, [])))
        rows.append(row)
    return rows


def _transport(records: list[dict]) -> dict[str, Any]:
    empty = {
        "diffusion": [],
        "Ea_eV": None,
        "Ea_err_eV": None,
        "D0_cm2_s": None,
        "D300_cm2_s": None,
        "D300_err_cm2_s": None,
        "sigma300_mS_cm": None,
        "sigma300_err": None,
    }
    if not records:
        return {**empty, "note": "no transport runs for this composition in this preset"}
    per_T: dict[float, list[dict]] = {}
    for r in records:
        per_T.setdefault(float(r["temperature_K"]), []).append(r)
    diffusion = []
    for T in sorted(per_T):
        split = split_intact(per_T[T])
        rs = split.intact
        row: dict[str, Any] = {"T_K": T, "n_configs": len(rs), **split.fields()}
        if split.invalid:  # every configuration collapsed: nothing to report
            row.update(
                D_cm2_s=None,
                D_err_cm2_s=None,
                converged=False,
                sigma_NE_mS_cm=None,
                sigma_EH_mS_cm=None,
                sigma_EH_err_mS_cm=None,
                sigma_EH_converged=False,
                haven_ratio=None,
                haven_note="the host collapsed in every configuration: no σ and no H_R",
                fit_window_ps=None,
            )
            diffusion.append(row)
            continue
        D, D_err = _mean_err([r["D_cm2_s"] for r in rs], [r["D_err_cm2_s"] for r in rs])
        haven = [r["haven_ratio"] for r in rs if r["sigma_EH_converged"]]
        row.update(
            D_cm2_s=D,
            D_err_cm2_s=D_err,
            converged=all(r["converged"] for r in rs),
            sigma_NE_mS_cm=float(np.mean([r["sigma_NE_mS_cm"] for r in rs])),
            sigma_EH_mS_cm=float(np.mean([r["sigma_EH_mS_cm"] for r in rs])),
            sigma_EH_err_mS_cm=float(
                np.sqrt(np.sum([r["sigma_EH_err_mS_cm"] ** 2 for r in rs])) / len(rs)
            ),
            sigma_EH_converged=all(r["sigma_EH_converged"] for r in rs),
            haven_ratio=float(np.mean(haven)) if haven else None,
            haven_note="" if haven else "Einstein–Helfand σ not converged (error > 30 %): no H_R",
            fit_window_ps=[rs[0]["fit_start_ps"], rs[0]["fit_end_ps"]],
        )
        diffusion.append(row)
    out = {**empty, "diffusion": diffusion}
    use = [d for d in diffusion if d["converged"] and d["D_cm2_s"] > 0]
    if len(use) < 2:
        out["note"] = f"{len(use)} converged temperature(s) with D > 0: no Arrhenius fit"
        return out
    fit = fit_arrhenius(
        [d["T_K"] for d in use], [d["D_cm2_s"] for d in use], [d["D_err_cm2_s"] for d in use]
    )
    d300, d300_err = fit.extrapolate(300.0)
    first = records[0]
    # Li number density of the cell: Nernst–Einstein at 300 K with Haven ratio 1.
    ne = nernst_einstein(
        {"Li": d300},
        {"Li": d300_err},
        {"Li": first["n_mobile"]},
        {"Li": 1.0},
        first["volume_A3"],
        300.0,
    )
    out.update(
        Ea_eV=fit.Ea_eV,
        Ea_err_eV=fit.Ea_err_eV,
        D0_cm2_s=fit.prefactor,
        D300_cm2_s=d300,
        D300_err_cm2_s=d300_err,
        sigma300_mS_cm=ne.sigma_mS_cm,
        sigma300_err=ne.sigma_err_mS_cm,
        arrhenius_T_K=[d["T_K"] for d in use],
        arrhenius_reduced_chi2=fit.reduced_chi2,
    )
    return out


def paper_values(reference: dict[str, Any]) -> dict[str, Any]:
    """The recipe's ``[reference]`` tables with composition keys as floats."""
    out: dict[str, Any] = {"source": reference.get("source", "")}
    for key in PAPER_KEYS:
        out[key] = {round(float(x), 4): v for x, v in reference.get(key, {}).items()}
    return out


def comparison_rows(rows: list[dict], paper: dict[str, Any]) -> list[dict[str, Any]]:
    """Ours beside the paper, per composition and quantity, with the deviation in %."""
    out = []
    by_x = {r["x"]: r for r in rows}
    for x, lat in sorted(paper["lattice"].items()):
        if x not in by_x:
            continue
        for key in ("a", "c", "V"):
            if key in lat:
                r = by_x[x]
                out.append(
                    _cmp(
                        x,
                        f"{key} ({'Å³' if key == 'V' else 'Å'})",
                        r[key],
                        r[f"{key}_err"],
                        lat[key],
                    )
                )
    for x, ea in sorted(paper["Ea_eV"].items()):
        if x in by_x:
            out.append(_cmp(x, "Ea (eV)", by_x[x]["Ea_eV"], by_x[x]["Ea_err_eV"], ea))
    for x, s in sorted(paper["sigma_RT_mS_cm"].items()):
        if x in by_x:
            r = by_x[x]
            out.append(_cmp(x, "σ(RT) (mS/cm)", r["sigma300_mS_cm"], r["sigma300_err"], s))
    return out


def _cmp(x: float, quantity: str, ours, err, ref) -> dict[str, Any]:
    return {
        "x": x,
        "quantity": quantity,
        "ours": ours,
        "ours_err": err,
        "paper": ref,
        "deviation_pct": _dev(ours, ref),
    }


def trends(rows: list[dict], paper: dict[str, Any]) -> list[dict[str, Any]]:
    """The paper's findings, each with what we find and whether it is reproduced."""
    by_x = {r["x"]: r for r in rows}
    out = []
    lo, hi = 0.0, 0.15
    if lo in by_x and hi in by_x:
        for key in ("a", "c", "V"):
            r0, r1 = by_x[lo], by_x[hi]
            diff = r1[key] - r0[key]
            err = math.hypot(r0[f"{key}_err"], r1[f"{key}_err"])
            p0, p1 = paper["lattice"].get(lo, {}), paper["lattice"].get(hi, {})
            ref = 100 * (p1[key] - p0[key]) / p0[key] if key in p0 and key in p1 else None
            out.append(
                {
                    "finding": f"{key} expands from x = 0 to 0.15",
                    "paper": f"{ref:+.2f} %" if ref is not None else "expands",
                    "ours": f"{100 * diff / r0[key]:+.2f} ± {100 * err / r0[key]:.2f} %",
                    "reproduced": _verdict(diff, err, +1),
                }
            )
        e0, e1 = by_x[lo]["Ea_eV"], by_x[hi]["Ea_eV"]
        if e0 is not None and e1 is not None:
            diff = e1 - e0
            err = math.hypot(by_x[lo]["Ea_err_eV"], by_x[hi]["Ea_err_eV"])
            ours = f"{diff:+.3f} ± {err:.3f} eV"
        else:
            diff = err = None
            ours = "not computed (no Arrhenius fit at x = 0 or 0.15)"
        out.append(
            {
                "finding": "Ea lower at x = 0.15 than at x = 0",
                "paper": "0.349 → 0.244 eV (−0.105 eV)",
                "ours": ours,
                "reproduced": _verdict(diff, err, -1),
            }
        )
    sig = {x: r["sigma300_mS_cm"] for x, r in by_x.items() if r["sigma300_mS_cm"] is not None}
    if len(sig) >= 3:
        best = max(sig, key=sig.get)
        out.append(
            {
                "finding": "σ(RT) peaks at x = 0.15",
                "paper": "1.50 mS/cm at x = 0.15 (0.51 at x = 0, 0.74 at x = 0.25)",
                "ours": f"largest σ(300 K) at x = {best:g} of {sorted(sig)}",
                "reproduced": "yes" if best == 0.15 else "no",
            }
        )
    return out


def write_lzc_report(
    workdir: Path,
    *,
    lattice_x: list[float],
    npts: list[dict],
    transport_x: list[float],
    transports: list[dict],
    reference: dict[str, Any],
    settings: dict[str, Any],
    qha: dict[str, Any] | None = None,
    npt_x0: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write report.json, report.md and the PNG plots into ``workdir``; return the report."""
    from atomflow.studies import lzc_plots

    workdir = Path(workdir)
    rows = composition_rows(lattice_x, npts, transport_x, transports)
    paper = paper_values(reference)
    qha_rows = []
    if qha is not None and npt_x0 is not None:
        from atomflow.phonons.qha import compare_with_npt

        qha_rows = compare_with_npt(qha, npt_x0["lattice"], npt_x0["temperature_K"])
    report = {
        "title": "Li(2+2x)ZrCl(6−x)N(x): lattice and Li transport against N content",
        "study": "li2zrcl6_n",
        "potential": settings.get("potential"),
        "compositions": rows,
        "paper": {k: {f"{x:g}": v for x, v in paper[k].items()} for k in PAPER_KEYS}
        | {"source": paper["source"]},
        "comparison": comparison_rows(rows, paper),
        "trends": trends(rows, paper),
        "qha_vs_npt": qha_rows,
        "notes": reference.get("notes", []),
        "settings": settings,
        "plots": lzc_plots.write_all(workdir, rows, paper, transports, transport_x),
    }
    (workdir / "report.json").write_text(json.dumps(report, indent=1, default=float))
    (workdir / "report.md").write_text(markdown(report))
    return report


def markdown(report: dict[str, Any]) -> str:
    """Human-readable tables of the report."""
    rows = report["compositions"]
    T = rows[0]["T_lattice_K"] if rows else 300
    out = [
        f"# {report['title']}",
        "",
        f"Potential: `{report['potential']}`. Paper: {report['paper']['source']}.",
        "",
        f"## Results per composition (lattice from NPT at {T:g} K, per P-3m1 cell)",
        "",
        "| x | a (Å) | c (Å) | V (Å³) | Ea (eV) | D(300 K) (cm²/s) | σ(300 K) (mS/cm) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['x']:g} | {_fmt(r['a'], r['a_err'], 5)} | {_fmt(r['c'], r['c_err'], 5)} | "
            f"{_fmt(r['V'], r['V_err'], 5)} | {_fmt(r['Ea_eV'], r['Ea_err_eV'], 3)} | "
            f"{_fmt(r['D300_cm2_s'], r['D300_err_cm2_s'], 3)} | "
            f"{_fmt(r['sigma300_mS_cm'], r['sigma300_err'], 3)} |"
        )
    out += [
        "",
        "## Against the paper",
        "",
        "| x | quantity | ours | paper | deviation |",
        "|---|---|---|---|---|",
    ]
    for c in report["comparison"]:
        dev = "n/a" if c["deviation_pct"] is None else f"{c['deviation_pct']:+.1f} %"
        out.append(
            f"| {c['x']:g} | {c['quantity']} | {_fmt(c['ours'], c['ours_err'], 4)} | "
            f"{c['paper']:g} | {dev} |"
        )
    out += findings_table(
        report["trends"],
        "reproduced",
        "## The paper's findings",
        "(the findings compare x = 0 with x = 0.15: run both)",
    )
    out += [
        "",
        "## Tracer diffusion and conductivity per temperature",
        "",
        "| x | T (K) | D(Li) (cm²/s) | converged | σ_NE (mS/cm) | σ_EH (mS/cm) | Haven ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for d in r["diffusion"]:
            hr = _fmt(d["haven_ratio"], None, 3) if d["haven_ratio"] is not None else "n/c"
            D, D_err = d["D_cm2_s"], d["D_err_cm2_s"]
            ne = _fmt(d["sigma_NE_mS_cm"], None, 3)
            eh = _fmt(d["sigma_EH_mS_cm"], d["sigma_EH_err_mS_cm"], 3)
            if not d.get("sigma_EH_converged", True):
                eh = f"n/c ({eh})"
            if d.get("invalid"):  # the host collapsed: its σ belong to another material
                ne = eh = hr = "—"
            out.append(
                f"| {r['x']:g} | {d['T_K']:g} | "
                f"{fmt_d(D, D_err, d['converged'], invalid=d.get('invalid'))} | "
                f"{'yes' if d['converged'] else 'no'} | {ne} | "
                f"{eh} | {hr} |"
            )
    if report.get("qha_vs_npt"):
        out += ["", "## Quasi-harmonic lattice vs NPT MD (x = 0)", ""]
        out += ["| quantity | NPT MD | QHA classical | Δ |", "|---|---|---|---|"]
        for q in report["qha_vs_npt"]:
            out.append(
                f"| {q['quantity']} | {_fmt(q['npt'], q.get('npt_err'), 5)} | "
                f"{q['qha_classical']:.5g} | {q['diff_classical_pct']:+.2f} % |"
            )
    notes = list(report.get("notes", []))
    notes += [
        f"x = {r['x']:g}, {d['T_K']:g} K: {d['n_collapsed']} configuration(s) excluded, "
        f"{d['collapse_note']}"
        for r in rows
        for d in r["diffusion"]
        if d.get("n_collapsed")
    ]
    notes.append(
        "σ(300 K) is Nernst–Einstein from the Arrhenius extrapolation of tracer D (Haven "
        "ratio 1); 'n/c' marks an Einstein–Helfand σ that is negative or has an error above 30 %, "
        "and the Haven ratio that would need it."
    )
    out += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    out += [""] + [f"![{p}]({p})" for p in report["plots"]] + [""]
    return "\n".join(out)
