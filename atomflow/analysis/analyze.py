"""The library entry point behind ``atomflow analyze``: one trajectory in, one dict out.

Per species: tracer MSD (FFT, all origins, optional framework drift correction) and D by
GLS with a calibrated error and the detected fit window. With charges and a temperature:
Einstein–Helfand conductivity, Nernst–Einstein conductivity and the Haven ratio. With
regions: D of each species inside each region (membership tracked over time). Numbers are
plain floats (JSON-ready); plots go to ``plot_dir`` when given.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from atomflow.analysis.diffusion import fit_diffusivity, local_slope
from atomflow.analysis.integrity import check_integrity
from atomflow.analysis.msd import compute_msd
from atomflow.analysis.regions import membership, parse_region, region_msd
from atomflow.analysis.transport import einstein_helfand, haven_ratio, nernst_einstein
from atomflow.errors import InputError
from atomflow.trajectory.frames import Trajectory


def _fit_record(fit) -> dict[str, Any]:
    return {
        "D_cm2_s": fit.D_cm2_s,
        "D_err_cm2_s": fit.D_err_cm2_s,
        "fit_start_ps": fit.fit_start_ps,
        "fit_end_ps": fit.fit_end_ps,
        "n_atoms": fit.n_atoms,
        "converged": fit.converged,
        "note": fit.note,
        "regime_start_ps": fit.regime_start_ps,
        "loglog_slope": fit.loglog_slope,
    }


def analyze_trajectory(
    traj: Trajectory | str | os.PathLike,
    species: list[str] | tuple[str, ...] | None = None,
    *,
    format: str | None = None,
    timestep_ps: float | None = None,
    types: dict[str, str] | None = None,
    directions: tuple[str, ...] = ("xyz",),
    charges: dict[str, float] | None = None,
    temperature_K: float | None = None,
    drift_species: list[str] | None = None,
    regions: list | None = None,
    fit_start_ps: float | None = None,
    fit_end_ps: float | None = None,
    plot_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Diffusion (and, with charges, conductivity) of a trajectory; see the module doc.

    ``traj``: a :class:`Trajectory` or a file (read with ``format``/``timestep_ps``/
    ``types``). ``species``: labels to analyse (default: all). ``charges``: e per species
    (default: the file's per-atom charges, if any). ``temperature_K``: default the mean of
    a ``temperature`` observable. ``drift_species``: framework whose mean displacement is
    removed. ``regions``: region objects or CLI strings (``slab:z:0:10`` …).
    Returns ``{"species": {S: {...}}, "conductivity": {...}, "haven_ratio": {...},
    "regions": {...}, "integrity": {...}, "plots": [...]}``, where ``integrity`` is
    :func:`~atomflow.analysis.integrity.check_integrity` with the named species as mobile
    (a collapsed host also raises a warning); D in cm²/s, times in ps, σ in mS/cm.
    """
    if not isinstance(traj, Trajectory):
        from atomflow.trajectory.io import read_trajectory

        traj = read_trajectory(traj, format, timestep_ps=timestep_ps, types=types)
    labels = sorted(set(traj.species.tolist()))
    mobile = list(species) if species else []  # named species diffuse; the rest is the host
    species = list(species) if species else labels
    drift = None
    if drift_species:
        idx = np.flatnonzero(np.isin(traj.species, drift_species))
        if idx.size == 0:
            raise InputError(f"drift species {drift_species} not in the trajectory ({labels})")
        drift = traj.positions[:, idx]
    out: dict[str, Any] = {
        "species": {},
        "conductivity": {},
        "haven_ratio": {},
        "regions": {},
        "plots": [],
        "n_frames": traj.n_frames,
        "duration_ps": float(traj.times_ps[-1] - traj.times_ps[0]),
    }
    plot_dir = Path(plot_dir) if plot_dir is not None else None
    if plot_dir is not None:
        plot_dir.mkdir(parents=True, exist_ok=True)
    D, D_err, counts = {}, {}, {}
    for s in species:
        idx = traj.select(s)
        msd = compute_msd(
            traj.positions[:, idx], traj.times_ps, directions=directions, drift_reference=drift
        )
        fits = {d: fit_diffusivity(msd, d, fit_start_ps, fit_end_ps) for d in directions}
        main = fits["xyz"] if "xyz" in fits else fits[directions[0]]
        rec = _fit_record(main)
        if len(directions) > 1:
            rec["directions"] = {d: _fit_record(f) for d, f in fits.items()}
        out["species"][s] = rec
        D[s], D_err[s], counts[s] = main.D_cm2_s, main.D_err_cm2_s, len(idx)
        if not main.converged:
            warnings.warn(f"{s}: D not converged: {main.note}", stacklevel=2)
        if plot_dir is not None:
            from atomflow.analysis.plots import plot_msd

            slope = local_slope(msd, main.direction)
            path = plot_msd(msd, fits, plot_dir / f"msd_{s}.png", title=f"{s} MSD", slope=slope)
            out["plots"].append(str(path))

    if traj.n_frames >= 2:
        integrity = check_integrity(traj, mobile=mobile)
        out["integrity"] = integrity.as_dict()
        if not integrity.ok:
            warnings.warn(
                f"{integrity.reason()}; these numbers are not those of the material",
                stacklevel=2,
            )

    if temperature_K is None and "temperature" in traj.observables:
        temperature_K = float(np.nanmean(traj.observables["temperature"]))
    q_atoms = None
    if charges:
        missing = sorted(set(labels) - set(charges))
        if missing:
            raise InputError(
                f"charges given for {sorted(charges)} but not for {missing}; "
                "give every species a charge (CLI --charge Li=1 --charge N=-3)"
            )
        q_atoms = np.array([charges[s] for s in traj.species], float)
    elif traj.charges is not None:
        q_atoms = np.asarray(traj.charges, float)
        charges = {s: float(q_atoms[traj.species == s].mean()) for s in labels}
    if q_atoms is not None and temperature_K:
        volume = float(np.mean(np.abs(np.linalg.det(traj.cells))))
        eh = einstein_helfand(
            traj.positions, traj.times_ps, q_atoms, volume, temperature_K, fit_start_ps, fit_end_ps
        )
        ne = nernst_einstein(
            {s: D[s] for s in species}, D_err, counts, charges, volume, temperature_K
        )
        h, h_err = haven_ratio(ne, eh)
        out["conductivity"] = {
            "sigma_mS_cm": eh.sigma_mS_cm,
            "sigma_err_mS_cm": eh.sigma_err_mS_cm,
            "sigma_NE_mS_cm": ne.sigma_mS_cm,
            "sigma_NE_err_mS_cm": ne.sigma_err_mS_cm,
            "temperature_K": float(temperature_K),
            "volume_A3": volume,
            "fit_start_ps": eh.fit.fit_start_ps,
            "fit_end_ps": eh.fit.fit_end_ps,
            "converged": eh.converged,
            "note": eh.note,
        }
        out["haven_ratio"] = {"H_R": h, "H_R_err": h_err}
    elif q_atoms is not None or charges:
        out["conductivity"] = {"note": "no temperature: pass temperature_K (--temperature)"}

    for spec in regions or []:
        region = parse_region(spec) if isinstance(spec, str) else spec
        inside = membership(traj.positions, traj.cells, region)
        key = spec if isinstance(spec, str) else repr(region)
        out["regions"][key] = {}
        for s in species:
            idx = traj.select(s)
            rm = region_msd(traj.positions[:, idx], traj.times_ps, inside[:, idx])
            try:
                fit = fit_diffusivity(rm, "xyz", fit_start_ps, fit_end_ps)
                out["regions"][key][s] = _fit_record(fit)
            except InputError as exc:
                out["regions"][key][s] = {"converged": False, "note": str(exc)}
            out["regions"][key][s]["mean_atoms_inside"] = float(inside[:, idx].sum(1).mean())
    return out
