"""Li diffusion in bulk A, bulk B and along the A/B interface of a heterostructure.

Is the phase boundary a fast path for Li? One study system for every two-phase interface
that :mod:`atomflow.structures` can build (:data:`INTERFACES`: A is the builder's film, B its
substrate), so each recipe only picks the heterostructure, the sizes and the potential.

Graph: for each phase, its reference cell (``structures/catalog.toml``; a disordered one is
ordered first) → minimise → NPT (a, c, V per reference cell, against the catalogue) → the
same cell at the NPT lattice with Li in its largest (or random) interstitial holes →
minimise → NVT at each temperature → tracer D of Li (whole cell). The interface model (the
builder's periodic stack with Li within ``li_window_A`` of the interface planes) → minimise
positions and cell → NVT → D of Li inside a band of ``analysis.half_width_A`` around the
interface planes, membership tracked over time (:func:`atomflow.analysis.regions.region_msd`).
One report task: lattice table, D per region and T, Arrhenius Ea per region, and the
findings ("D(interface) > D(both bulks)", within 2σ). Definitions and the report.json
schema are in :mod:`atomflow.studies.li_interface_report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveFloat, field_validator, model_validator
from pymatgen.core import Lattice, Structure

from atomflow.errors import InputError
from atomflow.graph import Workflow, task
from atomflow.potentials import available_potentials, get_potential
from atomflow.studies.md_tasks import (
    collapse_note,
    host_integrity,
    npt_lattice,
    nvt_md,
    potential_input,
    relax_positions,
)
from atomflow.studies.stages import NPTStage, NVTStage, Strict, md_protocol


@dataclass(frozen=True)
class Phase:
    """A bulk phase: its name in reports and its entry in ``structures/catalog.toml``."""

    label: str
    reference: str


@dataclass(frozen=True)
class Heterostructure:
    """An interface builder of :mod:`atomflow.structures` and its two phases."""

    builder: str
    A: Phase  # the builder's film
    B: Phase  # the builder's substrate
    potential: str  # the potential distilled (or to be distilled) for it


INTERFACES = {
    "crncn-crn": Heterostructure(
        "crncn-crn", Phase("Cr2(NCN)3", "cr2ncn3"), Phase("CrN", "crn_rocksalt"), "licrcn-pod"
    ),
    "mo2n-wn": Heterostructure(
        "mo2n-wn", Phase("Mo2N", "mo2n_gamma"), Phase("WN", "wn_delta"), "limown-pod"
    ),
}
#: builder parameters the study sets itself (Li placement, seed)
RESERVED = ("n_li", "li_region", "li_window", "li_selection", "li_margin", "seed")


class BulkSettings(Strict):
    """One bulk phase: NPT cell and the Li-containing NVT cell (same supercell)."""

    supercell: tuple[int, int, int] = Field(
        (2, 2, 2), description="of the reference cell (of the ordered cell if it is disordered)"
    )
    n_li: int = Field(4, ge=1, description="interstitial Li in the NVT cell")
    li_margin: float = Field(
        1.0,
        gt=0,
        le=2,
        description="a hole qualifies when Li clears every host atom by li_margin x the pair "
        "threshold (below 1 admits the tetrahedral holes of rock salt)",
    )

    @field_validator("supercell")
    @classmethod
    def _positive(cls, v: tuple[int, int, int]) -> tuple[int, int, int]:
        if min(v) < 1:
            raise ValueError(f"supercell {v}: every repeat must be >= 1")
        return v


class InterfaceSettings(Strict):
    """The interface model (see ``atomflow build crncn-crn`` / ``mo2n-wn``)."""

    builder: Literal["crncn-crn", "mo2n-wn"]
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="further builder parameters (thicknesses, inplane_repeat, gap, ...)",
    )
    n_li: int = Field(6, ge=1, description="Li placed near the interface planes")
    li_window_A: PositiveFloat = Field(2.0, description="Li start within this of a plane")
    li_margin: float = Field(1.0, gt=0, le=2)
    relax_cell: bool = Field(
        True, description="minimise the cell too (the model is built at the reference lattices)"
    )

    @model_validator(mode="after")
    def _known_params(self) -> InterfaceSettings:
        from atomflow.structures import parameters

        allowed = set(parameters(self.builder)) - set(RESERVED)
        bad = sorted(set(self.params) - allowed)
        if bad:
            raise ValueError(
                f"params {', '.join(bad)} are not {self.builder} builder parameters the study "
                f"leaves free; allowed: {', '.join(sorted(allowed))} (Li placement is set by "
                "n_li, li_window_A, li_margin and the preset's li_selection)"
            )
        return self


class AnalysisSettings(Strict):
    """Region definitions (see :mod:`atomflow.studies.li_interface_report`)."""

    half_width_A: PositiveFloat = Field(
        3.0, description="interface region: within this distance of an interface plane"
    )


class LiInterfacePreset(Strict):
    """Settings of one preset of a Li-at-an-interface recipe (``workflows/*interface*.toml``)."""

    description: str = ""
    expected_minutes: float = Field(30, gt=0)
    potential: str = Field(
        description="registry name, or a path to a potential.toml (relative to the current "
        "directory; made absolute when the graph is built)"
    )
    timestep_fs: PositiveFloat = 1.0
    seed: int = Field(2024, gt=0, lt=2**31 - 10**6)
    restart_every: int = Field(2000, gt=0)
    configs: int = Field(1, ge=1, description="Li placements (and velocity seeds) per model")
    li_selection: Literal["largest", "random"] = Field(
        "random", description="Li holes: largest first, or at random with the config's seed"
    )
    bulk_a: BulkSettings = BulkSettings()
    bulk_b: BulkSettings = BulkSettings()
    interface: InterfaceSettings
    npt: NPTStage = NPTStage()
    nvt: NVTStage
    analysis: AnalysisSettings = AnalysisSettings()

    @model_validator(mode="after")
    def _window_inside_band(self) -> LiInterfacePreset:
        if self.interface.li_window_A + 0.5 > self.analysis.half_width_A:
            raise ValueError(
                f"interface.li_window_A = {self.interface.li_window_A:g} Å must be at least "
                f"0.5 Å narrower than analysis.half_width_A = {self.analysis.half_width_A:g} Å, "
                "or Li starts on the edge of the interface region and leaves it at once; "
                "narrow the window or widen the band"
            )
        return self

    @property
    def system(self) -> Heterostructure:
        return INTERFACES[self.interface.builder]


# ---------------------------------------------------------------- structures


def reference_cell(name: str) -> tuple[Structure, tuple[int, int, int]]:
    """An ordered cell of catalogue entry ``name`` and how many reference cells it spans.

    Disordered references need a known ordering: γ-Mo2N (N on half the octahedral holes)
    becomes the lowest-Ewald 1x1x2 ordering of :func:`atomflow.structures.mo2n_wn.ordered_mo2n`.
    """
    from atomflow.structures.reference import load_reference

    if name == "mo2n_gamma":
        from atomflow.structures.mo2n_wn import ordered_mo2n

        return ordered_mo2n()[0], (1, 1, 2)
    s = load_reference(name)
    if not s.is_ordered:
        raise InputError(
            f"reference structure {name!r} has partial occupancies and no ordering is known "
            "to this study; add one to atomflow.studies.li_interface.reference_cell"
        )
    return s, (1, 1, 1)


def _add_li(
    s: Structure, n_li: int, margin: float, selection: str, seed: int, sep: float = 2.5
) -> Structure:
    """``n_li`` Li on interstitial holes (largest first or at random), ``sep`` Å apart."""
    from atomflow.structures.heterostructure import interstitial_candidates, pick_holes

    cand = interstitial_candidates(s, margin=margin)
    picked = pick_holes(s.lattice, cand, n_li, selection, seed, sep)
    if len(picked) < n_li:
        raise InputError(
            f"only {len(picked)} interstitial holes of {s.composition.reduced_formula} keep Li "
            f"{margin:g} x the pair threshold from the host and {sep} Å apart; ask for "
            f"n_li <= {len(picked)}, a larger supercell, or a smaller li_margin"
        )
    out = s.copy()
    for p in picked:
        out.append("Li", p, coords_are_cartesian=True)
    return out


@task(version="1")
def bulk_cell(
    reference: str,
    supercell: list[int],
    a: float | None = None,
    c: float | None = None,
    n_li: int = 0,
    li_margin: float = 1.0,
    li_selection: str = "largest",
    seed: int = 0,
) -> Structure:
    """Supercell of a reference phase, optionally at lattice ``a``, ``c`` (per reference cell)
    and with ``n_li`` interstitial Li."""
    s, mult = reference_cell(reference)
    if a is not None and c is not None:
        lat = s.lattice
        s = Structure(
            Lattice.from_parameters(
                a * mult[0], a * mult[1], c * mult[2], lat.alpha, lat.beta, lat.gamma
            ),
            s.species,
            s.frac_coords,
        )
    s.make_supercell(list(supercell))
    return _add_li(s, n_li, li_margin, li_selection, seed) if n_li else s


@task(version="1")
def interface_model(
    builder: str,
    params: dict,
    n_li: int,
    li_window_A: float,
    li_margin: float,
    li_selection: str,
    seed: int,
) -> dict[str, Any]:
    """The builder's periodic A/B stack with ``n_li`` Li near the interface planes.

    ``labels`` (film/substrate/Li per atom, in order) and ``planes_frac`` (interface planes as
    fractions of the cell height) let the analysis find the planes again after minimising.
    """
    from atomflow.structures import build_system

    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    r = build_system(
        builder,
        n_li=n_li,
        li_region="interface",
        li_window=li_window_A,
        li_selection=li_selection,
        li_margin=li_margin,
        seed=seed,
        **params,
    )[0]
    s = r.structure
    height = s.lattice.volume / r.metadata["area"]
    labels = [str(v).split(":")[0] for v in s.site_properties["region"]]
    meta = r.summary()["metadata"]
    keep = ("film", "substrate", "area", "film_strain", "substrate_strain", "interfaces_z")
    return {
        "structure": s,
        "labels": labels,
        "planes_frac": [z / height for z in r.metadata["interfaces_z"]],
        "metadata": {k: meta[k] for k in keep if k in meta} | {"li": meta.get("li")},
        "n_atoms": len(s),
        "checks_failed": r.failed(),
    }


@task(version="1")
def relax_model(structure: Structure, potential: dict, cell: str | None, what: str) -> Structure:
    """Minimise positions (and the cell: ``hexagonal`` keeps the in-plane shape, the normal
    free); fails, naming the pair, if atoms collapse (an energy hole of the potential)."""
    if cell is None:
        return relax_positions.func(structure, potential)
    from atomflow.md.minimize import relax
    from atomflow.structures.checks import min_distances

    before = min_distances(structure, 6.0)
    res = relax(structure, get_potential(potential["name"]), cell, ftol=0.02, max_iter=1000)
    after = min_distances(res.structure, 6.0)
    bad = {k: v for k, v in after.items() if v < 0.6 * before.get(k, 6.0)}
    if bad or res.energy_eV != res.energy_eV:
        pairs = ", ".join(f"{k} {v:.2f} Å (was {before.get(k, 6.0):.2f})" for k, v in bad.items())
        raise ValueError(
            f"minimising the {what} with {potential['name']} collapsed {pairs or 'the cell'}: "
            "the potential has an energy hole here; refit it with closer contacts"
        )
    return relax_positions.func(res.structure, potential)


@task(version="4")
def li_diffusion(
    md: dict,
    region: str,
    config: int,
    model: dict | None = None,
    half_width_A: float = 3.0,
) -> dict[str, Any]:
    """D of Li in one run: the whole cell (bulk), or the band around the interface planes."""
    from atomflow.studies.li_interface_report import analyse_run
    from atomflow.trajectory.h5md import read_h5md

    traj = read_h5md(md["trajectory"])
    if traj.n_frames < 8:
        raise ValueError(f"{md['trajectory']} holds {traj.n_frames} frames; need at least 8")
    out = analyse_run(
        traj.positions,
        traj.times_ps,
        traj.cells,
        traj.species,
        labels=None if model is None else model["labels"],
        planes_frac=None if model is None else model["planes_frac"],
        half_width_A=half_width_A,
    )
    integrity = host_integrity(traj, ("Li",))
    if not integrity["ok"]:
        note = collapse_note(integrity)
        out.update(invalid=True, note="; ".join(n for n in (note, out["note"]) if n))
        out.update({k: False for k in out if k.startswith("converged_")})
    out["integrity"] = integrity
    return {**out, "region": region, "config": config, "T_K": md["temperature_K"], "md": md["md"]}


@task(version="1")
def li_interface_report(
    lattices: dict,
    analyses: list[dict],
    phases: dict,
    reference: dict,
    settings: dict,
    study: str = "li_interface",
    workdir: Path | None = None,
) -> dict[str, Any]:
    """report.json / report.md / plots of a Li-at-an-interface study."""
    from atomflow.studies.li_interface_report import write_report

    return write_report(
        workdir,
        lattices=lattices,
        analyses=analyses,
        phases=phases,
        reference=reference,
        settings=settings,
        study=study,
    )


# ---------------------------------------------------------------- the graph


def elements(preset: LiInterfacePreset) -> list[str]:
    """Every element the study's cells hold (what the potential must cover)."""
    els = {"Li"}
    for ph in (preset.system.A, preset.system.B):
        els |= {e.symbol for e in reference_cell(ph.reference)[0].composition.elements}
    return sorted(els)


def _potential(preset: LiInterfacePreset) -> dict[str, Any]:
    """The potential input, or an :class:`InputError` now, before any task runs."""
    name = preset.potential
    path_like = name.endswith(".toml") or "/" in name or Path(name).is_dir()
    if path_like:
        name = str(Path(name).expanduser().resolve())  # workers may run elsewhere
    need = elements(preset)
    if not path_like and name not in available_potentials():
        why = (
            f"It is the potential written for {preset.system.builder} and has not been "
            "distilled yet; until it ships"
            if name == preset.system.potential
            else "Check its spelling, or"
        )
        raise InputError(
            f"potential {name!r} is not available: it is not shipped with atomflow (shipped: "
            f"{', '.join(available_potentials()) or 'none'}). {why}, set potential = "
            f'"/path/to/potential.toml" in the preset, a potential that covers {", ".join(need)}'
        )
    pot = get_potential(name)
    pot.check_elements(need)
    temps = pot.validity.get("temperatures_K")
    wanted = (preset.npt.temperature_K, *preset.nvt.temperatures_K)
    outside = [T for T in wanted if temps and not temps[0] <= T <= temps[1]]
    if outside:
        raise InputError(
            f"temperatures {', '.join(f'{T:g}' for T in outside)} K are outside {pot.name}'s "
            f"validity range {temps[0]:g}-{temps[1]:g} K; choose temperatures inside it"
        )
    return potential_input(name)


def phases_input(preset: LiInterfacePreset) -> dict[str, Any]:
    """Labels and catalogue data of phases A and B (the report's reference values)."""
    from atomflow.structures.reference import load_reference, reference_entry

    out = {}
    for key, ph in (("A", preset.system.A), ("B", preset.system.B)):
        e = reference_entry(ph.reference)
        out[key] = {
            "label": ph.label,
            "side": "film" if key == "A" else "substrate",
            "reference_name": ph.reference,
            "formula": e.formula,
            "space_group": e.space_group,
            "cell": dict(e.cell),
            "V": float(load_reference(ph.reference).volume),
            "confidence": e.confidence,
            "source": e.source,
        }
    return out


def build_workflow(
    preset: LiInterfacePreset,
    name: str = "li_interface",
    reference: dict[str, Any] | None = None,
) -> Workflow:
    """The study as a workflow graph (also its Python API); fails early on a bad potential."""
    pot = _potential(preset)
    wf = Workflow(name=name)
    het = preset.system

    def protocol(stage, T: float, seed: int) -> dict[str, Any]:
        return md_protocol(
            stage, T, timestep_fs=preset.timestep_fs, restart_every=preset.restart_every, seed=seed
        )

    lattices, starts = {}, []  # starts: (region, config, structure ref, model or None)
    for j, (key, ph, bulk) in enumerate(
        (("A", het.A, preset.bulk_a), ("B", het.B, preset.bulk_b)), start=1
    ):
        sc = list(bulk.supercell)
        mult = reference_cell(ph.reference)[1]
        cell = wf.add(bulk_cell(ph.reference, sc), f"bulk-{key}")
        relaxed = wf.add(relax_model(cell.output, pot, None, f"bulk {ph.label}"), f"relax-{key}")
        npt = wf.add(
            npt_lattice(
                relaxed.output,
                pot,
                protocol(preset.npt, preset.npt.temperature_K, preset.seed + j),
                [n * m for n, m in zip(sc, mult, strict=True)],
            ),
            f"npt-{key}",
        )
        lattices[key] = npt.output
        lat = npt["lattice"]
        for k in range(preset.configs):
            tag = f"{key}" + (f"-c{k}" if preset.configs > 1 else "")
            li_cell = wf.add(
                bulk_cell(
                    ph.reference,
                    sc,
                    lat["a"],
                    lat["c"],
                    bulk.n_li,
                    bulk.li_margin,
                    preset.li_selection,
                    preset.seed + 100 * k + j,
                ),
                f"bulk-li-{tag}",
            )
            start = wf.add(
                relax_model(li_cell.output, pot, None, f"Li in bulk {ph.label}"),
                f"relax-li-{tag}",
            )
            starts.append((f"bulk_{key}", k, tag, start.output, None))
    it = preset.interface
    for k in range(preset.configs):
        tag = "interface" + (f"-c{k}" if preset.configs > 1 else "")
        model = wf.add(
            interface_model(
                it.builder,
                it.params,
                it.n_li,
                it.li_window_A,
                it.li_margin,
                preset.li_selection,
                preset.seed + 100 * k + 3,
            ),
            f"model-{tag}",
        )
        cell = "hexagonal" if it.relax_cell else None
        start = wf.add(
            relax_model(model["structure"], pot, cell, f"{het.A.label}/{het.B.label} model"),
            f"relax-{tag}",
        )
        starts.append(("interface", k, tag, start.output, model.output))
    analyses = []
    for r, (region, k, tag, start, model) in enumerate(starts):
        for i, T in enumerate(preset.nvt.temperatures_K):
            seed = preset.seed + 1000 * (r + 1) + 100 * k + i + 7
            md = wf.add(nvt_md(start, pot, protocol(preset.nvt, T, seed)), f"nvt-{tag}-{T:g}K")
            an = wf.add(
                li_diffusion(md.output, region, k, model, preset.analysis.half_width_A),
                f"diffusion-{tag}-{T:g}K",
            )
            analyses.append(an.output)
    wf.add(
        li_interface_report(
            lattices,
            analyses,
            phases_input(preset),
            reference or {},
            preset.model_dump(mode="json"),
            name,
        ),
        "report",
    )
    return wf
