"""A fitted repulsive core: zero wherever the fit was trained, a wall below.

A linear fit (POD) on a ZBL baseline is taught only down to the closest approach in its
training frames. Below that its radial basis can dive by hundreds of eV: in version 1 of the
Li-Zr-Cl-N POD, Li-N fell by 71 eV between 1.41 and 1.0 Å and Li-Cl reached -2,380 eV at
0.78 Å, far beyond what ZBL repels, and a minimiser or a few picoseconds of MD found it.

The core is a pair term per element pair, zero above ``r_on``, the closest approach of that
pair in the training data; no training frame has a pair inside ``r_on``, so the core changes
none of them and needs no refit. It is fitted on closing paths: in every parent cell, each of
the pair's shortest contacts is closed by moving one atom straight at the other, from
``r_on`` to ``floor`` x ``r_on`` on an even grid (a path ends where the moving atom comes
inside another pair's ``r_on``, since its energy is then that pair's business). On each step
inward the core rises by ``margin`` times the largest fall of the fit over all paths, so fit
plus core rises at every step of every path; a cubic wall ``A_min (1 - r/r_on)^3``, worth
``wall_eV`` at half of ``r_on``, is added so that the sum rises even where the fit is flat.
Between grid points each rise is a smootherstep, so U is C2 everywhere. LAMMPS gets it as
``pair_style table`` inside ``hybrid/overlay``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from ase.neighborlist import neighbor_list
from pydantic import BaseModel, ConfigDict, Field

from atomflow.distill.dataset import clear_of_others, pair_key
from atomflow.errors import InputError

TABLE = "core.table"
TABLE_POINTS = 4000  # LAMMPS's interpolation table
FILE_POINTS = 2000  # rows per pair in core.table (spline-interpolated by LAMMPS)


class CoreSettings(BaseModel):
    """How the core is placed and fitted (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    wall_eV: float = Field(50.0, gt=0, description="least core energy at half its onset")
    floor: float = Field(0.35, gt=0, lt=1, description="paths run from r_on to floor x r_on")
    points: int = Field(21, ge=3)
    contacts: int = Field(4, ge=1, description="closing paths per pair and parent")
    margin: float = Field(2.0, ge=1.0)
    unknown_onset: float = Field(
        0.75, gt=0, description="onset for pairs absent from training, x covalent sum"
    )
    bystander_ratio: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="a closing path also ends where the moving atom comes closer to a third "
        "atom than this fraction of their pair's closest approach in the parent (0: only "
        "inside that pair's onset). Without it, closing the two N of a linear N=C=N unit "
        "drives one N into the C, and the fall of the C-N energy is charged to N-N",
    )
    bystander_pairs: list[str] = Field(
        default_factory=list,
        description="the pairs whose closing paths bystander_ratio cuts (empty: all); a pair "
        "whose shortest contacts all pass a third atom keeps paths that way",
    )
    onset_min_A: dict[str, float] = Field(
        default_factory=dict,
        description="per pair ('N-N'): the onset is at least this, above the closest trained "
        "approach; training frames closer than it then feel the core (a deliberate choice to "
        "keep a pair apart where its close contacts only teach a cliff)",
    )


def _smootherstep(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.clip(t, 0.0, 1.0)
    return t**3 * (10 - 15 * t + 6 * t**2), 30 * t**2 * (1 - t) ** 2


def core_energy_force(r: np.ndarray, core: dict) -> tuple[np.ndarray, np.ndarray]:
    """U(r) in eV and -dU/dr in eV/Å (positive: repulsive) of one pair's fitted core."""
    r = np.asarray(r, dtype=float)
    r_on, a_min = core["r_on_A"], core["A_min_eV"]
    s = np.clip(1.0 - r / r_on, 0.0, None)
    energy, force = a_min * s**3, 3.0 * a_min * s**2 / r_on
    grid = np.asarray(core["grid_A"])
    for outer, inner, rise in zip(grid[:-1], grid[1:], core["rises_eV"], strict=True):
        if rise > 0:
            step, slope = _smootherstep((outer - r) / (outer - inner))
            energy = energy + rise * step
            force = force + rise * slope / (outer - inner)
    return energy, force


def onsets(
    elements: Sequence[str], pair_min_A: dict[str, float], settings: CoreSettings
) -> dict[str, float]:
    """``r_on`` per element pair: its closest trained approach, or a fraction of the
    covalent-radius sum for a pair the training data never brought within reach; never
    below the settings' ``onset_min_A`` for the pair."""
    out = {}
    for i, a in enumerate(elements):
        for b in elements[i:]:
            key = pair_key(a, b)
            cov = covalent_radii[atomic_numbers[a]] + covalent_radii[atomic_numbers[b]]
            onset = float(pair_min_A.get(key, settings.unknown_onset * cov))
            out[key] = max(onset, settings.onset_min_A.get(key, 0.0))
    return out


def closing_paths(
    parent: Atoms,
    pair: str,
    r_on: dict[str, float],
    settings: CoreSettings,
    cutoff: float = 6.5,
) -> list[list[Atoms]]:
    """Frames in which one atom of each of ``pair``'s shortest contacts in ``parent`` moves
    straight at the other, at ``grid(r_on[pair])``; a path stops where the moving atom
    comes inside another pair's onset."""
    a, b = pair.split("-")
    cut = max(cutoff, 1.05 * r_on[pair])
    i, j, d, v = neighbor_list("ijdD", parent, cut)
    sym = np.array(parent.get_chemical_symbols())
    ratio = settings.bystander_ratio
    if settings.bystander_pairs and pair not in settings.bystander_pairs:
        ratio = 0.0
    limits = dict(r_on)
    if ratio:  # closest approach per element pair in the parent, from the list above
        first = sym[i] < sym[j]
        lo, hi = np.where(first, sym[i], sym[j]), np.where(first, sym[j], sym[i])
        keys = np.char.add(np.char.add(lo, "-"), hi)
        for key in np.unique(keys):
            limits[str(key)] = max(limits.get(str(key), 0.0), ratio * float(d[keys == key].min()))
    hits = np.flatnonzero((sym[i] == a) & (sym[j] == b))
    if a != b:  # move either kind of atom
        hits = np.concatenate([hits, np.flatnonzero((sym[i] == b) & (sym[j] == a))])
    paths = []
    for k in hits[np.argsort(d[hits], kind="stable")][: settings.contacts]:
        frames = []
        for r in grid(r_on[pair], settings):
            atoms = parent.copy()
            atoms.positions[i[k]] += (1.0 - r / d[k]) * v[k]
            if not clear_of_others(atoms, int(i[k]), [int(j[k])], limits):
                break
            frames.append(atoms)
        if len(frames) >= 3:
            paths.append(frames)
    return paths


def grid(r_on: float, settings: CoreSettings) -> np.ndarray:
    return r_on * np.linspace(1.0, settings.floor, settings.points)


def fit_core(
    energies_of: Callable[[list[Atoms]], list[float]],
    parents: Sequence[Atoms],
    elements: Sequence[str],
    pair_min_A: dict[str, float],
    settings: CoreSettings,
) -> dict[str, dict]:
    """Per element pair: ``r_on_A``, ``A_min_eV``, the ``grid_A`` and the ``rises_eV``
    between its points (the fitted core), how many paths, and the wall at the floor.
    ``energies_of(frames)`` evaluates the fit without the core."""
    r_on = onsets(elements, pair_min_A, settings)
    out = {}
    for pair, onset in r_on.items():
        g = grid(onset, settings)
        falls = np.zeros(len(g) - 1)
        n_paths = 0
        for parent in parents:
            for frames in closing_paths(parent, pair, r_on, settings):
                e = np.asarray(energies_of(frames), dtype=float)
                if not np.all(np.isfinite(e)):
                    raise RuntimeError(f"core fit: {pair} path gave non-finite energies {e}")
                drop = np.clip(-np.diff(e), 0.0, None)
                falls[: len(drop)] = np.maximum(falls[: len(drop)], drop)
                n_paths += 1
        a_min = settings.wall_eV / 0.5**3  # the cubic wall is worth wall_eV at r_on / 2
        core = {
            "r_on_A": round(onset, 4),
            "A_min_eV": a_min,
            "grid_A": [round(float(x), 6) for x in g],
            "rises_eV": [float(settings.margin * f) for f in falls],
            "paths": n_paths,
        }
        core["wall_at_floor_eV"] = float(core_energy_force(g[-1], core)[0])
        out[pair] = core
    return out


def write_table(path: Path, cores: dict[str, dict], points: int = FILE_POINTS) -> Path:
    """A ``pair_style table`` file with one section per pair (keyword = the pair); the
    fitted parameters go in ``core.json`` beside it."""
    lines = ["# atomflow repulsive core, one section per element pair; see core.json"]
    for pair, c in cores.items():
        r_on = c["r_on_A"]
        r = np.linspace(0.02 * r_on, r_on, points)
        e, f = core_energy_force(r, c)
        lines += ["", pair, f"N {points} R {r[0]:.10g} {r_on:.10g}", ""]
        lines += [f"{k + 1} {r[k]:.9g} {e[k]:.9g} {f[k]:.9g}" for k in range(points)]
    path.write_text("\n".join(lines) + "\n")
    return path


def add_core(folder: Path, cores: dict[str, dict]) -> Path:
    """Write ``core.table`` into a potential folder and overlay it in its ``potential.toml``
    (which must already be ``hybrid/overlay``, as every POD fit is)."""
    folder = Path(folder)
    toml_path = folder / "potential.toml"
    raw = tomllib.loads(toml_path.read_text())
    style = raw["pair_style"]
    if not style.startswith("hybrid/overlay "):
        raise InputError(
            f"{toml_path}: pair_style {style!r} is not hybrid/overlay; a core overlays a "
            "fitted potential made by atomflow distill"
        )
    if " table " in f" {style} ":
        raise InputError(f"{toml_path}: already has a table term ({style!r})")
    elements = raw["elements"]
    write_table(folder / TABLE, cores)
    (folder / "core.json").write_text(json.dumps(cores, indent=1) + "\n")
    coeff = list(raw["pair_coeff"])
    for i, a in enumerate(elements):
        for j in range(i, len(elements)):
            key = pair_key(a, elements[j])
            coeff.append(f"{i + 1} {j + 1} table {{dir}}/{TABLE} {key} {cores[key]['r_on_A']}")
    new = {
        "pair_style": f"{style} table spline {TABLE_POINTS}",
        "pair_coeff": coeff,
        "files": [*raw.get("files", []), TABLE, "core.json"],
    }
    text = []
    for line in toml_path.read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        text.append(f"{key} = {json.dumps(new.pop(key))}" if key in new else line)
        if key == "pair_style" and "files" in new and "files" not in raw:
            text.append(f"files = {json.dumps(new.pop('files'))}")
    if new:
        raise InputError(f"{toml_path}: no single-line {', '.join(new)} to replace")
    toml_path.write_text("\n".join(text) + "\n")
    return toml_path
