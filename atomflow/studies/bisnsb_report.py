"""K into BiSnSb: penetration depth, density profiles, region-resolved diffusion, findings.

Pure functions of arrays and task outputs, so every number can be checked without MD.

Definitions (the report repeats them):

- **Alloy surface** z_s: the Gibbs dividing surface of the alloy's top face at t = 0, i.e.
  z_mid + N_above / (ρ A), with ρ the alloy number density in the central half of the slab,
  N_above the alloy atoms above the slab's mid-plane and A the cell area. A sharp slab of
  bulk density ending at z_s holds the same atoms; single adatoms hardly move it. During MD
  z_s(t) follows the alloy's centre of mass along the normal (drift of the whole slab).
- **Depth** of an atom: z_s(t) − z (Å), positive below the alloy's initial top surface.
- **K front** F(t): the depth reached by the deepest ``front_quantile`` (5 %) of K atoms,
  the 95th percentile of K depths; its error is a bootstrap over K atoms (fixed seed).
- **Penetration depth** (``penetration.*.depth_A``): F(t_report) − F(0), how far the K front
  moves in t_report = 100 ps. F(t_report) is the mean over the last ``window_ps`` before
  t_report; its error combines the bootstrap error and the spread of F over that window;
  F(0)'s bootstrap error is added in quadrature. Several disorder configurations: mean, error
  the larger of their scatter and their own errors.
- **Regions** for the K MSD: ``core`` = within ``core_radius_A`` of a dislocation line (the
  initial core positions; lines run along the slab normal) and deeper than
  ``region_min_depth_A`` in the alloy; ``alloy`` = same depths, outside every core cylinder
  (for a control the same cylinders are used, so the two models compare like with like);
  ``film`` = K above the alloy surface. An (atom, origin, lag) triple counts only if the atom
  stayed in the region throughout (:func:`atomflow.analysis.regions.region_msd`).

``report.json`` schema: ``lattice: {a, a_err, c, c_err, V, V_err, T_K}`` (per hexagonal
R-3m cell, NPT of the bulk random alloy); ``penetration: {with_dislocation: {depth_A,
depth_err_A, ...}, without_dislocation: {...}}`` (edge model and its control; ``screw`` and
``screw_control`` when run) and ``models`` (per model: depth, core occupancy, region D,
``front_vs_time`` {t_ps, front_A, front_err_A, n_K_below} and ``profiles`` {depth_A,
times_ps, density_A3, alloy_density_A3_t0} of the first configuration); ``paper``;
``lattice_comparison``; ``findings`` (each with ``reproduced`` = "yes", "no" or "not
resolved": the difference lies within two standard errors); ``definitions``; ``settings``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from atomflow.analysis.diffusion import fit_diffusivity
from atomflow.analysis.regions import Cylinder, membership, region_msd
from atomflow.errors import InputError
from atomflow.studies.numbers import findings_table, fmt_d, split_intact
from atomflow.studies.numbers import fmt as _fmt
from atomflow.studies.numbers import mean_err as _mean_err
from atomflow.studies.numbers import verdict as _verdict

ALLOY = ("Bi", "Sn", "Sb")
MODEL_KEYS = {
    "edge": "with_dislocation",
    "control": "without_dislocation",
    "screw": "screw",
    "screw_control": "screw_control",
}
CONTROL_OF = {"edge": "control", "screw": "screw_control"}
REGION_NAMES = ("core", "alloy", "film")
DEFINITIONS = {
    "surface": "Gibbs dividing surface of the alloy's top face at t = 0 (follows the alloy's "
    "centre of mass)",
    "depth": "z_surface(t) - z, Å, positive below the alloy's initial top surface",
    "front": "depth reached by the deepest 5 % of K atoms (95th percentile of K depths; "
    "quantile set by analysis.front_quantile)",
    "depth_A": "front(t_report) - front(0): how far the K front moves in t_report (100 ps)",
    "depth_err_A": "bootstrap over K atoms and spread of the front over the last window_ps, "
    "in quadrature with front(0)'s bootstrap error",
    "n_K_vapour": "K atoms more than 5 Å above the K film's highest atom at t = 0 (left the "
    "film into the vacuum; the cell is periodic along the normal, so they can reach the "
    "alloy's bottom face)",
    "regions": "core: within core_radius_A of an initial dislocation line and deeper than "
    "region_min_depth_A; alloy: same depths outside the core cylinders; film: K above the "
    "surface",
}


# ---------------------------------------------------------------- geometry of the slab


def contiguous_offsets(z0: np.ndarray, lz: float) -> np.ndarray:
    """Per-atom z offsets that put the slab in one piece, the vacuum at the cell boundary.

    ``z0``: z of every atom in the first frame; ``lz``: cell height. The widest gap of the
    wrapped z values (the vacuum) is cut in its middle; adding the offsets to every frame of
    an unwrapped trajectory keeps each atom continuous and the slab contiguous.
    """
    z0 = np.asarray(z0, float)
    f = np.mod(z0, lz)
    v = np.sort(f)
    gaps = np.diff(np.concatenate([v, [v[0] + lz]]))
    k = int(np.argmax(gaps))
    cut = v[k] + gaps[k] / 2
    return np.mod(f - cut, lz) - z0


def gibbs_surface(z_alloy: np.ndarray, area: float, central: float = 0.5) -> float:
    """Top dividing surface (Å) of a slab of atoms at heights ``z_alloy`` (contiguous).

    ρ is the number density in the central ``central`` fraction of the slab's thickness.
    """
    z = np.asarray(z_alloy, float)
    if z.size < 4:
        raise InputError(f"need at least 4 alloy atoms for a surface, got {z.size}")
    lo, hi = float(z.min()), float(z.max())
    mid = 0.5 * (lo + hi)
    h = 0.5 * central * (hi - lo)
    n_mid = int(np.count_nonzero(np.abs(z - mid) < h))
    if h <= 0 or n_mid == 0:
        raise InputError("the alloy slab has no thickness: cannot place its surface")
    rho = n_mid / (2 * h * area)
    return mid + np.count_nonzero(z >= mid) / (rho * area)


def slab_depths(
    positions: np.ndarray, species: np.ndarray, cells: np.ndarray, mobile: str = "K"
) -> dict[str, Any]:
    """Depths below the alloy's initial top surface, for every frame.

    ``positions`` (T, N, 3) unwrapped, slab normal along z (the third cell vector ⟂ a, b).
    Returns ``depth_mobile`` (T, n_mobile), ``depth_alloy`` (T, n_alloy), ``surface_z`` (T,),
    ``surface0``, ``thickness_A`` (alloy, at t = 0), ``area_A2`` and the index arrays.
    """
    positions = np.asarray(positions, float)
    species = np.asarray(species)
    imob = np.flatnonzero(species == mobile)
    ialloy = np.flatnonzero(np.isin(species, ALLOY))
    if imob.size == 0 or ialloy.size == 0:
        raise InputError(f"need both {mobile} and alloy atoms; have {sorted(set(species))}")
    cell0 = np.asarray(cells[0], float)
    area = float(np.linalg.norm(np.cross(cell0[0], cell0[1])))
    lz = float(cell0[2, 2])
    z = positions[:, :, 2] + contiguous_offsets(positions[0, :, 2], lz)[None, :]
    za = z[:, ialloy]
    s0 = gibbs_surface(za[0], area)
    surface = s0 + (za.mean(axis=1) - za[0].mean())
    return {
        "depth_mobile": surface[:, None] - z[:, imob],
        "depth_alloy": surface[:, None] - za,
        "surface_z": surface,
        "surface0": s0,
        "thickness_A": float(s0 - za[0].min()),
        "area_A2": area,
        "mobile_index": imob,
        "alloy_index": ialloy,
        "z": z,
    }


# ---------------------------------------------------------------- the K front


def front_series(
    depths: np.ndarray, quantile: float = 0.95, n_boot: int = 200, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Front depth (``quantile`` of the depths, per frame) and its bootstrap error over atoms."""
    depths = np.atleast_2d(np.asarray(depths, float))
    if not 0 < quantile < 1:
        raise InputError(f"front quantile {quantile} must lie strictly between 0 and 1")
    front = np.quantile(depths, quantile, axis=1)
    rng = np.random.default_rng(seed)
    n = depths.shape[1]
    idx = rng.integers(0, n, size=(n_boot, n))
    boot = np.quantile(depths[:, idx], quantile, axis=2)  # (T, n_boot)
    return front, boot.std(axis=1, ddof=1)


def penetration_depth(
    times_ps: np.ndarray,
    front: np.ndarray,
    front_err: np.ndarray,
    t_report_ps: float,
    window_ps: float = 5.0,
) -> dict[str, Any]:
    """How far the front moves from the first frame to ``t_report_ps`` (relative times)."""
    t = np.asarray(times_ps, float) - float(times_ps[0])
    if t_report_ps > t[-1] + 1e-6:
        raise InputError(
            f"t_report = {t_report_ps:g} ps is past the end of the run ({t[-1]:g} ps); "
            "run longer or report earlier"
        )
    sel = np.flatnonzero((t >= t_report_ps - window_ps - 1e-9) & (t <= t_report_ps + 1e-9))
    end = float(np.mean(front[sel]))
    spread = float(np.std(front[sel], ddof=1)) if sel.size > 1 else 0.0
    end_err = math.hypot(float(np.sqrt(np.mean(front_err[sel] ** 2))), spread)
    start, start_err = float(front[0]), float(front_err[0])
    return {
        "depth_A": end - start,
        "depth_err_A": math.hypot(end_err, start_err),
        "front_start_A": start,
        "front_start_err_A": start_err,
        "front_end_A": end,
        "front_end_err_A": end_err,
        "t_report_ps": float(t_report_ps),
        "window_ps": float(window_ps),
        "n_frames_window": int(sel.size),
    }


def density_profile(
    depths: np.ndarray,
    times_ps: np.ndarray,
    at_ps: list[float],
    area_A2: float,
    bin_A: float = 1.0,
    window_ps: float = 2.0,
    limits: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Number density (atoms/Å³) against depth at the requested times.

    Each profile averages the frames within ±``window_ps``/2 of its time (at least the
    nearest frame). ``limits`` (Å of depth) default to the range of all depths.
    """
    t = np.asarray(times_ps, float) - float(times_ps[0])
    d = np.asarray(depths, float)
    lo, hi = limits if limits is not None else (float(d.min()), float(d.max()))
    lo, hi = math.floor(lo / bin_A) * bin_A, math.ceil(hi / bin_A) * bin_A + bin_A
    edges = np.arange(lo, hi + 0.5 * bin_A, bin_A)
    out = []
    used = []
    for t0 in at_ps:
        sel = np.flatnonzero(np.abs(t - t0) <= window_ps / 2 + 1e-9)
        if sel.size == 0:
            sel = np.array([int(np.argmin(np.abs(t - t0)))])
        hist = sum(np.histogram(d[f], bins=edges)[0] for f in sel) / sel.size
        out.append((hist / (area_A2 * bin_A)).tolist())
        used.append(float(t[sel].mean()))
    return {
        "depth_A": (0.5 * (edges[1:] + edges[:-1])).tolist(),
        "times_ps": used,
        "density_A3": out,
        "bin_A": bin_A,
    }


# ---------------------------------------------------------------- regions


def core_cylinders(cores: list[dict], radius: float) -> list[Cylinder]:
    """Cylinders of ``radius`` around each core line (along z), from builder metadata."""
    return [Cylinder((c["x"], c["y"], 0.0), (0.0, 0.0, 1.0), radius) for c in cores]


def in_cylinders(positions: np.ndarray, cells: np.ndarray, cylinders: list[Cylinder]):
    """(T, N) bool: inside any of the cylinders (minimum image in the cell)."""
    inside = np.zeros(positions.shape[:2], bool)
    for cyl in cylinders:
        inside |= membership(positions, cells, cyl)
    return inside


def area_fraction(cell: np.ndarray, cylinders: list[Cylinder], n_grid: int = 200) -> float:
    """Fraction of the cell's cross-section inside the cylinders (grid count, overlaps once)."""
    if not cylinders:
        return 0.0
    cell = np.asarray(cell, float)
    u = (np.arange(n_grid) + 0.5) / n_grid
    fx, fy = np.meshgrid(u, u, indexing="ij")
    pts = fx.reshape(-1, 1) * cell[0] + fy.reshape(-1, 1) * cell[1]
    pts[:, 2] = 0.0
    return float(in_cylinders(pts[None], cell[None], cylinders)[0].mean())


def region_masks(
    positions: np.ndarray,
    cells: np.ndarray,
    depths: np.ndarray,
    cylinders: list[Cylinder],
    min_depth_A: float,
    max_depth_A: float,
) -> dict[str, np.ndarray]:
    """(T, n) membership of the mobile atoms in the ``core``, ``alloy`` and ``film`` regions."""
    in_alloy = (depths >= min_depth_A) & (depths < max_depth_A)
    cyl = in_cylinders(positions, cells, cylinders) if cylinders else np.zeros_like(in_alloy)
    return {"core": in_alloy & cyl, "alloy": in_alloy & ~cyl, "film": depths < 0.0}


def region_diffusion(
    positions: np.ndarray,
    times_ps: np.ndarray,
    masks: dict[str, np.ndarray],
    directions: tuple[str, ...] = ("xyz", "z"),
    n_curve: int = 60,
) -> list[dict[str, Any]]:
    """Region MSD and D (GLS fit) per region; a region nobody stays in gets D = None."""
    out = []
    t = np.asarray(times_ps, float) - float(times_ps[0])
    for name, inside in masks.items():
        rec: dict[str, Any] = {
            "region": name,
            "mean_atoms_inside": float(inside.sum(axis=1).mean()),
            "atoms_ever_inside": int(inside.any(axis=0).sum()),
        }
        notes = []
        msd = None
        if inside.sum() >= 2:
            msd = region_msd(positions, t, inside, directions=directions)
        for d in directions:
            key = "" if d == "xyz" else f"_{d}"
            rec[f"D{key}_cm2_s"] = rec[f"D{key}_err_cm2_s"] = None
            rec[f"converged{key}"] = False
            if msd is None:
                continue
            finite = np.flatnonzero(np.isfinite(msd.msd_A2[d]))
            if finite.size < 8:
                continue
            try:
                with np.errstate(invalid="ignore", divide="ignore"):
                    fit = fit_diffusivity(msd, d)
            except (InputError, ValueError, np.linalg.LinAlgError) as exc:
                notes.append(f"{d}: {exc}")
                continue
            rec[f"D{key}_cm2_s"] = fit.D_cm2_s
            rec[f"D{key}_err_cm2_s"] = fit.D_err_cm2_s
            rec[f"converged{key}"] = fit.converged
            if fit.note:
                notes.append(f"{d}: {fit.note}")
            if d == "xyz":
                rec["fit_window_ps"] = [fit.fit_start_ps, fit.fit_end_ps]
        if msd is None or (rec["D_cm2_s"] is None and not notes):
            notes.append("no K atom stayed in this region long enough for an MSD fit")
        rec["note"] = "; ".join(notes)
        if msd is not None:
            lag = msd.lag_ps
            pick = np.unique(np.geomspace(1, len(lag) - 1, n_curve).astype(int))
            rec["msd"] = {
                "lag_ps": lag[pick].tolist(),
                "msd_A2": [
                    None if not np.isfinite(v) else float(v) for v in msd.msd_A2["xyz"][pick]
                ],
            }
        out.append(rec)
    return out


def core_occupancy(
    depths: np.ndarray, in_core: np.ndarray, min_depth_A: float, area_frac: float
) -> dict[str, Any]:
    """Of the K atoms deeper than ``min_depth_A`` (one frame), the fraction in the cores.

    Without a preference for the cores that fraction equals their ``area_frac``; its error is
    binomial (:func:`binomial_err`).
    """
    below = np.asarray(depths) >= min_depth_A
    n = int(below.sum())
    k = int((below & np.asarray(in_core)).sum())
    frac = k / n if n else None
    err = binomial_err(k, n)
    return {
        "n_K_below": n,
        "n_K_in_core": k,
        "fraction_in_core": frac,
        "fraction_err": err,
        "area_fraction": area_frac,
    }


def binomial_err(k: int, n: int) -> float | None:
    """Standard error of the fraction k/n, Agresti–Coull (never zero, even at k = 0 or n)."""
    if n <= 0:
        return None
    p = (k + 1) / (n + 2)
    return math.sqrt(p * (1 - p) / (n + 2))


# ---------------------------------------------------------------- one model


def analyse_model(
    positions: np.ndarray,
    times_ps: np.ndarray,
    cells: np.ndarray,
    species: np.ndarray,
    cores: list[dict],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Everything the report needs from one slab trajectory (positions unwrapped, Å, ps).

    ``settings``: ``front_quantile``, ``t_report_ps``, ``window_ps``, ``profile_times_ps``,
    ``profile_bin_A``, ``core_radius_A``, ``region_min_depth_A`` (see the preset's
    ``analysis`` table).
    """
    times = np.asarray(times_ps, float)
    t = times - times[0]
    sd = slab_depths(positions, species, cells)
    dk = sd["depth_mobile"]
    front, front_err = front_series(dk, settings["front_quantile"])
    pen = penetration_depth(
        t, front, front_err, settings["t_report_ps"], settings.get("window_ps", 5.0)
    )
    kpos = np.asarray(positions, float)[:, sd["mobile_index"]]
    cyl = core_cylinders(cores, settings["core_radius_A"])
    masks = region_masks(kpos, cells, dk, cyl, settings["region_min_depth_A"], sd["thickness_A"])
    regions = region_diffusion(kpos, t, masks)
    f_end = int(np.argmin(np.abs(t - settings["t_report_ps"])))
    afrac = area_fraction(cells[0], cyl)
    occ = core_occupancy(dk[f_end], masks["core"][f_end], settings["region_min_depth_A"], afrac)
    limits = (float(min(dk.min(), 0.0)) - 1.0, sd["thickness_A"] + 1.0)
    prof = density_profile(
        dk,
        t,
        settings["profile_times_ps"],
        sd["area_A2"],
        settings["profile_bin_A"],
        limits=limits,
    )
    alloy = density_profile(
        sd["depth_alloy"][:1],
        t[:1],
        [0.0],
        sd["area_A2"],
        settings["profile_bin_A"],
        limits=limits,
    )
    prof["alloy_density_A3_t0"] = alloy["density_A3"][0]
    step = max(1, len(t) // 200)
    n_below = (dk >= settings["region_min_depth_A"]).sum(axis=1)
    # K that left the film into the vacuum: > 5 Å above the film's highest atom at t = 0
    n_vapour = (dk < dk[0].min() - 5.0).sum(axis=1)
    return {
        "n_K": int(dk.shape[1]),
        "n_alloy": int(sd["depth_alloy"].shape[1]),
        "area_A2": sd["area_A2"],
        "alloy_thickness_A": sd["thickness_A"],
        "run_ps": float(t[-1]),
        "penetration": pen,
        "front": {
            "t_ps": t[::step].tolist(),
            "front_A": front[::step].tolist(),
            "front_err_A": front_err[::step].tolist(),
            "n_K_below": n_below[::step].tolist(),
            "n_K_vapour": n_vapour[::step].tolist(),
        },
        "n_K_vapour_max": int(n_vapour.max()),
        "profiles": prof,
        "regions": regions,
        "core_occupancy": occ,
        "core_radius_A": settings["core_radius_A"],
    }


# ---------------------------------------------------------------- report


def _penetration_numbers(runs: list[dict]) -> dict[str, Any]:
    """Depths, core occupancy and region D averaged over intact configurations."""
    depth, err = _mean_err(
        [r["penetration"]["depth_A"] for r in runs],
        [r["penetration"]["depth_err_A"] for r in runs],
    )
    end, end_err = _mean_err(
        [r["penetration"]["front_end_A"] for r in runs],
        [r["penetration"]["front_end_err_A"] for r in runs],
    )
    occ = [r["core_occupancy"] for r in runs]
    n = sum(o["n_K_below"] for o in occ)
    k = sum(o["n_K_in_core"] for o in occ)
    regions = [
        _region_row(name, [rg for r in runs for rg in r["regions"] if rg["region"] == name])
        for name in REGION_NAMES
    ]
    return {
        "depth_A": depth,
        "depth_err_A": err,
        "front_end_A": end,
        "front_end_err_A": end_err,
        "core_fraction": k / n if n else None,
        "core_fraction_err": binomial_err(k, n),
        "n_K_below": n,
        "area_fraction": float(np.mean([o["area_fraction"] for o in occ])),
        "regions": regions,
        # the first configuration's curves (K front against time, density profiles)
        "front_vs_time": runs[0]["front"],
        "profiles": runs[0]["profiles"],
    }


def _no_numbers() -> dict[str, Any]:
    """A model whose every configuration collapsed: no number from another material."""
    return {
        "depth_A": None,
        "depth_err_A": None,
        "front_end_A": None,
        "front_end_err_A": None,
        "core_fraction": None,
        "core_fraction_err": None,
        "n_K_below": None,
        "area_fraction": None,
        "regions": [
            {**_region_row(name, []), "note": "the host collapsed in every configuration"}
            for name in REGION_NAMES
        ],
        "front_vs_time": None,
        "profiles": None,
    }


def _region_row(name: str, recs: list[dict]) -> dict[str, Any]:
    """One region's K D over configurations (``recs``: its per-configuration records)."""
    ok = [rg for rg in recs if rg["D_cm2_s"] is not None]
    row: dict[str, Any] = {
        "region": name,
        "mean_atoms_inside": (
            float(np.mean([rg["mean_atoms_inside"] for rg in recs])) if recs else None
        ),
        "D_cm2_s": None,
        "D_err_cm2_s": None,
        "D_z_cm2_s": None,
        "D_z_err_cm2_s": None,
        "converged": False,
        "n_configs": len(ok),
        "note": "; ".join(sorted({rg["note"] for rg in recs if rg["note"]})),
    }
    if ok:
        row["D_cm2_s"], row["D_err_cm2_s"] = _mean_err(
            [rg["D_cm2_s"] for rg in ok], [rg["D_err_cm2_s"] for rg in ok]
        )
        okz = [rg for rg in ok if rg.get("D_z_cm2_s") is not None]
        if okz:
            row["D_z_cm2_s"], row["D_z_err_cm2_s"] = _mean_err(
                [rg["D_z_cm2_s"] for rg in okz], [rg["D_z_err_cm2_s"] for rg in okz]
            )
        row["converged"] = all(rg["converged"] for rg in ok)
    return row


def combine_models(analyses: list[dict]) -> list[dict[str, Any]]:
    """One row per model (edge, control, ...) over its disorder configurations."""
    by: dict[str, list[dict]] = {}
    for a in analyses:
        by.setdefault(a["model"], []).append(a)
    order = [m for m in MODEL_KEYS if m in by] + [m for m in by if m not in MODEL_KEYS]
    rows = []
    for m in order:
        split = split_intact(by[m], lambda r: not r.get("integrity", {"ok": True})["ok"])
        runs, first = split.intact, by[m][0]
        row: dict[str, Any] = {
            "model": m,
            "key": MODEL_KEYS.get(m, m),
            "geometry": first.get("geometry"),
            "dislocation": first.get("dislocation"),
            "n_configs": len(runs),
            **split.fields("integrity_note"),
            "n_atoms": first.get("n_atoms"),
            "n_K": first["n_K"],
            "temperature_K": first.get("temperature_K"),
            "run_ps": first["run_ps"],
            "t_report_ps": first["penetration"]["t_report_ps"],
            "n_K_vapour_max": max(r.get("n_K_vapour_max", 0) for r in by[m]),
        }
        row.update(_penetration_numbers(runs) if runs else _no_numbers())
        rows.append(row)
    return rows


def findings(rows: list[dict], hardly_A: float, min_depth: float = 2.0) -> list[dict[str, Any]]:
    """The paper's finding (K enters along the core, hardly into the perfect crystal).

    A verdict that leans on a model whose host collapsed in every configuration is "not
    computed": its numbers would belong to another material."""
    by = {r["model"]: r for r in rows}
    out: list[dict[str, Any]] = []

    def add(finding: str, paper: str, models: list[str], judge: Callable[[], tuple]) -> None:
        bad = [m for m in models if by[m].get("invalid")]
        if bad:
            ours, reproduced = f"invalid (host collapsed in {', '.join(bad)})", "not computed"
        else:
            ours, reproduced = judge()
        out.append({"finding": finding, "paper": paper, "ours": ours, "reproduced": reproduced})

    for disl, ctrl in CONTROL_OF.items():
        if disl not in by:
            continue
        d = by[disl]
        if ctrl in by:
            c = by[ctrl]

            def deeper(d: dict = d, c: dict = c) -> tuple[str, str]:
                diff = d["depth_A"] - c["depth_A"]
                err = math.hypot(d["depth_err_A"], c["depth_err_A"])
                return (
                    f"{d['depth_A']:.2f} ± {d['depth_err_A']:.2f} Å vs "
                    f"{c['depth_A']:.2f} ± {c['depth_err_A']:.2f} Å "
                    f"(difference {diff:+.2f} ± {err:.2f} Å)",
                    _verdict(diff, err, +1),
                )

            add(
                f"K penetrates deeper with the {disl} dislocation than without "
                f"(front advance in {d['t_report_ps']:g} ps)",
                "with the dislocation K reaches the 'depth zone' after 100 ps",
                [disl, ctrl],
                deeper,
            )

        def along_core(d: dict = d) -> tuple[str, str]:
            if d["core_fraction"] is None:
                return f"no K atom deeper than {min_depth:g} Å at the report time", "not resolved"
            return (
                f"{d['n_K_below']} K deeper than {min_depth:g} Å, "
                f"{100 * d['core_fraction']:.0f} ± {100 * d['core_fraction_err']:.0f} % "
                f"of them within {d.get('core_radius_A')} Å of a core line (those cylinders "
                f"cover {100 * d['area_fraction']:.0f} % of the area)",
                _verdict(d["core_fraction"] - d["area_fraction"], d["core_fraction_err"], +1),
            )

        add(
            f"K inside the alloy sits along the {disl} dislocation core",
            "K diffuses along the dislocation core from the interface",
            [disl],
            along_core,
        )
    for ctrl in CONTROL_OF.values():
        if ctrl not in by:
            continue
        c = by[ctrl]
        surface = "" if ctrl == "control" else f" ({ctrl.split('_')[0]} geometry's surface)"

        def hardly(c: dict = c) -> tuple[str, str]:
            return (
                f"{c['depth_A']:.2f} ± {c['depth_err_A']:.2f} Å",
                _verdict(hardly_A - c["depth_A"], c["depth_err_A"], +1),
            )

        add(
            f"K hardly enters the perfect crystal{surface} (front advance < "
            f"{hardly_A:g} Å in {c['t_report_ps']:g} ps)",
            "without the dislocation K hardly diffuses into the interior",
            [ctrl],
            hardly,
        )
    return out


def lattice_comparison(lattice: dict[str, Any], paper: dict[str, Any]) -> list[dict[str, Any]]:
    """Our NPT a, c beside the metastable (M) and annealed (S) XRD cells, deviation in %."""
    out = []
    for phase, ref in paper.get("lattice", {}).items():
        for key in ("a", "c"):
            if key in ref:
                out.append(
                    {
                        "phase": phase,
                        "quantity": f"{key} (Å)",
                        "ours": lattice[key],
                        "ours_err": lattice[f"{key}_err"],
                        "paper": ref[key],
                        "deviation_pct": 100.0 * (lattice[key] - ref[key]) / ref[key],
                        "label": ref.get("label", phase),
                    }
                )
    return out


def write_bisnsb_report(
    workdir: Path,
    *,
    npt: dict[str, Any],
    analyses: list[dict[str, Any]],
    reference: dict[str, Any],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Write report.json, report.md and the plots into ``workdir``; return the report."""
    from atomflow.studies import bisnsb_plots

    workdir = Path(workdir)
    rows = combine_models(analyses)
    radius = settings.get("analysis", {}).get("core_radius_A")
    for r in rows:
        r["core_radius_A"] = radius
    hardly = float(settings.get("analysis", {}).get("hardly_A", 3.0))
    lattice = {**npt["lattice"], "T_K": npt["temperature_K"]}
    paper = {k: v for k, v in reference.items() if k != "notes"}
    penetration = {
        r["key"]: {
            "depth_A": r["depth_A"],
            "depth_err_A": r["depth_err_A"],
            "front_end_A": r["front_end_A"],
            "front_end_err_A": r["front_end_err_A"],
            "t_report_ps": r["t_report_ps"],
            "n_configs": r["n_configs"],
        }
        for r in rows
    }
    report = {
        "title": "K into random A7 BiSnSb: penetration along a dislocation core",
        "study": "bisnsb_dislocation",
        "potential": settings.get("potential"),
        "temperature_K": settings.get("md", {}).get("temperature_K"),
        "lattice": lattice,
        "lattice_comparison": lattice_comparison(lattice, paper),
        "penetration": penetration,
        "models": rows,
        "findings": findings(
            rows, hardly, float(settings.get("analysis", {}).get("region_min_depth_A", 2.0))
        ),
        "paper": paper,
        "definitions": DEFINITIONS,
        "notes": reference.get("notes", [])
        + [
            f"{a['model']} (configuration {a.get('config', 0)}): {a['integrity_note']}"
            for a in analyses
            if a.get("integrity_note")
        ],
        "runs": [
            {
                k: a[k]
                for k in ("model", "config", "seed", "n_atoms", "temperature_K", "md", "integrity")
                if k in a
            }
            for a in analyses
        ],
        "settings": settings,
    }
    report["plots"] = bisnsb_plots.write_all(workdir, rows, analyses)
    (workdir / "report.json").write_text(json.dumps(report, indent=1, default=float))
    (workdir / "report.md").write_text(markdown(report))
    return report


def markdown(report: dict[str, Any]) -> str:
    """Human-readable tables of the report."""
    lat = report["lattice"]
    paper = report["paper"]
    out = [
        f"# {report['title']}",
        "",
        f"Potential: `{report['potential']}`. MD: NVT at {report['temperature_K']} K. "
        f"Paper: {paper.get('source', '')}.",
        "",
        f"## Lattice of the random alloy (NPT at {lat['T_K']:g} K, hexagonal R-3m cell)",
        "",
        "| quantity | ours | paper | phase | deviation |",
        "|---|---|---|---|---|",
    ]
    for c in report["lattice_comparison"]:
        out.append(
            f"| {c['quantity']} | {_fmt(c['ours'], c['ours_err'], 5)} | {c['paper']:g} | "
            f"{c['label']} | {c['deviation_pct']:+.2f} % |"
        )
    out += [
        "",
        "## K penetration",
        "",
        "| model | configs | atoms | K | run (ps) | front advance (Å) | front depth at end (Å) | "
        "K deeper than region_min_depth_A | of them in core cylinders | core area fraction | "
        "most K in the vacuum |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["models"]:
        if r.get("invalid"):  # as fmt_d: no number from another material
            out.append(
                f"| {r['model']} | 0 of {r['n_collapsed']} | {r['n_atoms']} | {r['n_K']} | "
                f"{r['run_ps']:.4g} | invalid (host collapsed) | — | — | — | — | "
                f"{r.get('n_K_vapour_max', 0)} |"
            )
            continue
        cf = (
            "n/a"
            if r["core_fraction"] is None
            else f"{100 * r['core_fraction']:.0f} ± {100 * r['core_fraction_err']:.0f} %"
        )
        depth = _fmt(r["depth_A"], r["depth_err_A"], 3)
        if r.get("n_collapsed"):
            depth = f"{depth} ({r['n_collapsed']} collapsed configuration(s) left out)"
        out.append(
            f"| {r['model']} | {r['n_configs']} | {r['n_atoms']} | {r['n_K']} | "
            f"{r['run_ps']:.4g} | {depth} | "
            f"{_fmt(r['front_end_A'], r['front_end_err_A'], 3)} | {r['n_K_below']} | {cf} | "
            f"{100 * r['area_fraction']:.0f} % | {r.get('n_K_vapour_max', 0)} |"
        )
    out += [
        "",
        "## K diffusion by region",
        "",
        "| model | region | mean K inside | D (cm²/s) | D along the normal (cm²/s) | "
        "converged | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["models"]:
        bad = bool(r.get("invalid"))
        for g in r["regions"]:
            inside = "—" if bad else f"{g['mean_atoms_inside']:.1f}"
            out.append(
                f"| {r['model']} | {g['region']} | {inside} | "
                f"{fmt_d(g['D_cm2_s'], g['D_err_cm2_s'], g['converged'], invalid=bad)} | "
                f"{fmt_d(g['D_z_cm2_s'], g['D_z_err_cm2_s'], g['converged'], invalid=bad)} | "
                f"{'yes' if g['converged'] else 'no'} | {g['note'][:160]} |"
            )
    out += findings_table(
        report["findings"],
        "reproduced",
        "## The paper's finding",
        "(needs the edge model and its control)",
    )
    out += ["", "## Definitions", ""]
    out += [f"- **{k}**: {v}" for k, v in report["definitions"].items()]
    notes = list(report.get("notes", []))
    out += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    out += [""] + [f"![{p}]({p})" for p in report["plots"]] + [""]
    return "\n".join(out)
