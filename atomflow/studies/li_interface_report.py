"""Li at an A/B interface: region D per run, lattice table, Arrhenius fits, findings, report.

Pure functions of arrays and task outputs, so every number can be checked without MD.

Definitions (the report repeats them):

- **Regions**: ``bulk_A`` / ``bulk_B``: every Li of a bulk cell of phase A / B (at its NPT
  lattice, Li on interstitial holes). ``interface``: Li of the interface model within
  ``half_width_A`` of an interface plane (the model is a periodic stack: two planes). An
  (atom, origin, lag) triple counts only while the atom stays inside the band throughout
  (:func:`atomflow.analysis.regions.region_msd`); Li that leave stop counting.
- **Interface plane**: midway between the facing atomic layers of A and B in the first
  frame (the minimised model; :func:`interface_planes`); it follows the host's centre of
  mass. Li positions are taken relative to the host's centre of mass (drift removed) in
  every region.
- **D** (``D_cm2_s``): interface: along the plane, ``D_xy`` = MSD_xy / 4t (the band limits
  motion along the normal); bulk: the 3-D tracer ``D_xyz`` = MSD / 6t. GLS fit with the
  calibrated random-walk error model (:func:`atomflow.analysis.diffusion.fit_diffusivity`);
  several configurations: mean, error the larger of their scatter and their own errors.
  ``D_xy``, ``D_z``, ``D_xyz`` of every region are kept too.
- **Arrhenius**: weighted fit of ln D against 1/T over converged D > 0, only with at least
  three such temperatures.
- **Findings**: at each T, "D(interface) > D(both bulks)": ``yes`` when D(interface) exceeds
  each bulk D by more than twice the combined error, ``no`` when it is below either by more
  than that, else ``not resolved`` (``not computed`` when a D is missing). ``overall``: yes
  (no) when every temperature says yes (no). Likewise "Ea(interface) < Ea(both bulks)".

``report.json`` schema::

    title, study, system, potential            str
    phases     {A, B: {label, side (film|substrate), reference_name, formula, space_group,
                cell {a[, c]}, V, confidence, source}}      catalogue data (structures/)
    lattice    {A, B: {phase, reference_name, T_K, source, confidence,
                a | c | V: {ours, err, reference, deviation_pct}}}
                per reference cell, NPT; a cubic reference's c is compared with its a
    diffusion  [{region (interface|bulk_A|bulk_B), phase, T_K, direction (xy|xyz),
                D_cm2_s, D_err_cm2_s, converged, n_atoms (mean Li counted, summed over
                configs), n_li, n_configs, n_configs_fitted, D_xy_cm2_s, D_xy_err_cm2_s,
                D_z_cm2_s, D_z_err_cm2_s, D_xyz_cm2_s, D_xyz_err_cm2_s,
                fraction_inside_end (of the region's Li, last frame), note}]
                D values are null when no fit was possible (see note)
    arrhenius  {interface, bulk_A, bulk_B: {phase, Ea_eV, Ea_err_eV, D0_cm2_s, n_points,
                T_K [...], note, paper {Ea_eV, what, source} | null}}
    findings   [{finding, T_K (null for the Ea and overall rows), paper, ours, verdict
                (yes|no|not resolved|not computed), vs_A, vs_B}]
    paper      the recipe's [reference] table (source, claim, ...), notes removed
    definitions, notes, runs [{region, config, T_K, n_li, mean_inside, planes_A, md}],
    settings,
    plots      [file names]
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from atomflow.analysis.arrhenius import fit_arrhenius
from atomflow.analysis.diffusion import fit_diffusivity
from atomflow.analysis.msd import compute_msd
from atomflow.analysis.regions import PlaneBand, membership, region_msd
from atomflow.errors import InputError
from atomflow.studies.numbers import (
    deviation_pct,
    findings_table,
    fmt_d,
    mean_err,
    split_intact,
    verdict,
)
from atomflow.studies.numbers import fmt as _fmt

REGIONS = ("interface", "bulk_A", "bulk_B")
DIRECTIONS = ("xy", "z", "xyz")
MIN_ARRHENIUS = 3
DEFINITIONS = {
    "bulk_A, bulk_B": "every Li of a bulk cell of phase A / B at its NPT lattice",
    "interface": "Li of the interface model within half_width_A of an interface plane, "
    "counted only while it stays inside (membership tracked frame by frame)",
    "interface plane": "midway between the facing layers of A and B at t = 0, following the "
    "host's centre of mass",
    "D": "interface: along the plane, MSD_xy / 4t; bulk: 3-D tracer, MSD / 6t; Li relative "
    "to the host's centre of mass; GLS fit with calibrated errors",
    "Ea": "weighted Arrhenius fit over converged D > 0, at least 3 temperatures",
    "verdict": "yes / no when the difference has / has not the expected sign beyond twice "
    "its combined error, else not resolved",
}


# ---------------------------------------------------------------- one run


def _normal(cell: np.ndarray) -> tuple[np.ndarray, float]:
    """Unit normal of the a, b plane and the cell height along it."""
    n = np.cross(cell[0], cell[1])
    n = n / np.linalg.norm(n)
    return n, float(abs(cell[2] @ n))


def slab_extent(z: np.ndarray, height: float) -> tuple[float, float]:
    """(lo, hi) of a slab of heights ``z`` in a cell periodic along the normal: the slab
    runs from the atom above the widest empty gap up to the atom below it (hi may exceed
    ``height`` when the slab crosses the cell boundary)."""
    v = np.sort(np.asarray(z, float) % height)
    gaps = np.diff(np.concatenate([v, [v[0] + height]]))
    k = int(np.argmax(gaps))
    if k == len(v) - 1:
        return float(v[0]), float(v[-1])
    return float(v[k + 1]), float(v[k] + height)


def interface_planes(
    z0: np.ndarray, labels: np.ndarray, height: float, n_planes: int = 2
) -> list[float]:
    """Interface planes (Å along the normal, in [0, height)) of a film/substrate stack.

    ``z0``: host heights at t = 0; ``labels``: ``film``/``substrate`` per host atom. The
    first plane lies midway between the substrate's top layer and the film's bottom layer;
    the second (a periodic stack, ``n_planes = 2``) between the film's top and the
    substrate's bottom across the cell boundary.
    """
    z0 = np.asarray(z0, float)
    labels = np.asarray(labels)
    for side in ("film", "substrate"):
        if not (labels == side).any():
            raise InputError(f"the interface model has no {side} atoms; cannot place its planes")
    lo_f, hi_f = slab_extent(z0[labels == "film"], height)
    lo_s, hi_s = slab_extent(z0[labels == "substrate"], height)
    bottom = (hi_s + ((lo_f - hi_s) % height) / 2) % height
    top = (hi_f + ((lo_s - hi_f) % height) / 2) % height
    return [float(bottom), float(top)][:n_planes]


def band_membership(
    positions: np.ndarray, cells: np.ndarray, planes: list[float], half_width: float
) -> np.ndarray:
    """(T, N) bool: within ``half_width`` Å of any plane (periodic images along the normal)."""
    n, height = _normal(np.asarray(cells[0], float))
    inside = np.zeros(positions.shape[:2], bool)
    for p in planes:
        for image in (-1, 0, 1):
            band = PlaneBand(tuple((p + image * height) * n), tuple(n), -half_width, half_width)
            inside |= membership(positions, cells, band)
    return inside


def _fit(msd, direction: str) -> tuple[Any, str]:
    """The D fit of one direction, or None and why not."""
    finite = np.flatnonzero(np.isfinite(msd.msd_A2[direction]))
    if finite.size < 8:
        return None, f"{direction}: no Li stayed in the region long enough for an MSD fit"
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            fit = fit_diffusivity(msd, direction)
    except (InputError, ValueError, np.linalg.LinAlgError) as exc:
        return None, f"{direction}: {exc}"
    return fit, f"{direction}: {fit.note}" if fit.note else ""


def analyse_run(
    positions: np.ndarray,
    times_ps: np.ndarray,
    cells: np.ndarray,
    species: np.ndarray,
    labels: list[str] | None = None,
    planes_frac: list[float] | None = None,
    half_width_A: float = 3.0,
    n_curve: int = 60,
) -> dict[str, Any]:
    """Li D of one trajectory (unwrapped Å, ps): the whole cell, or with ``labels``
    (film/substrate/Li per atom) the band of ``half_width_A`` around the interface planes.

    The planes are found again on the first frame (:func:`interface_planes`);
    ``planes_frac`` (the builder's planes) only says how many there are (2: periodic stack).
    """
    species = np.asarray(species)
    pos = np.asarray(positions, float)
    cells = np.asarray(cells, float)
    t = np.asarray(times_ps, float) - float(times_ps[0])
    li = species == "Li"
    if not li.any():
        raise InputError(f"no Li in the trajectory (has {sorted(set(species.tolist()))})")
    host = pos[:, ~li]
    drift = (host - host[:1]).mean(axis=1)  # host centre-of-mass displacement (T, 3)
    li_pos = pos[:, li] - drift[:, None, :]
    out: dict[str, Any] = {"n_li": int(li.sum()), "run_ps": float(t[-1])}
    if labels is None:
        inside = np.ones(li_pos.shape[:2], bool)
        msd = compute_msd(li_pos, t, directions=DIRECTIONS)
        headline = "xyz"
    else:
        labels = np.asarray(labels)
        if len(labels) != len(species) or not np.array_equal(labels == "Li", li):
            raise InputError(
                "the interface model's labels do not match the trajectory's atoms; the "
                "minimised model must keep the built atom order"
            )
        n, height = _normal(cells[0])
        if abs(n[2]) < 0.999:
            raise InputError(f"interface normal {n.round(3)} is not along z (LAMMPS frame)")
        z0 = pos[0, ~li] @ n
        planes = interface_planes(z0, labels[~li], height, len(planes_frac or [0, 0]))
        inside = band_membership(li_pos, cells, planes, half_width_A)
        out.update(planes_A=planes, height_A=height, half_width_A=half_width_A)
        msd = region_msd(li_pos, t, inside, directions=DIRECTIONS) if inside.sum() >= 2 else None
        headline = "xy"
    out.update(
        direction=headline,
        mean_inside=float(inside.sum(axis=1).mean()),
        fraction_inside_start=float(inside[0].mean()),
        fraction_inside_end=float(inside[-1].mean()),
        n_atoms=max(1, round(float(inside.sum(axis=1).mean()))),
    )
    notes = []
    for d in DIRECTIONS:
        fit, note = _fit(msd, d) if msd is not None else (None, f"{d}: no Li inside")
        out[f"D_{d}_cm2_s"] = None if fit is None else fit.D_cm2_s
        out[f"D_{d}_err_cm2_s"] = None if fit is None else fit.D_err_cm2_s
        out[f"converged_{d}"] = bool(fit is not None and fit.converged)
        if fit is not None and d == headline:
            out["fit_window_ps"] = [fit.fit_start_ps, fit.fit_end_ps]
        if note:
            notes.append(note)
    out["note"] = "; ".join(notes)
    if msd is not None:
        lag = msd.lag_ps
        pick = np.unique(np.geomspace(1, len(lag) - 1, n_curve).astype(int))
        curve = msd.msd_A2[headline][pick]
        out["msd"] = {
            "lag_ps": lag[pick].tolist(),
            "msd_A2": [float(v) if np.isfinite(v) else None for v in curve],
        }
    return out


# ---------------------------------------------------------------- combining


def lattice_table(lattices: dict[str, dict], phases: dict[str, dict]) -> dict[str, Any]:
    """Per phase: a, c, V (per reference cell) beside the catalogue, deviation in %."""
    out = {}
    for key, ph in phases.items():
        npt = lattices[key]
        lat = npt["lattice"]
        cell = ph["cell"]
        refs = {"a": cell["a"], "c": cell.get("c", cell["a"]), "V": ph["V"]}
        entry: dict[str, Any] = {
            "phase": ph["label"],
            "reference_name": ph["reference_name"],
            "T_K": npt["temperature_K"],
            "source": ph["source"],
            "confidence": ph["confidence"],
        }
        for q, ref in refs.items():
            entry[q] = {
                "ours": lat[q],
                "err": lat[f"{q}_err"],
                "reference": ref,
                "deviation_pct": deviation_pct(lat[q], ref),
            }
        if "c" not in cell:
            entry["c"]["note"] = "cubic reference: c compared with a"
        out[key] = entry
    return out


def _phase_label(region: str, phases: dict[str, dict]) -> str:
    if region == "interface":
        return f"{phases['A']['label']}/{phases['B']['label']}"
    return phases[region[-1]]["label"]


def combine_runs(analyses: list[dict], phases: dict[str, dict]) -> list[dict[str, Any]]:
    """One record per (region, T): configurations averaged (:func:`mean_err`)."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for a in analyses:
        groups.setdefault((a["region"], float(a["T_K"])), []).append(a)
    rows = []
    for (region, T), runs in sorted(
        groups.items(), key=lambda kv: (REGIONS.index(kv[0][0]), kv[0][1])
    ):
        head = runs[0]["direction"]
        row: dict[str, Any] = {
            "region": region,
            "phase": _phase_label(region, phases),
            "T_K": T,
            "direction": head,
            "n_atoms": int(sum(r["n_atoms"] for r in runs)),
            "n_li": int(sum(r["n_li"] for r in runs)),
            "n_configs": len(runs),
            "fraction_inside_end": float(np.mean([r["fraction_inside_end"] for r in runs])),
            "note": "; ".join(sorted({r["note"] for r in runs if r["note"]})),
        }
        split = split_intact(runs)
        row.update(split.fields())
        for d in DIRECTIONS:
            ok = [r for r in split.intact if r[f"D_{d}_cm2_s"] is not None]
            v = e = None
            if ok:
                v, e = mean_err(
                    [r[f"D_{d}_cm2_s"] for r in ok], [r[f"D_{d}_err_cm2_s"] for r in ok]
                )
            row[f"D_{d}_cm2_s"], row[f"D_{d}_err_cm2_s"] = v, e
            if d == head:
                row["D_cm2_s"], row["D_err_cm2_s"] = v, e
                row["converged"] = bool(ok) and all(r[f"converged_{d}"] for r in ok)
                row["n_configs_fitted"] = len(ok)
        rows.append(row)
    return rows


def arrhenius_by_region(
    diffusion: list[dict], phases: dict[str, dict], paper: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ea per region over converged D > 0 (at least :data:`MIN_ARRHENIUS` temperatures)."""
    table, fits = {}, {}
    ref = paper.get("arrhenius", {})
    for region in REGIONS:
        pts = [r for r in diffusion if r["region"] == region]
        use = [r for r in pts if r["converged"] and r["D_cm2_s"] is not None and r["D_cm2_s"] > 0]
        row: dict[str, Any] = {
            "phase": _phase_label(region, phases),
            "Ea_eV": None,
            "Ea_err_eV": None,
            "D0_cm2_s": None,
            "n_points": len(use),
            "T_K": [r["T_K"] for r in use],
            "note": "",
            "paper": ref.get(region),
        }
        if len(use) >= MIN_ARRHENIUS:
            fit = fit_arrhenius(
                np.array([r["T_K"] for r in use]),
                np.array([r["D_cm2_s"] for r in use]),
                np.array([r["D_err_cm2_s"] for r in use]),
            )
            fits[region] = fit
            row.update(Ea_eV=fit.Ea_eV, Ea_err_eV=fit.Ea_err_eV, D0_cm2_s=fit.prefactor)
        else:
            row["note"] = (
                f"{len(use)} of {len(pts)} temperatures have a converged D > 0; an Arrhenius "
                f"fit needs {MIN_ARRHENIUS}"
            )
        table[region] = row
    return table, fits


def _both(v_a: str, v_b: str) -> str:
    """Combine the verdicts against A and B: yes only if both say yes."""
    if "not computed" in (v_a, v_b):
        return "not computed"
    if "no" in (v_a, v_b):
        return "no"
    return "yes" if v_a == v_b == "yes" else "not resolved"


def _compare(x: tuple, y: tuple, sign: int) -> str:
    """verdict of x − y (values with errors; None when missing)."""
    if x[0] is None or y[0] is None:
        return "not computed"
    return verdict(x[0] - y[0], math.hypot(x[1] or 0.0, y[1] or 0.0), sign)


def _d_text(row: dict) -> str:
    """D ± err of a combined row, or why it has none."""
    if row.get("invalid"):
        return "invalid (host collapsed)"
    return _fmt(row.get("D_cm2_s"), row.get("D_err_cm2_s"), 3)


def findings(
    diffusion: list[dict], arrhenius: dict[str, Any], phases: dict, paper: dict
) -> list[dict[str, Any]]:
    """Is the interface a fast path? Per temperature, overall, and by activation energy."""
    a_lab, b_lab = phases["A"]["label"], phases["B"]["label"]
    claim = paper.get("claim", "")
    by = {(r["region"], r["T_K"]): r for r in diffusion}
    out = []
    for T in sorted({r["T_K"] for r in diffusion}):
        d = {g: by.get((g, T), {}) for g in REGIONS}
        val = {g: (d[g].get("D_cm2_s"), d[g].get("D_err_cm2_s")) for g in REGIONS}
        v_a = _compare(val["interface"], val["bulk_A"], +1)
        v_b = _compare(val["interface"], val["bulk_B"], +1)
        out.append(
            {
                "finding": f"D(interface) > D(bulk {a_lab}) and D(bulk {b_lab}) at {T:g} K",
                "T_K": T,
                "paper": claim,
                "ours": f"interface {_d_text(d['interface'])}, {a_lab} "
                f"{_d_text(d['bulk_A'])}, {b_lab} {_d_text(d['bulk_B'])} cm²/s",
                "verdict": _both(v_a, v_b),
                "vs_A": v_a,
                "vs_B": v_b,
            }
        )
    per_t = [f["verdict"] for f in out]
    computed = [v for v in per_t if v != "not computed"]
    if not computed:
        overall = "not computed"
    elif all(v == "yes" for v in computed):
        overall = "yes"
    elif all(v == "no" for v in computed):
        overall = "no"
    else:
        overall = "not resolved"
    out.insert(
        0,
        {
            "finding": f"the {a_lab}/{b_lab} interface is a fast path for Li: D(interface) > "
            "D(both bulks) at every temperature",
            "T_K": None,
            "paper": claim,
            "ours": ", ".join(f"{f['T_K']:g} K: {f['verdict']}" for f in out) or "no data",
            "verdict": overall,
            "vs_A": None,
            "vs_B": None,
        },
    )
    ea = {g: (arrhenius[g]["Ea_eV"], arrhenius[g]["Ea_err_eV"]) for g in REGIONS}
    v_a = _compare(ea["interface"], ea["bulk_A"], -1)
    v_b = _compare(ea["interface"], ea["bulk_B"], -1)
    out.append(
        {
            "finding": f"Ea(interface) < Ea(bulk {a_lab}) and Ea(bulk {b_lab})",
            "T_K": None,
            "paper": claim,
            "ours": f"interface {_fmt(*ea['interface'], 3)}, {a_lab} {_fmt(*ea['bulk_A'], 3)}, "
            f"{b_lab} {_fmt(*ea['bulk_B'], 3)} eV",
            "verdict": _both(v_a, v_b),
            "vs_A": v_a,
            "vs_B": v_b,
        }
    )
    return out


# ---------------------------------------------------------------- report


def write_report(
    workdir: Path,
    *,
    lattices: dict[str, dict],
    analyses: list[dict],
    phases: dict[str, dict],
    reference: dict[str, Any],
    settings: dict[str, Any],
    study: str = "li_interface",
) -> dict[str, Any]:
    """Write report.json, report.md and the plots into ``workdir``; return the report."""
    from atomflow.studies import li_interface_plots

    workdir = Path(workdir)
    paper = {k: v for k, v in reference.items() if k != "notes"}
    diffusion = combine_runs(analyses, phases)
    arrhenius, fits = arrhenius_by_region(diffusion, phases, paper)
    a_lab, b_lab = phases["A"]["label"], phases["B"]["label"]
    report = {
        "title": f"Li diffusion in {a_lab}, {b_lab} and along the {a_lab}/{b_lab} interface",
        "study": study,
        "system": settings.get("interface", {}).get("builder"),
        "potential": settings.get("potential"),
        "phases": phases,
        "lattice": lattice_table(lattices, phases),
        "diffusion": diffusion,
        "arrhenius": arrhenius,
        "findings": findings(diffusion, arrhenius, phases, paper),
        "paper": paper,
        "definitions": DEFINITIONS,
        "notes": list(reference.get("notes", [])),
        "runs": [
            {
                k: a.get(k)
                for k in (
                    "region",
                    "config",
                    "T_K",
                    "n_li",
                    "mean_inside",
                    "planes_A",
                    "md",
                    "integrity",
                )
            }
            for a in analyses
        ],
        "settings": settings,
    }
    report["plots"] = li_interface_plots.write_all(workdir, report, analyses, fits)
    (workdir / "report.json").write_text(json.dumps(report, indent=1, default=float))
    (workdir / "report.md").write_text(markdown(report))
    return report


def markdown(report: dict[str, Any]) -> str:
    """Human-readable tables of the report."""
    paper = report["paper"]
    s = report["settings"]
    out = [
        f"# {report['title']}",
        "",
        f"Potential: `{report['potential']}`. Interface model: `{report['system']}` "
        f"(interface region: ±{s.get('analysis', {}).get('half_width_A')} Å). "
        f"Paper: {paper.get('source', 'n/a')}.",
        "",
        "## Lattice parameters (NPT, per reference cell)",
        "",
        "| phase | quantity | ours | reference | deviation | T (K) | reference source |",
        "|---|---|---|---|---|---|---|",
    ]
    for lat in report["lattice"].values():
        for q, unit in (("a", "Å"), ("c", "Å"), ("V", "Å³")):
            v = lat[q]
            note = f" ({v['note']})" if v.get("note") else ""
            out.append(
                f"| {lat['phase']} | {q} ({unit}){note} | {_fmt(v['ours'], v['err'], 5)} | "
                f"{v['reference']:.5g} | {v['deviation_pct']:+.2f} % | {lat['T_K']:g} | "
                f"{lat['reference_name']} ({lat['confidence']}): {lat['source'][:120]} |"
            )
    out += [
        "",
        "## Li diffusion by region",
        "",
        "| region | phase | T (K) | D (cm²/s) | direction | converged | Li counted | "
        "D_xy | D_z | in region at end | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["diffusion"]:
        bad = bool(r.get("invalid"))
        out.append(
            f"| {r['region']} | {r['phase']} | {r['T_K']:g} | "
            f"{fmt_d(r['D_cm2_s'], r['D_err_cm2_s'], r['converged'], invalid=bad)} | "
            f"{r['direction']} | {'yes' if r['converged'] else 'no'} | "
            f"{r['n_atoms']} of {r['n_li']} | "
            f"{fmt_d(r['D_xy_cm2_s'], r['D_xy_err_cm2_s'], r['converged'], invalid=bad)} | "
            f"{fmt_d(r['D_z_cm2_s'], r['D_z_err_cm2_s'], r['converged'], invalid=bad)} | "
            f"{100 * r['fraction_inside_end']:.0f} % | {r['note'][:400]} |"
        )
    out += [
        "",
        "## Arrhenius",
        "",
        "| region | phase | Ea (eV) | D0 (cm²/s) | temperatures | paper | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for region, a in report["arrhenius"].items():
        p = a.get("paper") or {}
        pap = f"{p['Ea_eV']:g} eV ({p.get('what', '')})" if "Ea_eV" in p else "—"
        out.append(
            f"| {region} | {a['phase']} | {_fmt(a['Ea_eV'], a['Ea_err_eV'], 3)} | "
            f"{_fmt(a['D0_cm2_s'], None, 3)} | {a['n_points']} | {pap} | {a['note']} |"
        )
    out += findings_table(report["findings"], "verdict", "## Findings", "(no region compared)")
    out += ["", "## Definitions", ""]
    out += [f"- **{k}**: {v}" for k, v in report["definitions"].items()]
    if report["notes"]:
        out += ["", "## Notes", ""] + [f"- {n}" for n in report["notes"]]
    out += [""] + [f"![{p}]({p})" for p in report["plots"]] + [""]
    return "\n".join(out)
