"""Seed configurations for a fit: strained, rattled and compressed cells, and defects.

Strains are wide on purpose (``strain_max``, e.g. 0.08 for the soft c axis of A7 metals) and
compressed cells reach short distances, so that the fit sees the repulsive wall it will meet
in hot MD. Defects (vacancy, interstitial, substitution) are made on the mobile species.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list
from pydantic import BaseModel, ConfigDict, Field

from atomflow.distill.dataset import clear_of_others, pair_min_distances


class SeedPlan(BaseModel):
    """How many of each kind of configuration to make per parent cell."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strained: int = 8
    strain_max: float = 0.05
    rattled: int = 6
    rattle_max_A: float = 0.15
    compressed: int = 3
    compression_max: float = 0.08
    vacancies: int = 2
    interstitials: int = 2
    substitutions: dict[str, str] = Field(default_factory=dict)  # {"Cl": "N"}
    #: per element pair, frames with one pair pushed closer (to ``close_contact_min`` … 0.95
    #: of its distance): the labeller's repulsive wall, where an untaught linear fit has an
    #: energy hole. These frames are exempt from ``min_distance_ratio``.
    close_contacts: int = 0
    #: deepest close contact as a fraction of the bond; 0.5 puts Li-N at about 1.05 Å, where
    #: a POD fitted only near equilibrium was found to have holes of -100 eV
    close_contact_min: float = Field(0.8, ge=0.35, lt=0.95)
    #: neighbours up to this distance count as contacts (wider for soft metals such as K,
    #: whose nearest neighbours sit at 4.6 Å)
    contact_cutoff_A: float = Field(4.0, gt=0)
    mobile: str | None = None  # species for vacancies and interstitials
    #: drop a configuration with a pair closer than this fraction of the parent's closest
    #: approach for that pair: such labels (huge forces) only spoil the least squares
    min_distance_ratio: float = Field(0.75, gt=0, le=1)


def _rattle(atoms: Atoms, std: float, rng: np.random.Generator) -> Atoms:
    out = atoms.copy()
    out.positions += rng.normal(0.0, std, size=out.positions.shape)
    return out


def _strain(atoms: Atoms, eps: np.ndarray) -> Atoms:
    out = atoms.copy()
    out.set_cell(out.cell.array @ (np.eye(3) + eps), scale_atoms=True)
    return out


def _void_point(atoms: Atoms, rng: np.random.Generator, trials: int = 400) -> np.ndarray:
    """The trial point farthest from every atom (an interstitial site, roughly)."""
    from ase.geometry import get_distances

    points = rng.random((trials, 3)) @ atoms.cell.array
    _, d = get_distances(points, atoms.positions, cell=atoms.cell, pbc=True)
    return points[int(np.argmax(d.min(axis=1)))]


def _close_contacts(
    parent: Atoms, plan: SeedPlan, rng: np.random.Generator, parent_min: dict[str, float]
) -> list[Atoms]:
    """Push one atom towards a neighbour of each element pair, to ``close_contact_min`` … 95 %
    of the distance (evenly spaced).

    Only the pushed pair may come close: a push that brings the moving atom closer to any
    *other* atom than ``close_contact_min`` of the parent's closest approach is not used
    (pushing one N of a linear N=C=N unit at the other drives it through the C, to 0.2 Å:
    a label no labeller gets right, which taught an early Li-Cr-C-N fit an energy hole)."""
    if not plan.close_contacts:
        return []
    i, j, d, v = neighbor_list("ijdD", parent, plan.contact_cutoff_A)
    sym = np.array(parent.get_chemical_symbols())
    limits = {key: plan.close_contact_min * r for key, r in parent_min.items()}
    lo = plan.close_contact_min
    out = []
    pairs = sorted({tuple(sorted((sym[a], sym[b]))) for a, b in zip(i, j, strict=True)})
    for pa, pb in pairs:
        idx = np.flatnonzero((sym[i] == pa) & (sym[j] == pb))
        if not len(idx):
            continue
        # the shortest bonds of this pair: the contacts that matter
        nearest = idx[np.argsort(d[idx])[: max(4, len(idx) // 10)]]
        for f in np.linspace(lo, 0.95, plan.close_contacts):
            # the first draw as it always was (fits without such collisions are unchanged),
            # then the pair's other contacts until one keeps clear
            first = int(rng.choice(nearest))
            atoms = _push(parent, i[first], v[first], f, rng)
            if not clear_of_others(atoms, int(i[first]), [int(j[first])], limits):
                for k in rng.permutation(nearest[nearest != first]):
                    atoms = _push(parent, i[k], v[k], f, rng)
                    if clear_of_others(atoms, int(i[k]), [int(j[k])], limits):
                        break
                else:
                    continue
            out.append(atoms)
    return out


def _push(parent: Atoms, atom: int, towards: np.ndarray, f: float, rng) -> Atoms:
    """A lightly rattled copy with ``atom`` moved along ``towards`` to ``f`` of its length."""
    atoms = _rattle(parent, 0.03, rng)
    atoms.positions[atom] += (1.0 - f) * towards
    return atoms


def make_seeds(parent: Atoms, plan: SeedPlan, seed: int) -> list[Atoms]:
    """All seed configurations for one parent cell, tagged in ``info['config_type']``."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, Atoms]] = []
    for _ in range(plan.strained):
        eps = np.diag(rng.uniform(-plan.strain_max, plan.strain_max, 3))
        off = rng.uniform(-0.02, 0.02, 3)
        eps[0, 1] = eps[1, 0] = off[0]
        eps[0, 2] = eps[2, 0] = off[1]
        eps[1, 2] = eps[2, 1] = off[2]
        out.append(("strained", _rattle(_strain(parent, eps), 0.03, rng)))
    for _ in range(plan.rattled):
        out.append(("rattled", _rattle(parent, rng.uniform(0.02, plan.rattle_max_A), rng)))
    for _ in range(plan.compressed):
        c = rng.uniform(0.02, plan.compression_max)
        out.append(("compressed", _rattle(_strain(parent, -c * np.eye(3)), 0.05, rng)))
    symbols = np.array(parent.get_chemical_symbols())
    if plan.mobile:
        sites = np.flatnonzero(symbols == plan.mobile)
        for _ in range(plan.vacancies if len(sites) else 0):
            cell = parent.copy()
            del cell[int(rng.choice(sites))]
            out.append(("vacancy", _rattle(cell, 0.05, rng)))
        for _ in range(plan.interstitials):
            cell = parent.copy()
            cell.append(plan.mobile)
            cell.positions[-1] = _void_point(parent, rng)
            out.append(("interstitial", _rattle(cell, 0.05, rng)))
    parent_min = pair_min_distances([parent])
    out += [("close contact", a) for a in _close_contacts(parent, plan, rng, parent_min)]
    for old, new in plan.substitutions.items():
        sites = np.flatnonzero(symbols == old)
        if len(sites):
            cell = parent.copy()
            cell.symbols[int(rng.choice(sites))] = new
            out.append((f"substitution {old}->{new}", _rattle(cell, 0.05, rng)))
    frames = []
    for kind, atoms in out:
        closest = pair_min_distances([atoms])
        too_close = any(
            d < plan.min_distance_ratio * parent_min.get(k, d) for k, d in closest.items()
        )
        if too_close and kind != "close contact":
            continue
        atoms.wrap()
        atoms.info["config_type"] = kind
        frames.append(atoms)
    return frames
