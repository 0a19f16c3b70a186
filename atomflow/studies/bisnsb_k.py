"""K into random A7 BiSnSb: does K enter along a dislocation core and hardly into perfect crystal?

The MD experiment of Dou et al. (Adv. Funct. Mater. 2024, doi 10.1002/adfm.202412551): a K slab
in direct contact with a BiSnSb slab, with and without a dislocation; after 100 ps K has
reached the alloy's interior along the core, and hardly entered it without one.

Graph: random bulk alloy → minimise → NPT (a, c against the paper's metastable and annealed
cells) → for each model (edge dislocation quadrupole, its defect-free control, and in ``full``
the screw dislocation and its control) and disorder configuration: build the slab with a K film
on top (at the NPT lattice by default) → minimise → NVT → K front, density profiles,
region-resolved MSD/D and ASE snapshots → one report task (report.json, report.md, plots).
Definitions of the surface, depth and front are in :mod:`atomflow.studies.bisnsb_report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, PositiveFloat, field_validator, model_validator
from pymatgen.core import Structure

from atomflow.errors import InputError
from atomflow.graph import Workflow, task
from atomflow.potentials import get_potential
from atomflow.studies.md_tasks import (
    collapse_note,
    host_integrity,
    npt_lattice,
    nvt_md,
    potential_input,
    relax_positions,
)
from atomflow.studies.stages import NPTStage, Strict, md_protocol

Model = Literal["edge", "control", "screw", "screw_control"]
GEOMETRY = {
    "edge": ("edge", False),
    "control": ("edge", True),
    "screw": ("screw", False),
    "screw_control": ("screw", True),
}


class AlloySettings(Strict):
    """The random alloy (see ``atomflow build bisnsb``)."""

    ratio: str = Field("1:1:1", description="Bi:Sn:Sb")
    phase: Literal["M", "S"] = Field("M", description="reference cell the builder starts from")
    bulk_supercell: tuple[int, int, int] = Field(
        (4, 4, 2), description="of the hexagonal R-3m cell (6 atoms) for the NPT lattice"
    )


class SlabSettings(Strict):
    """The slabs (see ``build_bisnsb_slab``): sizes in 12-atom orthogonal cells (n1, n2 even)."""

    edge_size: tuple[int, int, int] | None = Field(None, description="default (10, 4, 3)")
    screw_size: tuple[int, int, int] | None = Field(None, description="default (6, 4, 5)")
    configs: int = Field(1, ge=1, description="random decorations per model")
    k_layers: int = Field(4, ge=1)
    gap_A: float = Field(3.0, ge=0)
    vacuum_A: float = Field(15.0, ge=5)
    elastic: Literal["bisb-mean", "bi", "sb", "isotropic"] = "bisb-mean"
    lattice: Literal["npt", "paper"] = Field(
        "npt", description="build the slabs at our NPT a, c (unstrained) or the paper's M cell"
    )


class SlabMDStage(Strict):
    """NVT of the K/alloy slabs; time 0 is the first recorded frame (the minimised model)."""

    temperature_K: PositiveFloat = 450.0
    equil_steps: int = Field(0, ge=0)
    steps: int = Field(gt=0)
    sample_every: int = Field(100, gt=0)


class AnalysisSettings(Strict):
    """How the trajectories are read (definitions in :mod:`atomflow.studies.bisnsb_report`)."""

    t_report_ps: PositiveFloat = Field(100.0, description="time of the reported depth")
    window_ps: PositiveFloat = 5.0
    front_quantile: float = Field(0.95, gt=0, lt=1)
    profile_times_ps: list[float] = Field(default_factory=lambda: [0.0, 50.0, 100.0])
    snapshot_times_ps: list[float] = Field(default_factory=lambda: [0.0, 50.0, 100.0])
    profile_bin_A: PositiveFloat = 1.0
    core_radius_A: PositiveFloat = 4.0
    region_min_depth_A: float = Field(2.0, ge=0)
    hardly_A: PositiveFloat = Field(3.0, description="'hardly enters': front advance below this")


class BiSnSbKPreset(Strict):
    """Settings of one preset of ``workflows/bisnsb_dislocation.toml``."""

    description: str = ""
    expected_minutes: float = Field(30, gt=0)
    potential: str = "kbisnsb-pod"
    timestep_fs: PositiveFloat = 2.0
    seed: int = Field(2024, gt=0)
    restart_every: int = Field(5000, gt=0)
    models: list[Model] = Field(default_factory=lambda: ["edge", "control"], min_length=1)
    alloy: AlloySettings = AlloySettings()
    slab: SlabSettings = SlabSettings()
    npt: NPTStage = NPTStage()
    md: SlabMDStage
    analysis: AnalysisSettings = AnalysisSettings()

    @field_validator("models")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"models must be distinct, got {v}")
        return v

    @model_validator(mode="after")
    def _long_enough(self) -> BiSnSbKPreset:
        run_ps = self.md.steps * self.timestep_fs / 1000.0
        a = self.analysis
        late = [t for t in (a.t_report_ps, *a.profile_times_ps, *a.snapshot_times_ps) if t > run_ps]
        if late:
            raise ValueError(
                f"md.steps × timestep_fs = {run_ps:g} ps is shorter than the analysis times "
                f"{sorted(set(late))} ps (t_report_ps, profile_times_ps, snapshot_times_ps)"
            )
        for size in (self.slab.edge_size, self.slab.screw_size):
            if size is not None and (min(size) < 1 or size[0] % 2 or size[1] % 2):
                raise ValueError(f"slab size {size}: n1 and n2 must be even and >= 2, n3 >= 1")
        return self

    def size(self, geometry: str) -> list[int] | None:
        s = self.slab.edge_size if geometry == "edge" else self.slab.screw_size
        return None if s is None else list(s)


@task(version="1")
def bisnsb_bulk(ratio: str, supercell: list[int], seed: int, phase: str = "M") -> Structure:
    """A random A7 BiSnSb bulk supercell for the NPT lattice."""
    from atomflow.structures.bisnsb import build_bisnsb

    return build_bisnsb(ratio, supercell=tuple(supercell), seed=seed, phase=phase).structure


@task(version="1")
def bisnsb_slab(
    geometry: str,
    control: bool,
    size: list[int] | None,
    seed: int,
    ratio: str,
    phase: str = "M",
    a: float | None = None,
    c: float | None = None,
    k_layers: int = 4,
    gap_A: float = 3.0,
    vacuum_A: float = 15.0,
    elastic: str = "bisb-mean",
) -> dict[str, Any]:
    """BiSnSb slab (edge/screw dislocation quadrupole or its control) with a K film on top."""
    from atomflow.structures.bisnsb import build_bisnsb_slab

    r = build_bisnsb_slab(
        dislocation=geometry,
        control=control,
        ratio=ratio,
        size=None if size is None else tuple(size),
        seed=seed,
        phase=phase,
        a=a,
        c=c,
        elastic=elastic,
        k_layers=k_layers,
        gap=gap_A,
        vacuum=vacuum_A,
    )
    summary = r.summary()
    meta = summary["metadata"]
    return {
        "structure": r.structure,
        "metadata": {
            k: meta[k]
            for k in (
                "dislocation",
                "geometry",
                "control",
                "size",
                "seed",
                "a",
                "c",
                "cores",
                "n_alloy",
                "alloy_z_range",
                "k_slab",
                "burgers_vector_hex",
                "line_direction_hex",
                "glide_plane_hex",
            )
        },
        "n_atoms": summary["natoms"],
        "checks_failed": r.failed(),
    }


def _contacts_message(structure: Structure, factor: float = 0.7) -> str | None:
    """None when every element pair is at least ``factor`` × its reference distance apart,
    else a sentence naming the pairs that are closer."""
    from atomflow.structures.checks import check_min_distances

    chk = check_min_distances(structure, factor=factor)
    if chk["ok"]:
        return None
    bad = chk["violations"]
    pairs = ", ".join(
        f"{k} {v['distance']:.2f} Å (limit {v['threshold']:.2f})" for k, v in bad.items()
    )
    return pairs or f"closest pair {chk['min_distance']} Å"


@task(version="1")
def relax_checked(structure: Structure, potential: dict, what: str) -> Structure:
    """Minimise positions (``relax_positions``), then refuse a model whose atoms came closer
    than 0.7 × the element pair's reference distance: that is an energy hole of the
    potential (e.g. K atoms pairing up), and MD from it loses atoms a few ps later."""
    relaxed = relax_positions.func(structure, potential)
    bad = _contacts_message(relaxed)
    if bad:
        raise ValueError(
            f"minimising the {what} with {potential['name']} pulled atoms together: {bad}. "
            "The potential has an energy hole at these contacts (compare the closest pairs of "
            "its training set in its validity notes); refit it before running this study"
        )
    return relaxed


@task(version="1")
def slab_nvt(
    structure: Structure,
    potential: dict,
    protocol: dict,
    what: str,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """``nvt_md`` of one slab; a failed run names the closest contacts of its last frame
    (a run stopped on a walltime signal still raises its requeue exception unchanged)."""
    try:
        return nvt_md.func(structure, potential, protocol, workdir=workdir)
    except Exception as exc:
        if getattr(exc, "requeue", False):  # stopped at a restart point: retry, not a failure
            raise
        detail = ""
        traj = Path(workdir) / "traj.h5"
        if traj.is_file():
            from atomflow.structures.checks import min_distances
            from atomflow.trajectory.h5md import read_h5md

            try:
                tr = read_h5md(traj)
                last = Structure(
                    tr.cells[-1], list(tr.species), tr.positions[-1], coords_are_cartesian=True
                )
                near = min_distances(last, cutoff=3.5)
                detail = (
                    f" Last saved frame ({tr.times_ps[-1]:.1f} ps): closest pairs "
                    + ", ".join(f"{k} {v:.2f} Å" for k, v in near.items())
                    + "."
                )
            except Exception:  # the trajectory itself may be unreadable: keep the first error
                pass
        raise RuntimeError(
            f"NVT of the {what} with {potential['name']} failed: {exc}.{detail} Atoms lost or "
            "a falling potential energy point to an energy hole of the potential; refit it "
            "rather than shortening the timestep"
        ) from exc


@task(version="5")
def k_penetration(
    md: dict,
    slab: dict,
    analysis: dict,
    model: str,
    config: int,
    seed: int,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """K front against time, K density profiles, region D and ASE snapshots of one slab run."""
    from atomflow.studies.bisnsb_plots import render_snapshots
    from atomflow.studies.bisnsb_report import analyse_model, slab_depths
    from atomflow.trajectory.h5md import read_h5md

    traj = read_h5md(md["trajectory"])
    if traj.n_frames < 3:
        raise ValueError(f"{md['trajectory']} holds {traj.n_frames} frames; need at least 3")
    meta = slab["metadata"]
    integrity = host_integrity(traj, ("K",))
    result = analyse_model(
        traj.positions, traj.times_ps, traj.cells, traj.species, meta["cores"], analysis
    )
    t = traj.times_ps - traj.times_ps[0]
    z = slab_depths(traj.positions[[0]], traj.species, traj.cells[[0]])["z"]
    offset = z[0] - traj.positions[0, :, 2]
    frames, when = [], []
    for t0 in analysis["snapshot_times_ps"]:
        f = int(np.argmin(np.abs(t - t0)))
        pos = np.array(traj.positions[f], float)
        pos[:, 2] += offset
        frames.append(pos)
        when.append(float(t[f]))
    snap = render_snapshots(
        frames,
        when,
        traj.species,
        traj.cells[0],
        meta["cores"],
        workdir / "snapshots.png",
        title=f"{model} (K orange, Bi blue, Sn grey, Sb green; dashed: core lines)",
    )
    return {
        **result,
        "model": model,
        "config": config,
        "seed": seed,
        "geometry": meta["geometry"],
        "dislocation": meta["dislocation"],
        "n_atoms": slab["n_atoms"],
        "build_checks_failed": slab["checks_failed"],
        "temperature_K": md["temperature_K"],
        "md": md["md"],
        "snapshots": str(snap),
        "integrity": integrity,
        "integrity_note": collapse_note(integrity),
    }


@task(version="1")
def bisnsb_report(
    npt: dict,
    analyses: list[dict],
    reference: dict,
    settings: dict,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """report.json / report.md / plots of the K-into-BiSnSb study."""
    from atomflow.studies.bisnsb_report import write_bisnsb_report

    return write_bisnsb_report(
        workdir, npt=npt, analyses=analyses, reference=reference, settings=settings
    )


def _check_temperature(preset: BiSnSbKPreset) -> None:
    """The NVT temperature must lie in the potential's stated validity range."""
    pot = get_potential(preset.potential)
    temps = pot.validity.get("temperatures_K")
    T = preset.md.temperature_K
    if temps and not temps[0] <= T <= temps[1]:
        raise InputError(
            f"md.temperature_K = {T:g} K is outside {pot.name}'s validity range "
            f"{temps[0]:g}-{temps[1]:g} K; choose a temperature inside it"
        )


def build_workflow(
    preset: BiSnSbKPreset,
    name: str = "bisnsb_dislocation",
    reference: dict[str, Any] | None = None,
) -> Workflow:
    """The K-into-BiSnSb dislocation study as a workflow graph (also its Python API)."""
    _check_temperature(preset)
    wf = Workflow(name=name)
    pot = potential_input(preset.potential)
    al = preset.alloy
    bulk = wf.add(bisnsb_bulk(al.ratio, list(al.bulk_supercell), preset.seed, al.phase), "bulk")
    bulk_relaxed = wf.add(relax_checked(bulk.output, pot, "bulk alloy"), "relax-bulk")
    npt_p = md_protocol(
        preset.npt,
        preset.npt.temperature_K,
        timestep_fs=preset.timestep_fs,
        restart_every=preset.restart_every,
        seed=preset.seed,
    )
    npt = wf.add(npt_lattice(bulk_relaxed.output, pot, npt_p, list(al.bulk_supercell)), "npt-bulk")
    if preset.slab.lattice == "npt":
        a, c = npt["lattice"]["a"], npt["lattice"]["c"]
    else:
        a = c = None
    analysis = preset.analysis.model_dump(mode="json")
    analyses = []
    for i, model in enumerate(preset.models):
        geometry, control = GEOMETRY[model]
        for k in range(preset.slab.configs):
            tag = model + (f"-c{k}" if preset.slab.configs > 1 else "")
            # a model and its control share the decoration: seed by geometry and config only
            seed = preset.seed + 1000 * (geometry == "screw") + 10 * k + 1
            built = wf.add(
                bisnsb_slab(
                    geometry,
                    control,
                    preset.size(geometry),
                    seed,
                    al.ratio,
                    al.phase,
                    a,
                    c,
                    preset.slab.k_layers,
                    preset.slab.gap_A,
                    preset.slab.vacuum_A,
                    preset.slab.elastic,
                ),
                f"slab-{tag}",
            )
            start = wf.add(relax_checked(built["structure"], pot, f"{tag} slab"), f"relax-{tag}")
            p = md_protocol(
                preset.md,
                preset.md.temperature_K,
                timestep_fs=preset.timestep_fs,
                restart_every=preset.restart_every,
                seed=seed + 7 * (i + 1),
            )
            md = wf.add(slab_nvt(start.output, pot, p, f"{tag} slab"), f"nvt-{tag}")
            an = wf.add(
                k_penetration(md.output, built.output, analysis, model, k, seed), f"k-{tag}"
            )
            analyses.append(an.output)
    wf.add(
        bisnsb_report(npt.output, analyses, reference or {}, preset.model_dump(mode="json")),
        "report",
    )
    return wf
