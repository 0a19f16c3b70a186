"""Workflow tasks shared by the studies: MD stages and their analysis.

These are the glue between rooms: they take JSON-like inputs (potential names, protocol
dicts), call the MD and analysis libraries, and return JSON-like outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from atomflow.analysis.blocking import block_average
from atomflow.analysis.diffusion import fit_diffusivity
from atomflow.analysis.integrity import check_integrity
from atomflow.analysis.msd import compute_msd
from atomflow.analysis.plots import plot_msd
from atomflow.graph import task, write_progress
from atomflow.md.protocols import MDProtocol
from atomflow.md.runner import run_md
from atomflow.potentials import get_potential
from atomflow.trajectory.frames import Trajectory
from atomflow.trajectory.h5md import read_h5md


def potential_input(name: str) -> dict[str, Any]:
    """Name plus file digests: editing a parameter file changes the identity of every MD task."""
    return {"name": name, "files": get_potential(name).files_digest()}


def _progress(workdir: Path):
    return lambda fraction, message: write_progress(workdir, fraction, message)


def thermostat_failure(mean_K: float, std_K: float, target_K: float) -> str:
    """Why a thermostatted run is not a run at ``target_K`` ("" when it is).

    A mean more than 25 % above the target, or a spread over half of it (far beyond the
    canonical sqrt(2/3N) of any cell over a few atoms), means the potential released energy
    faster than the thermostat removes it: an energy hole, such as atoms pairing up. A mean
    25 % below it means the thermostat never brought the run up. Either way its trajectory
    must not feed a lattice or a diffusivity."""
    if target_K <= 0:
        return ""
    if abs(mean_K - target_K) <= 0.25 * target_K and std_K <= 0.5 * target_K:
        return ""
    if mean_K < target_K and std_K <= 0.5 * target_K:
        return (
            f"the run at {target_K:g} K averaged {mean_K:.0f} K (spread {std_K:.0f} K): it "
            "stayed below its target, so this is not a run at that temperature. Lengthen the "
            "run or shorten the thermostat's damping time (tdamp_ps)"
        )
    return (
        f"the run at {target_K:g} K averaged {mean_K:.0f} K (spread {std_K:.0f} K): the "
        "potential released energy faster than the thermostat removes it (an energy hole, "
        "such as atoms pairing up), so this is not a run at that temperature. Check the "
        "potential's validity notes for this structure and temperature, or refit it with "
        "this structure among its training cells"
    )


def _checked(md: dict[str, Any], target_K: float) -> dict[str, Any]:
    why = thermostat_failure(md["mean_temperature_K"], md["std_temperature_K"], target_K)
    if why:
        raise ValueError(f"{why} (trajectory: {md['trajectory']})")
    return md


def host_integrity(traj: Trajectory, mobile: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """:func:`~atomflow.analysis.integrity.check_integrity` of a trajectory, as JSON.

    A run whose host collapsed (``ok`` False) describes another material: its diffusivities
    are kept in the record for inspection but never marked converged, so no Arrhenius fit,
    average or verdict uses them, and the reports say why."""
    return check_integrity(traj, mobile=tuple(mobile)).as_dict()


def collapse_note(integrity: dict[str, Any]) -> str:
    """The report's note for a collapsed run ("" for an intact one)."""
    if integrity["ok"]:
        return ""
    return f"INVALID, {integrity['reason']}; excluded from every fit and average"


def lattice_from_cells(cells: np.ndarray, supercell: tuple[int, int, int]) -> dict[str, Any]:
    """a (mean of the a and b axes), c and V per primitive cell, with blocking error bars."""
    n1, n2, n3 = supercell
    lengths = np.linalg.norm(cells, axis=2)
    a_series = 0.5 * (lengths[:, 0] / n1 + lengths[:, 1] / n2)
    c_series = lengths[:, 2] / n3
    v_series = np.abs(np.linalg.det(cells)) / (n1 * n2 * n3)
    out: dict[str, Any] = {"n_samples": len(cells)}
    for key, series in (("a", a_series), ("c", c_series), ("V", v_series)):
        avg = block_average(series)
        out[key] = float(avg.mean)
        out[f"{key}_err"] = float(avg.sem)
    return out


@task(version="2")
def npt_lattice(
    structure: Structure,
    potential: dict,
    protocol: dict,
    supercell: list[int],
    mobile: list[str] | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """NPT MD; lattice parameters per primitive cell from block-averaged box samples.

    Fails if the thermostat lost control or the host collapsed (:func:`host_integrity`
    over every element pair but those of ``mobile`` species, such as the Li of a Li-ion
    conductor, which hop even at 300 K): every later stage starts from this lattice."""
    p = MDProtocol(ensemble="npt", **protocol)
    md = run_md(structure, get_potential(potential["name"]), p, workdir, _progress(workdir))
    checked = _checked(md.as_dict(), p.temperature_K)
    traj = read_h5md(md.trajectory)
    integrity = host_integrity(traj, mobile or ())
    if not integrity["ok"]:
        raise ValueError(
            f"NPT at {p.temperature_K:g} K with {potential['name']}: {integrity['reason']}. "
            "Its lattice would be that of another phase. Check the potential's validity "
            f"notes, or refit it with this structure among its training cells "
            f"(trajectory: {md.trajectory})"
        )
    checked["integrity"] = integrity
    lattice = lattice_from_cells(traj.cells, tuple(supercell))
    return {"lattice": lattice, "md": checked, "temperature_K": p.temperature_K}


@task(version="1")
def nvt_md(
    structure: Structure, potential: dict, protocol: dict, workdir: Path | None = None
) -> dict[str, Any]:
    """NVT MD at one temperature, trajectory captured to H5MD; a run whose thermostat lost
    control (:func:`thermostat_failure`) fails rather than feed a diffusivity."""
    p = MDProtocol(ensemble="nvt", **protocol)
    md = run_md(structure, get_potential(potential["name"]), p, workdir, _progress(workdir))
    checked = _checked(md.as_dict(), p.temperature_K)
    return {"md": checked, "trajectory": md.trajectory, "temperature_K": p.temperature_K}


@task(version="5")
def tracer_diffusion(
    md: dict,
    species: str,
    directions: list[str],
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Tracer MSD (FFT, all origins) per direction, D with error, and an MSD plot."""
    traj = read_h5md(md["trajectory"])
    idx = traj.select(species)
    integrity = host_integrity(traj, (species,))
    msd = compute_msd(traj.positions[:, idx], traj.times_ps, directions=tuple(directions))
    records, fits = [], {}
    for direction in directions:
        fit = fit_diffusivity(msd, direction)
        fits[direction] = fit
        records.append(
            {
                "T_K": md["temperature_K"],
                "species": species,
                "direction": direction,
                "D_cm2_s": fit.D_cm2_s,
                "D_err_cm2_s": fit.D_err_cm2_s,
                "fit_start_ps": fit.fit_start_ps,
                "fit_end_ps": fit.fit_end_ps,
                "converged": fit.converged and integrity["ok"],
                "n_atoms": fit.n_atoms,
                "note": collapse_note(integrity),
                "invalid": not integrity["ok"],
            }
        )
    plot_msd(msd, fits, workdir / "msd.png", title=f"{species} MSD at {md['temperature_K']:g} K")
    curves = {
        "lag_ps": msd.lag_ps.tolist(),
        "msd_A2": {d: msd.msd_A2[d].tolist() for d in directions},
    }
    return {
        "diffusion": records,
        "msd": curves,
        "temperature_K": md["temperature_K"],
        "integrity": integrity,
    }


@task(version="4")
def ion_transport(
    md: dict,
    species: str,
    charges: dict[str, float],
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Tracer D of ``species`` (xyz), Einstein–Helfand σ, Nernst–Einstein σ and Haven ratio.

    ``charges`` are formal charges per element (e); the cell must be neutral with them.
    """
    import warnings

    from atomflow.analysis.transport import einstein_helfand, haven_ratio, nernst_einstein

    traj = read_h5md(md["trajectory"])
    T = float(md["temperature_K"])
    missing = sorted(set(traj.species.tolist()) - set(charges))
    if missing:
        raise ValueError(f"charges lack {', '.join(missing)}; give every element a formal charge")
    idx = traj.select(species)
    integrity = host_integrity(traj, (species,))
    msd = compute_msd(traj.positions[:, idx], traj.times_ps, directions=("xyz",))
    fit = fit_diffusivity(msd, "xyz")
    volume = float(np.mean(np.abs(np.linalg.det(traj.cells))))
    q = np.array([charges[s] for s in traj.species], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the large-error note is kept in the output instead
        eh = einstein_helfand(traj.positions, traj.times_ps, q, volume, T)
    ne = nernst_einstein(
        {species: fit.D_cm2_s},
        {species: fit.D_err_cm2_s},
        {species: len(idx)},
        {species: charges[species]},
        volume,
        T,
    )
    h, h_err = haven_ratio(ne, eh) if eh.sigma_mS_cm > 0 else (float("nan"), float("nan"))
    plot_msd(msd, {"xyz": fit}, workdir / "msd.png", title=f"{species} MSD at {T:g} K")
    return {
        "temperature_K": T,
        "species": species,
        "n_mobile": len(idx),
        "volume_A3": volume,
        "n_atoms": len(traj.species),
        "D_cm2_s": fit.D_cm2_s,
        "D_err_cm2_s": fit.D_err_cm2_s,
        "fit_start_ps": fit.fit_start_ps,
        "fit_end_ps": fit.fit_end_ps,
        "converged": fit.converged and integrity["ok"],
        "note": collapse_note(integrity) or fit.note,
        "integrity": integrity,
        "invalid": not integrity["ok"],
        "sigma_NE_mS_cm": ne.sigma_mS_cm,
        "sigma_NE_err_mS_cm": ne.sigma_err_mS_cm,
        "sigma_EH_mS_cm": eh.sigma_mS_cm,
        "sigma_EH_err_mS_cm": eh.sigma_err_mS_cm,
        "sigma_EH_converged": eh.converged and integrity["ok"],
        "haven_ratio": h,
        "haven_ratio_err": h_err,
        "msd": {"lag_ps": msd.lag_ps.tolist(), "msd_A2": {"xyz": msd.msd_A2["xyz"].tolist()}},
        "md": md["md"],
    }


@task(version="1")
def relax_positions(
    structure: Structure, potential: dict, ftol: float = 0.02, max_iter: int = 500
) -> Structure:
    """Minimise atom positions at a fixed cell before MD (an ideal built cell can start hot).

    Fails, naming the element pair, if a pair collapses below 60 % of its starting closest
    approach: that is an energy hole of the potential, and MD would only hide it for a while.
    """
    from atomflow.md.minimize import relax
    from atomflow.structures.checks import min_distances

    cutoff = 6.0  # pairs farther apart than this before (K-K in bcc K: 4.6 Å) count as 6 Å
    before = min_distances(structure, cutoff)
    result = relax(structure, get_potential(potential["name"]), None, ftol=ftol, max_iter=max_iter)
    after = min_distances(result.structure, cutoff)
    before = {k: before.get(k, cutoff) for k in after}
    collapsed = {k: v for k, v in after.items() if v < 0.6 * before[k]}
    if collapsed or not np.isfinite(result.energy_eV):
        pairs = ", ".join(f"{k} {v:.2f} Å (was {before[k]:.2f})" for k, v in collapsed.items())
        raise ValueError(
            f"minimising with {potential['name']} collapsed {pairs or 'the cell'}: the potential "
            "has an energy hole here; refit it with closer contacts for these pairs"
        )
    return result.structure
