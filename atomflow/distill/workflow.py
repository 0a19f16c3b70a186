"""The distillation recipe (TOML, quick and full presets) and its workflow graph.

Graph: parents → seeds → label → split → fit₀ → [probe MD → label → split → fitₖ] × rounds
→ core (a fitted repulsive pair term below the closest trained approaches) → gate (NVT)
and NPT check → validate (held-out errors, lattice and phonons against the labeller,
short-range safety, speed) → package (a registry folder with its report). Every node is
cached in the store, so an interrupted fit resumes, and a cluster runs it like any other
workflow.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from atomflow.distill import dataset, explore, validate
from atomflow.distill.core import CoreSettings, add_core, fit_core
from atomflow.distill.labellers import evaluate_potential, get_labeller
from atomflow.distill.pod import PODSettings, fit_pod
from atomflow.distill.seeds import SeedPlan, make_seeds
from atomflow.distill.task_inputs import task_dict
from atomflow.errors import InputError
from atomflow.graph import Workflow, task, write_progress
from atomflow.structures import build_system


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Parent(_Strict):
    """A parent cell and its mobile species: a structure builder call (``system``, with
    ``atomflow build`` names and ``params``) or a catalogue crystal (``reference``, e.g.
    ``k_bcc``), repeated by ``supercell``, with ``add`` atoms put into its emptiest spots."""

    system: str | None = None
    reference: str | None = Field(None, description="reference structure name (catalog.toml)")
    params: dict[str, Any] = Field(default_factory=dict)
    supercell: list[int] = Field(default=[1, 1, 1], min_length=3, max_length=3)
    add: dict[str, int] = Field(
        default_factory=dict, description="{element: n} interstitial atoms, e.g. K-rich cells"
    )
    add_margin: float | None = Field(
        None,
        gt=0,
        le=2,
        description="put add atoms as the studies do: on interstitial holes that clear the host "
        "by add_margin x the pair threshold, at random, 2.5 Å apart (None: the emptiest points)",
    )
    add_seed: int | None = Field(None, description="seed of that pick (default: the index)")
    added_later: ClassVar[tuple[str, ...]] = ("add_margin", "add_seed")  # see task_dict
    mobile: str | None = None
    label: str = ""
    cell_multiple: list[int] = Field(
        default=[1, 1, 1], description="supercell of the reported cell: lattice is divided by it"
    )
    lattice: bool = Field(True, description="validate the relaxed lattice (False for slabs)")

    @model_validator(mode="after")
    def _one_source(self) -> Parent:
        if (self.system is None) == (self.reference is None):
            raise ValueError("give exactly one of system (a builder) or reference (a crystal)")
        if self.reference is not None and self.params:
            raise ValueError("params go with system, not with reference")
        if min(self.supercell) < 1 or min(self.add.values(), default=0) < 0:
            raise ValueError("supercell entries must be >= 1 and add counts >= 0")
        if self.add_margin is not None and set(self.add) - {"Li", "K"}:
            raise ValueError("add_margin places Li or K only; drop it for other add elements")
        return self

    @property
    def name(self) -> str:
        return self.label or self.system or self.reference or ""


class NPTProbes(_Strict):
    """Constant-pressure probes of the bulk parents (lattice = true) in the active-learning
    rounds from ``from_round`` on. Their frames are labelled whether or not a pair is flagged:
    a cell sliding into a false dense minimum keeps every pair distance in range."""

    temperatures_K: list[PositiveFloat] = Field(min_length=1)
    from_round: int = Field(
        1, ge=1, description="first round with NPT probes (earlier rounds stay cached)"
    )
    steps: int = Field(4000, gt=0)
    snapshots: int = Field(8, gt=0, description="frames per probe, evenly spaced")
    min_atoms: int = Field(
        200, gt=0, description="cells grown to this: a collapse may need room in every axis"
    )


class LongProbes(_Strict):
    """NVT as long as the breakdown takes, on gate-sized cells, in the rounds from
    ``from_round`` on. A drift that builds over picoseconds only shows in such runs:
    licrcn-pod's Cr2(NCN)3+Li broke after 7 ps at 1000 K where the 2 ps probes on 134 atoms
    flagged nothing. Frames are spread over each run (flagged or not) and the flagged ones
    and the run-up to a crash added."""

    temperatures_K: list[PositiveFloat] = Field(min_length=1)
    from_round: int = Field(1, ge=1, description="first round with long probes")
    steps: int = Field(10000, gt=0)
    snapshots: int = Field(12, gt=0, description="frames spread over each run")
    min_atoms: int = Field(400, gt=0)
    parents: list[int] | None = Field(None, description="indices into parents; None = all")
    ensemble: Literal["nvt", "npt"] = Field(
        "nvt",
        description="npt lets the cell find the fit's own lattice, where a study runs: "
        "limown-pod's WN+Li held at the built lattice and collapsed at its NPT one",
    )
    added_later: ClassVar[tuple[str, ...]] = ("ensemble",)  # see task_dict


class ActiveSettings(_Strict):
    rounds: int = Field(2, ge=0)
    temperatures_K: list[PositiveFloat] = Field(min_length=1)
    steps: int = Field(2000, gt=0)
    min_atoms: int = Field(100, gt=0)
    snapshots: int = Field(12, gt=0, description="labelled frames per probe, at most")
    timestep_fs: PositiveFloat = 1.0
    floor_A: float | None = Field(
        None, description="skip frames with a closer pair (default: the ZBL outer cutoff)"
    )
    relax_frames: int = Field(
        0,
        ge=0,
        description="per bulk parent (lattice = true) and round: frames on the path from the "
        "parent to its cell relaxed with the fit, labelled flagged or not (teaches the lattice)",
    )
    npt: NPTProbes | None = None
    long: LongProbes | None = None


class GateSettings(_Strict):
    temperature_K: PositiveFloat
    ps: PositiveFloat = 20.0
    min_atoms: int = Field(400, gt=0)
    timestep_fs: PositiveFloat = 1.0
    parents: list[int] | None = Field(None, description="indices into parents; None = all")


class NPTCheck(_Strict):
    """Validation at constant pressure: NPT of each bulk parent (lattice = true); its mean
    volume must stay within ``tolerance_pct`` of the labeller's relaxed (0 K) volume. Catches
    a false dense minimum that relaxing from the reference cell never reaches (licrcn-pod's
    Cr2(NCN)3 fell 17 % below CHGNet's volume). The room is for thermal expansion: eSNAP's
    own Li3N sits 2.5 % above its 0 K volume at 300 K."""

    temperature_K: PositiveFloat = 300.0
    ps: PositiveFloat = 5.0
    min_atoms: int = Field(400, gt=0)
    timestep_fs: PositiveFloat = 1.0
    tolerance_pct: PositiveFloat = 5.0


class DistillPreset(_Strict):
    """Settings of one preset of a distillation recipe."""

    description: str = ""
    expected_minutes: float = Field(10, gt=0)
    seed: int = Field(7, gt=0)
    test_fraction: float = Field(0.15, gt=0, lt=0.5)
    max_force_eV_A: float = Field(
        20.0, gt=0, description="labelled frames with a larger force are dropped (blow-ups)"
    )
    parents: list[Parent] = Field(min_length=1)
    seeds: SeedPlan = SeedPlan()
    pod: PODSettings = PODSettings()
    core: CoreSettings = CoreSettings()
    active: ActiveSettings
    gate: GateSettings
    npt_check: NPTCheck = NPTCheck()
    phonons: bool = True
    speed_atoms: int = Field(1000, gt=0)

    @model_validator(mode="after")
    def _parent_indices(self) -> DistillPreset:
        n = len(self.parents)
        for where, picks in (
            ("gate.parents", self.gate.parents),
            ("active.long.parents", self.active.long.parents if self.active.long else None),
        ):
            bad = [k for k in picks or [] if not 0 <= k < n]
            if bad:
                raise ValueError(
                    f"{where} {bad}: indices into parents run from 0 to {n - 1}; "
                    "count the [[parents]] entries from 0"
                )
        return self


class PotentialHeader(_Strict):
    """The ``[potential]`` table of a recipe."""

    name: str
    elements: list[str] = Field(min_length=1)
    labeller: str
    labeller_reason: str = ""
    description: str = ""
    validity_notes: str = Field(
        "", description="limits found in use, added to the shipped [validity] notes"
    )
    experiment: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="parent label -> {a, c, ...} experimental values, Å"
    )


def load_recipe(path: str | Path, preset: str) -> tuple[PotentialHeader, DistillPreset]:
    """Read and validate a recipe; errors name the file and the key."""
    from pydantic import ValidationError

    from atomflow.studies.spec import _format_errors, read_toml

    path = Path(path)
    raw = read_toml(path)
    unknown = sorted(set(raw) - {"potential", "presets"})
    if unknown or "potential" not in raw:
        raise InputError(f"{path}: needs [potential] and [presets.NAME] tables only")
    try:
        header = PotentialHeader.model_validate(raw["potential"])
    except ValidationError as exc:
        raise InputError(_format_errors(path, "potential", exc)) from None
    presets = raw.get("presets", {})
    if preset not in presets:
        raise InputError(f"{path}: no preset {preset!r}; it has {', '.join(sorted(presets))}")
    try:
        settings = DistillPreset.model_validate(presets[preset])
    except ValidationError as exc:
        raise InputError(_format_errors(path, f"presets.{preset}", exc)) from None
    return header, settings


def replicate_to(structure: Structure, min_atoms: int) -> Structure:
    """The smallest near-cubic repeat of ``structure`` with at least ``min_atoms`` atoms."""
    reps = [1, 1, 1]
    lengths = np.array(structure.lattice.abc, dtype=float)
    while len(structure) * int(np.prod(reps)) < min_atoms:
        k = int(np.argmin(lengths * reps))
        reps[k] += 1
    return structure * reps


def _read_structures(paths: list[str]) -> list[Structure]:
    return [Structure.from_file(p) for p in paths]


def build_parent(parent: Parent, seed: int = 0) -> Structure:
    """The parent cell: built or loaded, repeated, with ``add`` atoms at the emptiest points
    (each the farthest from every atom placed so before it), or on holes as the studies put
    Li (``add_margin``)."""
    from atomflow.distill.seeds import _void_point
    from atomflow.structures.reference import load_reference

    if parent.reference is not None:
        made = load_reference(parent.reference)
    else:
        made = build_system(parent.system, **parent.params)[0].structure
    # bare species and positions: site labels and oxidation states are not labels
    built = Structure(made.lattice, [site.specie.symbol for site in made], made.frac_coords)
    built = built * parent.supercell
    if parent.add and parent.add_margin is not None:
        from atomflow.structures.heterostructure import interstitial_candidates, pick_holes

        pick_seed = seed if parent.add_seed is None else parent.add_seed
        for element, n in sorted(parent.add.items()):
            cand = interstitial_candidates(built, guest=element, margin=parent.add_margin)
            picked = pick_holes(built.lattice, cand, n, "random", pick_seed)
            if len(picked) < n:
                raise InputError(
                    f"parent {parent.name!r}: only {len(picked)} holes clear the host by "
                    f"add_margin={parent.add_margin:g}; lower add_margin or add fewer {element}"
                )
            for point in picked:
                built.append(element, point, coords_are_cartesian=True)
    elif parent.add:
        atoms = AseAtomsAdaptor.get_atoms(built)
        rng = np.random.default_rng(seed)
        for element, n in sorted(parent.add.items()):
            for _ in range(n):
                point = _void_point(atoms, rng)
                atoms.append(element)
                atoms.positions[-1] = point
        built = AseAtomsAdaptor.get_structure(atoms)
    return built


@task(version="3")
def distill_parents(parents: list[dict], workdir: Path | None = None) -> list[str]:
    """Build each parent structure once; later tasks read the files."""
    out = []
    for k, p in enumerate(parents):
        built = build_parent(Parent(**p), seed=k)
        path = Path(workdir) / f"parent_{k}.json"
        path.write_text(json.dumps(built.as_dict()))
        out.append(str(path))
    return out


@task(version="4")
def distill_seeds(
    parent_paths: list[str],
    parents: list[dict],
    seeds: dict,
    seed: int,
    workdir: Path | None = None,
) -> dict:
    """Seed configurations (strained, rattled, compressed, defects) of every parent."""
    frames = []
    for k, (path, p) in enumerate(zip(parent_paths, parents, strict=True)):
        plan = SeedPlan(**{**seeds, "mobile": p.get("mobile")})
        atoms = AseAtomsAdaptor.get_atoms(Structure.from_file(path))
        for f in make_seeds(atoms, plan, seed + 1000 * k):
            f.info["parent"] = Parent(**p).name
            frames.append(f)
    out = dataset.write_frames(frames, Path(workdir) / "seeds.xyz")
    return {"frames": str(out), "n": len(frames)}


@task(version="1")
def distill_label(frames: dict, labeller: str, workdir: Path | None = None) -> dict:
    """Energies, forces and stresses from the labeller (extxyz, reusable by other codes)."""
    import time

    lab = get_labeller(labeller)
    todo = dataset.read_frames(Path(frames["frames"])) if frames["n"] else []
    t0 = time.perf_counter()
    done: list = []
    chunk = 8  # progress after every few frames: labelling hundreds takes many minutes
    for start in range(0, len(todo), chunk):
        done += lab.label(todo[start : start + chunk])
        write_progress(
            Path(workdir), len(done) / len(todo), f"labelled {len(done)}/{len(todo)} frames"
        )
    seconds = time.perf_counter() - t0
    out = Path(workdir) / "labelled.xyz"
    if done:
        dataset.write_frames(done, out)
    return {
        "frames": str(out) if done else "",
        "n": len(done),
        "labeller": lab.name,
        "version": lab.version,
        "seconds": seconds,
        "atoms": int(sum(len(f) for f in done)),
    }


@task(version="2")
def distill_split(
    labelled: dict,
    test_fraction: float,
    seed: int,
    max_force_eV_A: float = 20.0,
    workdir: Path | None = None,
) -> dict:
    """Hold out a test set (never trained on) from a batch of labelled frames.

    Frames with a labelled force above ``max_force_eV_A`` (the run-up to a blow-up, far from
    anything a study samples) go to neither set: in the least squares they outweigh hundreds
    of relevant frames. They are counted in the result.
    """
    if not labelled["n"]:
        return {"train": "", "test": "", "n_train": 0, "n_test": 0, "n_dropped": 0}
    frames = dataset.read_frames(Path(labelled["frames"]))
    kept = [f for f in frames if np.abs(f.get_forces()).max() <= max_force_eV_A]
    if not kept:
        return {"train": "", "test": "", "n_train": 0, "n_test": 0, "n_dropped": len(frames)}
    train, test = dataset.split(kept, test_fraction, seed)
    d = Path(workdir)
    dataset.write_frames(train, d / "train.xyz")
    dataset.write_frames(test, d / "test.xyz")
    return {
        "train": str(d / "train.xyz"),
        "test": str(d / "test.xyz"),
        "n_train": len(train),
        "n_test": len(test),
        "n_dropped": len(frames) - len(kept),
    }


def _frames_of(splits: list[dict], key: str) -> list:
    out = []
    for s in splits:
        if s[key]:
            out += dataset.read_frames(Path(s[key]))
    return out


@task(version="1")
def distill_fit(
    splits: list[dict], elements: list[str], pod: dict, name: str, workdir: Path | None = None
) -> dict:
    """POD on every training batch so far, on top of the ZBL baseline."""
    train = _frames_of(splits, "train")
    fit = fit_pod(train, elements, PODSettings(**pod), Path(workdir) / "potential", name=name)
    return {
        "folder": str(fit.folder),
        "n_train": fit.n_train,
        "pair_min_A": dataset.pair_min_distances(train),
        "data_hash": dataset.frames_hash([Path(s["train"]) for s in splits if s["train"]]),
    }


def relax_path(start: Structure, end: Structure, n: int, rng: np.random.Generator) -> list:
    """``n`` frames evenly along the straight path (cell and fractional coordinates) from
    ``start`` to ``end`` (the same atoms), ``end`` included, lightly rattled (0.02 Å)."""
    from ase import Atoms

    f0 = np.asarray(start.frac_coords)
    df = np.asarray(end.frac_coords) - f0
    df -= np.round(df)  # shortest way across the periodic boundary
    c0, c1 = start.lattice.matrix, end.lattice.matrix
    out = []
    for t in np.linspace(1.0 / n, 1.0, n):
        cell = (1 - t) * c0 + t * c1
        atoms = Atoms(
            [site.specie.symbol for site in start],
            scaled_positions=f0 + t * df,
            cell=cell,
            pbc=True,
        )
        atoms.positions += rng.normal(0.0, 0.02, atoms.positions.shape)
        atoms.wrap()
        atoms.info["config_type"] = "relax path"
        out.append(atoms)
    return out


def _relax_frames(structure: Structure, pot, n: int, rng, floor_A: float) -> list:
    """Frames towards the fit's relaxed cell: where a wrong minimum of the fit lies."""
    from atomflow.md.minimize import relax

    try:
        end = relax(structure, pot, cell="aniso").structure
    except Exception:  # a fit that blows up in the relaxation: the MD probes catch that
        return []
    if [s.specie.symbol for s in end] != [s.specie.symbol for s in structure]:
        return []
    frames = relax_path(structure, end, n, rng)
    closest = [min(dataset.pair_min_distances([f]).values(), default=np.inf) for f in frames]
    return [f for f, d in zip(frames, closest, strict=True) if d >= floor_A]


def _npt_record(frames: list) -> dict:
    """What an NPT probe adds to its record: the volume per atom at the start and over the
    last fifth of the run."""
    vol = explore.volume_per_atom(frames)
    return {
        "ensemble": "npt",
        "volume_start_A3_atom": float(vol[0]) if len(vol) else None,
        "volume_end_A3_atom": float(vol[len(vol) * 4 // 5 :].mean()) if len(vol) else None,
    }


@task(version="4")
def distill_probe(
    fit: dict,
    parent_paths: list[str],
    active: dict,
    round_index: int,
    seed: int,
    parents: list[dict] | None = None,
    workdir: Path | None = None,
) -> dict:
    """MD with the current fit at the probe temperatures; keep what it extrapolated into.
    With ``relax_frames``, also frames towards each bulk parent's cell relaxed with the fit;
    with ``npt``, frames spread over NPT runs of each bulk parent; with ``long``, frames
    spread over long NVT runs and the flagged ones among them."""
    from atomflow.potentials import get_potential

    a = ActiveSettings(**active)
    pot = get_potential(fit["folder"])
    rng = np.random.default_rng(seed + round_index)
    picked, probes = [], []
    structures = _read_structures(parent_paths)
    if a.relax_frames and parents:
        for s, p in zip(structures, parents, strict=True):
            if Parent(**p).lattice:
                picked += _relax_frames(s, pot, a.relax_frames, rng, a.floor_A or 0.0)

    def run(k: int, T: float, steps: int, min_atoms: int, tag: str, ensemble: str = "nvt"):
        return explore.probe(
            replicate_to(structures[k], min_atoms),
            pot,
            T,
            steps,
            Path(workdir) / f"{tag}{k}_{T:g}K",
            fit["pair_min_A"],
            timestep_fs=a.timestep_fs,
            sample_every=max(5, steps // 400),  # dense: crashes come fast
            seed=seed + round_index * 100 + k,
            ensemble=ensemble,
        )

    floor = a.floor_A or 0.0
    for k in range(len(structures)):
        for T in a.temperatures_K:
            summary, frames, flags = run(k, T, a.steps, a.min_atoms, "p")
            probes.append({"parent": k, **summary.__dict__, "temperatures": []})
            picked += explore.select_frames(frames, flags, summary.crashed, a.snapshots, rng, floor)
    if a.npt and parents:
        bulk = [k for k, p in enumerate(parents) if Parent(**p).lattice]
        for k in bulk:
            for T in a.npt.temperatures_K:
                summary, frames, _ = run(k, T, a.npt.steps, a.npt.min_atoms, "npt", "npt")
                probes.append(
                    {"parent": k, **summary.__dict__, "temperatures": [], **_npt_record(frames)}
                )
                picked += explore.spread_frames(
                    frames, a.npt.snapshots, floor, crashed=summary.crashed
                )
    if a.long:
        for k in a.long.parents if a.long.parents is not None else range(len(structures)):
            for T in a.long.temperatures_K:
                summary, frames, flags = run(
                    k, T, a.long.steps, a.long.min_atoms, "long", a.long.ensemble
                )
                npt = _npt_record(frames) if a.long.ensemble == "npt" else {}
                probes.append(
                    {"parent": k, **summary.__dict__, "temperatures": [], "long": True, **npt}
                )
                spread = explore.spread_frames(
                    frames, a.long.snapshots, floor, crashed=summary.crashed
                )
                steps_taken = {f.info["md_step"] for f in spread}
                flagged = explore.select_frames(frames, flags, False, a.long.snapshots, rng, floor)
                picked += spread + [f for f in flagged if f.info["md_step"] not in steps_taken]
    out = Path(workdir) / "selected.xyz"
    if picked:
        dataset.write_frames(picked, out)
    return {"frames": str(out) if picked else "", "n": len(picked), "probes": probes}


@task(version="1")
def distill_core(
    fit: dict, parent_paths: list[str], core: dict, workdir: Path | None = None
) -> dict:
    """The final fit plus a repulsive core fitted on closing paths in the parents
    (:mod:`atomflow.distill.core`); the same ``fit`` record, pointing at the new folder."""
    from atomflow.potentials import get_potential

    settings = CoreSettings(**core)
    folder = Path(workdir) / "potential"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(fit["folder"], folder, ignore=shutil.ignore_patterns("train", "baseline"))
    pot = get_potential(str(folder))

    def energies_of(frames):
        from atomflow.md.batch import BatchEvaluator

        with BatchEvaluator(AseAtomsAdaptor.get_structure(frames[0]), pot) as ev:
            return [ev.evaluate(f.positions).energy_eV for f in frames]

    parents = [AseAtomsAdaptor.get_atoms(s) for s in _read_structures(parent_paths)]
    cores = fit_core(energies_of, parents, pot.elements, fit["pair_min_A"], settings)
    add_core(folder, cores)
    get_potential(str(folder))  # must load
    return {**fit, "folder": str(folder), "core": cores}


@task(version="2")
def distill_gate(
    fit: dict,
    parent_paths: list[str],
    parents: list[dict],
    gate: dict,
    seed: int,
    workdir: Path | None = None,
) -> dict:
    """The stability gate: NVT at the gate temperature on each parent grown to min_atoms.

    Its own task, so that the longest MD of a fit is never redone for a change elsewhere in
    the validation.
    """
    from atomflow.potentials import get_potential

    pot = get_potential(fit["folder"])
    work = Path(workdir)
    structures = _read_structures(parent_paths)
    names = [Parent(**p).name for p in parents]
    g = GateSettings(**gate)
    steps = round(g.ps * 1000 / g.timestep_fs)
    stable = []
    for k in g.parents if g.parents is not None else range(len(structures)):
        cell = replicate_to(structures[k], g.min_atoms)
        summary, _, _ = explore.probe(
            cell,
            pot,
            g.temperature_K,
            steps,
            work / f"gate_{k}",
            fit["pair_min_A"],
            timestep_fs=g.timestep_fs,
            sample_every=max(10, steps // 200),
            seed=seed + k,
        )
        bonds = dataset.pair_min_distances([AseAtomsAdaptor.get_atoms(structures[k])])
        verdict = explore.stability_verdict(summary, steps, floors=explore.pair_floors(bonds))
        verdict.update(parent=names[k], ps=g.ps, flagged_pairs=summary.flagged_pairs)
        (work / f"gate_{k}_temperature.json").write_text(json.dumps(summary.temperatures))
        stable.append(verdict)
    return {"stable_nvt": stable, "workdir": str(work)}


@task(version="1")
def distill_npt(
    fit: dict,
    parent_paths: list[str],
    parents: list[dict],
    npt_check: dict,
    seed: int,
    workdir: Path | None = None,
) -> dict:
    """NPT of each bulk parent (lattice = true) grown to min_atoms: the mean volume per atom
    over the second half, for :func:`distill_validate` to set against the labeller's."""
    from atomflow.potentials import get_potential

    pot = get_potential(fit["folder"])
    c = NPTCheck(**npt_check)
    steps = round(c.ps * 1000 / c.timestep_fs)
    runs = []
    for k, (s, p) in enumerate(zip(_read_structures(parent_paths), parents, strict=True)):
        q = Parent(**p)
        if not q.lattice:
            continue
        cell = replicate_to(s, c.min_atoms)
        summary, frames, _ = explore.probe(
            cell,
            pot,
            c.temperature_K,
            steps,
            Path(workdir) / f"npt_{k}",
            fit["pair_min_A"],
            timestep_fs=c.timestep_fs,
            sample_every=max(10, steps // 200),
            seed=seed + k,
            ensemble="npt",
        )
        vol = explore.volume_per_atom(frames)
        half = vol[len(vol) // 2 :]
        temps = np.asarray(summary.temperatures[len(summary.temperatures) // 2 :], dtype=float)
        runs.append(
            {
                "parent": q.name,
                "temperature_K": c.temperature_K,
                "ps": c.ps,
                "atoms": len(cell),
                "crashed": summary.crashed,
                "message": summary.message,
                "start_volume_A3_atom": float(cell.volume / len(cell)),
                "volume_A3_atom": float(half.mean()) if len(half) else float("nan"),
                "volume_std_A3_atom": float(half.std()) if len(half) else float("nan"),
                "mean_temperature_K": float(temps.mean()) if len(temps) else float("nan"),
                "volume_trace_A3_atom": vol.round(4).tolist(),
            }
        )
    return {"runs": runs}


def volume_drift_pct(trace: list[float]) -> float:
    """How far the volume still moves over the averaged second half: mean of its last
    quarter against its first quarter, %. A cell sliding into another minimum drifts."""
    half = np.asarray(trace[len(trace) // 2 :], dtype=float)
    q = max(1, len(half) // 4)
    if len(half) < 2:
        return float("nan")
    return float(100 * (half[-q:].mean() / half[:q].mean() - 1))


def npt_verdicts(npt: dict, lattice: dict, tolerance_pct: float) -> list[dict]:
    """Each NPT run set against its labeller-relaxed volume: ok when it ran to the end, its
    mean volume is within ``tolerance_pct`` of the labeller's relaxed volume, and the volume
    no longer drifts by more than half that over the averaged second half."""
    out = []
    for run in npt["runs"]:
        ref = lattice.get(run["parent"], {}).get("labeller", {}).get("volume")
        dev = 100 * (run["volume_A3_atom"] / ref - 1) if ref else float("nan")
        drift = volume_drift_pct(run.get("volume_trace_A3_atom", []))
        entry = {k: v for k, v in run.items() if k != "volume_trace_A3_atom"}
        entry.update(
            labeller_volume_A3_atom=ref,
            deviation_pct=dev,
            drift_pct=drift,
            tolerance_pct=tolerance_pct,
            ok=bool(  # without a trace there is no drift verdict (nan compares False)
                not run["crashed"]
                and abs(dev) <= tolerance_pct
                and not abs(drift) > tolerance_pct / 2
            ),
        )
        out.append(entry)
    return out


def gate_integrity(stable_nvt: list[dict], gate_workdir: str, parents: list[dict]) -> list[dict]:
    """The gate's verdicts with the host-collapse check of each run added (``host_intact``,
    and ``ok`` only if intact): a host can fall into a false dense minimum with every pair
    above the gate's floor and the temperature steady (limown-pod fit 3's WN+Li in the
    mo2n_wn study: W-W 2.67 -> 2.09 A, -1.6 eV/atom, at 800 K)."""
    from atomflow.analysis.integrity import check_integrity
    from atomflow.trajectory import read_h5md

    names = [Parent(**p).name for p in parents]
    out = []
    for g in stable_nvt:
        k = names.index(g["parent"])
        path = Path(gate_workdir) / f"gate_{k}" / explore.TRAJECTORY
        mobile = Parent(**parents[k]).mobile
        if not path.is_file():  # crashed before its first frame: already not ok
            out.append({**g, "host_intact": None, "host_collapse": "no trajectory"})
            continue
        # judged as the temperature is: a perfect lattice at rest is no reference for
        # thermal contacts (Mo2N+Li at 1000 K: median Mo-Mo 2.94 A at rest, 2.56 A hot)
        traj = read_h5md(path)
        traj = traj.frames(explore.equilibrated(traj.n_frames))
        check = check_integrity(traj, mobile=(mobile,) if mobile else ())
        out.append(
            {
                **g,
                "host_intact": check.ok,
                "host_collapse": "" if check.ok else check.reason(),
                "ok": bool(g["ok"] and check.ok),
            }
        )
    return out


@task(version="13")
def distill_validate(
    fit: dict,
    splits: list[dict],
    parent_paths: list[str],
    parents: list[dict],
    labeller: str,
    gate: dict,
    phonons: bool,
    speed_atoms: int,
    npt: dict | None = None,
    npt_tolerance_pct: float = 5.0,
    workdir: Path | None = None,
) -> dict:
    """Held-out errors, lattice and phonons against the labeller, speed; ``gate`` is the
    :func:`distill_gate` result, carried into the validation, and ``npt`` the
    :func:`distill_npt` one, judged against the labeller's relaxed volumes."""
    from atomflow.potentials import get_potential

    pot = get_potential(fit["folder"])
    lab = get_labeller(labeller)
    work = Path(workdir)
    errors = validate.heldout_errors(pot, _frames_of(splits, "test"))
    (work / "parity.json").write_text(json.dumps(errors.pop("parity")))
    structures = _read_structures(parent_paths)
    lattice = {
        q.name: validate.lattice_vs_labeller(s, pot, lab, q.cell_multiple)
        for s, q in zip(structures, (Parent(**p) for p in parents), strict=True)
        if q.lattice
    }
    phonon = None
    if phonons:
        phonon = _phonons(structures[0], pot, lab, work)
    short_range = _short_range(structures, pot, lab, [Parent(**p).name for p in parents])
    big = replicate_to(structures[0], speed_atoms)
    ours = validate.atom_step_cost(pot, big)
    theirs = validate.labeller_cost(lab, replicate_to(structures[0], min(speed_atoms, 200)))
    return {
        **errors,
        "workdir": str(work),
        "lattice": lattice,
        "stable_nvt": gate_integrity(gate["stable_nvt"], gate["workdir"], parents),
        "gate_workdir": gate["workdir"],
        "stable_npt": npt_verdicts(npt, lattice, npt_tolerance_pct) if npt else [],
        "npt_traces": {r["parent"]: r["volume_trace_A3_atom"] for r in npt["runs"]} if npt else {},
        "phonons": phonon,
        "short_range": short_range,
        "speed": {
            "fit_s_per_atom_step": ours,
            "labeller_s_per_atom_call": theirs,
            "atoms": len(big),
            "speedup_vs_labeller": theirs / ours,
        },
    }


def _short_range(structures: list[Structure], pot, lab, names: list[str]) -> dict:
    """Pair scans (fit and labeller) and a relaxation probe per parent: no energy holes."""
    from atomflow.distill.short_range import follows_labeller, pair_scans, relax_probe

    def fit_energies(frames):
        return [a.get_potential_energy() for a in evaluate_potential(pot, frames)]

    def labeller_energies(frames):
        return [a.get_potential_energy() for a in lab.label(frames)]

    out = {}
    for name, s in zip(names, structures, strict=True):
        atoms = AseAtomsAdaptor.get_atoms(s)
        ours = pair_scans(fit_energies, atoms)
        theirs = pair_scans(labeller_energies, atoms)
        for pair, scan in ours.items():
            scan["labeller_dE_eV"] = theirs[pair]["dE_eV"]
            scan["repulsive"] = scan["ok"]
            scan["ok"] = scan["ok"] or follows_labeller(scan["dE_eV"], scan["labeller_dE_eV"])
        out[name] = {"pairs": ours, "relax_probe": relax_probe(pot, atoms)}
    return out


def _phonons(structure: Structure, pot, lab, work: Path) -> dict:
    """Phonon DOS and the lowest frequency with the fit and with the labeller."""
    from atomflow.distill.labellers import LammpsLabeller
    from atomflow.phonons.backend import AseBackend
    from atomflow.phonons.harmonic import harmonic_phonons

    ours = harmonic_phonons(structure, pot, relax=True, min_length=8.0)
    if isinstance(lab, LammpsLabeller):
        ref = harmonic_phonons(structure, lab.potential, relax=True, min_length=8.0)
    else:
        relaxed = validate.relax_with_labeller(structure, lab, fmax=0.002)
        ref = harmonic_phonons(relaxed, AseBackend(lab.calculator(), name=lab.name), min_length=8.0)
    data = {
        "ours": [ours.dos_frequencies_THz.tolist(), ours.dos_states_per_THz.tolist()],
        "labeller": [ref.dos_frequencies_THz.tolist(), ref.dos_states_per_THz.tolist()],
    }
    (work / "phonon_dos.json").write_text(json.dumps(data))

    def moments(result) -> tuple[float, float]:
        f, g = result.dos_frequencies_THz, result.dos_states_per_THz
        return float(np.trapezoid(g * f, f) / np.trapezoid(g, f)), float(f[g > 1e-3].max())

    (mean, top), (ref_mean, ref_top) = moments(ours), moments(ref)
    return {
        "min_phonon_THz": float(ours.min_frequency_THz),
        "labeller_min_phonon_THz": float(ref.min_frequency_THz),
        "imaginary_modes": bool(ours.imaginary_modes),
        "mean_phonon_THz": mean,
        "labeller_mean_phonon_THz": ref_mean,
        "max_phonon_THz": top,
        "labeller_max_phonon_THz": ref_top,
    }


@task(version="5")
def distill_package(
    fit: dict,
    validation: dict,
    labels: list[dict],
    splits: list[dict],
    probes: list[dict],
    header: dict,
    preset: dict,
    workdir: Path | None = None,
) -> dict:
    """The shippable folder: potential.toml (provenance, validity), files, data, report."""
    from atomflow.distill.report import write_report

    out = Path(workdir) / header["name"]
    if out.exists():
        shutil.rmtree(out)
    src = Path(fit["folder"])
    out.mkdir(parents=True)
    from atomflow.potentials import get_potential

    for f in get_potential(str(src)).files:
        shutil.copy2(src / f, out / f)
    data = out / "data"
    data.mkdir()
    for kind in ("train", "test"):
        frames = _frames_of(splits, kind)
        dataset.write_frames(frames, data / f"{kind}.xyz")
    if fit.get("core"):  # cheap (the fit only): errors where the core does not act
        validation = {
            **validation,
            "heldout_outside_core": validate.heldout_outside_core(
                get_potential(str(src)), _frames_of(splits, "test"), fit["core"]
            ),
        }
    gate_T = preset["gate"]["temperature_K"]  # the highest temperature actually verified
    report = write_report(
        out, Path(validation["workdir"]), fit, validation, labels, probes, header, preset, splits
    )
    toml = (src / "potential.toml").read_text().splitlines()
    toml = [line for line in toml if not line.startswith(("name =", "citation ="))]
    lab = labels[0]
    toml = [
        f'name = "{header["name"]}"',
        f"description = {json.dumps(header.get('description', ''))}",
        *toml,
        'citation = "atomflow distill: POD (Nguyen & Rohskopf, J. Comput. Phys. 480, 112030, '
        "2023) on a ZBL baseline"
        + (" with a fitted repulsive core" if fit.get("core") else "")
        + ", fitted to "
        + lab["labeller"]
        + ' labels"',
        'report = "report.md"',
        "",
        "[provenance]",
        'workflow = "atomflow potentials fit"',
        f"labeller = {json.dumps(lab['labeller'])}",
        f"labeller_version = {json.dumps(lab['version'])}",
        f"labeller_reason = {json.dumps(header.get('labeller_reason', ''))}",
        f"data_sha256 = {json.dumps(fit['data_hash'])}",
        f"n_train = {fit['n_train']}",
        "",
        "[validity]",
        f"temperatures_K = [0, {gate_T:g}]",
        "structures = " + json.dumps([Parent(**p).name for p in preset["parents"]]),
        "notes = "
        + json.dumps(
            "closest pairs seen in training (Å): "
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(fit["pair_min_A"].items()))
            + (f". {header['validity_notes']}" if header.get("validity_notes") else "")
        ),
    ]
    (out / "potential.toml").write_text("\n".join(toml) + "\n")
    get_potential(str(out))  # the package must load
    return {"folder": str(out), "report": str(report)}


def build_workflow(header: PotentialHeader, preset: DistillPreset, name: str = "") -> Workflow:
    """The distillation of one potential as a workflow graph."""
    wf = Workflow(name=name or f"fit-{header.name}")
    # options added later stay out of the dicts while unset: earlier stores stay valid
    parents = [task_dict(p, mode="json") for p in preset.parents]
    pods = task_dict(preset.pod)
    parent_paths = wf.add(distill_parents(parents), "parents").output
    seeds = wf.add(
        distill_seeds(parent_paths, parents, preset.seeds.model_dump(), preset.seed), "seeds"
    )
    labels = [wf.add(distill_label(seeds.output, header.labeller), "label-0").output]
    splits = [
        wf.add(
            distill_split(labels[0], preset.test_fraction, preset.seed, preset.max_force_eV_A),
            "split-0",
        ).output
    ]
    fit = wf.add(distill_fit(list(splits), header.elements, pods, header.name), "fit-0").output
    probes = []
    # without "rounds": a recipe given more rounds reuses the rounds already done; "npt" and
    # "long" only from their first round, so that adding such probes later keeps the earlier
    # rounds
    active = preset.active.model_dump(exclude={"rounds", "npt", "long"})
    if active["floor_A"] is None:
        active["floor_A"] = preset.pod.zbl_outer
    extra = {"npt": preset.active.npt, "long": preset.active.long}
    for r in range(1, preset.active.rounds + 1):
        round_active = {
            **active,
            **{k: task_dict(v) for k, v in extra.items() if v and r >= v.from_round},
        }
        probe = wf.add(
            distill_probe(fit, parent_paths, round_active, r, preset.seed, parents),
            f"probe-{r}",
        ).output
        probes.append(probe)
        labels.append(wf.add(distill_label(probe, header.labeller), f"label-{r}").output)
        splits.append(
            wf.add(
                distill_split(
                    labels[-1], preset.test_fraction, preset.seed + r, preset.max_force_eV_A
                ),
                f"split-{r}",
            ).output
        )
        fit = wf.add(
            distill_fit(list(splits), header.elements, pods, header.name), f"fit-{r}"
        ).output
    if preset.core.enabled:
        fit = wf.add(distill_core(fit, parent_paths, preset.core.model_dump()), "core").output
    gate = wf.add(
        distill_gate(fit, parent_paths, parents, preset.gate.model_dump(), preset.seed), "gate"
    ).output
    npt = wf.add(
        distill_npt(  # the tolerance is the validation's: changing it reruns no MD
            fit,
            parent_paths,
            parents,
            preset.npt_check.model_dump(exclude={"tolerance_pct"}),
            preset.seed,
        ),
        "npt",
    ).output
    val = wf.add(
        distill_validate(
            fit,
            list(splits),
            parent_paths,
            parents,
            header.labeller,
            gate,
            preset.phonons,
            preset.speed_atoms,
            npt,
            preset.npt_check.tolerance_pct,
        ),
        "validate",
    ).output
    wf.add(
        distill_package(
            fit,
            val,
            labels,
            list(splits),
            probes,
            header.model_dump(mode="json"),
            preset.model_dump(mode="json"),
        ),
        "package",
    )
    return wf
