"""Did the structure survive the run? Element-pair contacts against the trajectory's first frame.

A machine-learned potential that leaves its training domain can open an energy hole: the
host densifies into a phase the material does not have (WN+Li with one fit: the median
W–W contact falls from 2.67 to 2.10 Å within 2 ps and the potential energy by 1.6 eV/atom).
A thermostat hides it, since the energy released is removed as fast as it appears, so the
temperature check does not catch it.

For each element pair that are neighbours in the first frame, the *typical contact* is the
median over atoms of one kind of the distance to the nearest atom of the other (the smaller
of the two medians; inf, so unchecked, when most atoms have no such neighbour within
``neighbour_cutoff_A``: two dilute Li 10 Å apart that meet later are diffusing, not
collapsing). A frame fails a pair when

- any contact is shorter than ``ratio`` (0.7) times the typical one: atoms pairing up, an
  0.8 Å compression of a 2.7 Å bond, tens of thermal amplitudes at 900 K; or
- the median contact (over a group of at least ``min_group`` atoms) has shrunk by more
  than ``shrink`` (10 %): the whole host contracting, which thermal expansion (~1 %) never
  does.

A pair has collapsed when at least ``min_fraction`` of the checked frames fail it. The
frame-0 reference makes the check independent of radius tables and of the MD code that
wrote the trajectory. Pairs with a mobile species are left out (see :func:`check_integrity`):
the check guards the host, through which the mobile species diffuse.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from ase.neighborlist import primitive_neighbor_list

from atomflow.trajectory.frames import Trajectory


@dataclass(frozen=True)
class PairCollapse:
    """One element pair that closed below ``ratio`` of its starting closest approach."""

    pair: str
    contact_A: float
    closest_A: float
    smallest_median_A: float
    frames_fraction: float
    max_pairs_per_frame: int
    first_time_ps: float


@dataclass(frozen=True)
class Integrity:
    """Outcome of :func:`check_integrity`; ``ok`` is False when any pair collapsed."""

    ok: bool
    ratio: float
    shrink: float
    min_fraction: float
    n_frames_checked: int
    contact_A: dict[str, float]
    collapsed: tuple[PairCollapse, ...]

    def reason(self) -> str:
        """One line naming each collapsed pair, or "" when none did."""
        if self.ok:
            return ""
        parts = []
        for c in self.collapsed:
            paired = (
                f", {c.max_pairs_per_frame} pair(s) under {self.ratio:g}x at once"
                if c.max_pairs_per_frame
                else ""
            )
            parts.append(
                f"{c.pair} median contact {c.smallest_median_A:.2f} Å from {c.contact_A:.2f} Å "
                f"(closest {c.closest_A:.2f} Å{paired}) in {100 * c.frames_fraction:.0f} % of "
                f"frames from {c.first_time_ps:.3g} ps"
            )
        return "the structure collapsed: " + "; ".join(parts)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["collapsed"] = [asdict(c) for c in self.collapsed]
        out["reason"] = self.reason()
        return out


def _pair_label(a: str, b: str) -> str:
    return "-".join(sorted((str(a), str(b))))


def _nearest(
    positions: np.ndarray, cell: np.ndarray, sp: np.ndarray, n_k: int, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per atom and kind, the distance to the nearest atom of that kind within ``cutoff``
    (inf beyond), plus the kind-pair key and distance of every pair counted once."""
    i, j, d = primitive_neighbor_list(
        "ijd", (True, True, True), cell, positions, cutoff, self_interaction=False
    )
    nearest = np.full((len(sp), n_k), np.inf)
    np.minimum.at(nearest, (i, sp[j]), d)
    once = i < j
    key = np.minimum(sp[i], sp[j])[once] * n_k + np.maximum(sp[i], sp[j])[once]
    return nearest, key, d[once]


def _medians(nearest: np.ndarray, sp: np.ndarray, n_k: int) -> np.ndarray:
    """(n_k, n_k): median over atoms of kind a of the nearest distance to kind b."""
    med = np.full((n_k, n_k), np.inf)
    for a in range(n_k):
        members = sp == a
        if members.any():
            med[a] = np.median(nearest[members], axis=0)
    return med


def check_integrity(
    traj: Trajectory,
    *,
    mobile: tuple[str, ...] | list[str] = (),
    ratio: float = 0.7,
    shrink: float = 0.1,
    min_fraction: float = 0.02,
    min_group: int = 8,
    neighbour_cutoff_A: float = 4.0,
    max_frames: int = 200,
) -> Integrity:
    """Per element pair, contacts in frames 1… against the typical contact of frame 0.

    ``max_frames`` evenly spaced frames are checked (all when there are fewer), always
    including the first and the last. See the module doc for the two tests. Pairs that
    involve a ``mobile`` species (the diffusing Li) are not checked: their start is wherever
    the builder put them, and reaching new environments is what they are for.
    """
    if not 0 < ratio < 1 or not 0 < shrink < 1:
        raise ValueError(
            f"ratio={ratio} and shrink={shrink} must lie between 0 and 1 "
            "(defaults 0.7 and 0.1: a 30 % closure of one contact, 10 % of the median)"
        )
    if not 0 < min_fraction <= 1:
        raise ValueError(f"min_fraction={min_fraction} must lie in (0, 1]")
    if traj.n_frames < 2:
        raise ValueError("the trajectory holds one frame; integrity needs at least two")
    species = np.asarray(traj.species).astype(str)
    kinds = sorted(set(species.tolist()))
    sp = np.searchsorted(kinds, species)
    n_k = len(kinds)
    sizes = np.bincount(sp, minlength=n_k)

    nearest0, _, _ = _nearest(traj.positions[0], traj.cells[0], sp, n_k, neighbour_cutoff_A)
    med0 = _medians(nearest0, sp, n_k)
    # the group whose median defines each pair's contact: the kind with the smaller median
    use_row = med0 <= med0.T
    contact = np.where(use_row, med0, med0.T)
    group = np.where(use_row, sizes[:, None], sizes[None, :])
    upper = np.triu(np.ones((n_k, n_k), dtype=bool))
    host = ~np.isin(kinds, list(mobile))
    checked = (np.isfinite(contact) & upper & host[:, None] & host[None, :]).ravel()
    contact = contact.ravel()
    median_tested = checked & (group.ravel() >= min_group)
    threshold = np.where(checked, ratio * contact, -1.0)

    frames = np.unique(np.linspace(0, traj.n_frames - 1, min(max_frames, traj.n_frames)).round())
    frames = frames.astype(int)
    closest = np.full(n_k * n_k, np.inf)
    smallest_median = np.where(checked, contact, np.inf)
    n_bad = np.zeros(n_k * n_k, dtype=int)
    most = np.zeros(n_k * n_k, dtype=int)
    first = np.full(n_k * n_k, np.nan)
    cutoff = float(contact[checked].max()) if checked.any() else 0.0  # the longest contact
    for f in frames[1:] if cutoff > 0 else []:
        nearest, key, d = _nearest(traj.positions[f], traj.cells[f], sp, n_k, cutoff)
        np.minimum.at(closest, key, d)
        med = _medians(nearest, sp, n_k)
        med = np.where(use_row, med, med.T).ravel()
        smallest_median = np.minimum(smallest_median, np.where(median_tested, med, np.inf))
        below = checked[key] & (d < threshold[key])
        counts = np.bincount(key[below], minlength=n_k * n_k)
        bad = (counts > 0) | (median_tested & (med < (1 - shrink) * contact))
        n_bad += bad
        most = np.maximum(most, counts)
        first = np.where(bad & np.isnan(first), traj.times_ps[f] - traj.times_ps[0], first)

    n_checked = len(frames) - 1
    label = {
        a * n_k + b: _pair_label(kinds[a], kinds[b]) for a in range(n_k) for b in range(a, n_k)
    }
    collapsed = tuple(
        PairCollapse(
            pair=label[k],
            contact_A=float(contact[k]),
            closest_A=float(closest[k]),
            smallest_median_A=float(smallest_median[k]),
            frames_fraction=float(n_bad[k] / n_checked),
            max_pairs_per_frame=int(most[k]),
            first_time_ps=float(first[k]),
        )
        for k in np.flatnonzero(checked)
        if n_bad[k] / n_checked >= min_fraction
    )
    return Integrity(
        ok=not collapsed,
        ratio=ratio,
        shrink=shrink,
        min_fraction=min_fraction,
        n_frames_checked=n_checked,
        contact_A={label[k]: float(contact[k]) for k in np.flatnonzero(checked)},
        collapsed=collapsed,
    )
