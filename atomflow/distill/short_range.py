"""Short-range safety of a fit: does every element pair repel when pushed together?

A linear fit (POD, SNAP) on a ZBL baseline is only taught where its training frames are;
below the closest trained approach its radial basis can dive to -100 eV or -1e6 eV (seen
for Li-N and Li-Cl in the first Li-Zr-Cl-N POD), which MD finds within picoseconds and
a minimiser finds at once. Two checks, both run in the validation task:

- ``pair_scans``: for each element pair, the shortest contact of that pair in a parent cell
  (up to 6.5 Å, so that cations that never touch, Zr-Zr at 6 Å, are scanned too) is
  closed by moving one atom straight at the other (the rest of the crystal stays), to
  ``fractions`` of its length; inside ``wall`` (0.75 r0) the energy must rise at every step
  as the pair closes, ending above its value at r0. The labeller is scanned the same way.
- ``relax_probe``: positions of a rattled parent are minimised with the fit; the closest
  pair afterwards must stay above ``floor`` × the parent's closest pair for that element
  pair (a collapse means the minimiser found a hole).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

FRACTIONS = (0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 1.0)


def _closing_frames(
    parent: Atoms, fractions: Sequence[float], cutoff: float
) -> dict[str, tuple[float, list[Atoms]]]:
    i, j, d, v = neighbor_list("ijdD", parent, cutoff)
    sym = np.array(parent.get_chemical_symbols())
    out = {}
    for pa, pb in sorted({tuple(sorted((sym[a], sym[b]))) for a, b in zip(i, j, strict=True)}):
        idx = np.flatnonzero((sym[i] == pa) & (sym[j] == pb))
        k = int(idx[np.argmin(d[idx])])
        frames = []
        for f in fractions:
            atoms = parent.copy()
            atoms.positions[i[k]] += (1.0 - f) * v[k]
            frames.append(atoms)
        out[f"{pa}-{pb}"] = (float(d[k]), frames)
    return out


def pair_scans(
    energies_of,
    parent: Atoms,
    fractions: Sequence[float] = FRACTIONS,
    cutoff: float = 6.5,
    wall: float = 0.75,
) -> dict[str, dict]:
    """Energy against distance as each pair's shortest bond closes; ``ok`` = repulsive wall.

    ``energies_of(frames) -> list[float]`` evaluates a model (the fit or the labeller).
    """
    fractions = sorted(fractions)
    if fractions[-1] != 1.0:
        raise ValueError(f"fractions must end at 1.0 (the parent's bond), got {fractions}")
    out = {}
    for pair, (r0, frames) in _closing_frames(parent, fractions, cutoff).items():
        e = np.asarray(energies_of(frames), dtype=float)
        de = e - e[-1]
        inner = [k for k, f in enumerate(fractions) if f <= wall]
        rising = bool(np.all(np.diff(de[inner]) < 0)) if len(inner) > 1 else True
        out[pair] = {
            "r0_A": r0,
            "r_A": [round(f * r0, 4) for f in fractions],
            "dE_eV": [float(x) for x in de],
            # a shallow dip near r0 can be real chemistry; the innermost point must be up
            "ok": rising and bool(de[0] > 0),
        }
    return out


def follows_labeller(
    fit_dE: Sequence[float],
    labeller_dE: Sequence[float],
    fractions: Sequence[float] = FRACTIONS,
    wall: float = 0.75,
    tolerance_eV: float = 1.0,
) -> bool:
    """True when the fit stays within ``tolerance_eV`` (or 25 %) of the labeller inside the
    wall, or above it: a pair that really binds closer (N-N towards a pernitride) is not a
    hole if the labeller binds it too."""
    for f, ours, ref in zip(sorted(fractions), fit_dE, labeller_dE, strict=True):
        if f <= wall and ours < ref - max(tolerance_eV, 0.25 * abs(ref)):
            return False
    return True


def relax_probe(potential, parent: Atoms, floor: float = 0.6, rattle_A: float = 0.1, seed: int = 0):
    """Minimise a rattled ``parent`` with ``potential``; ``ok`` when no pair collapsed."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from atomflow.distill.dataset import pair_min_distances
    from atomflow.md.minimize import relax

    rng = np.random.default_rng(seed)
    start = parent.copy()
    start.positions += rng.normal(0.0, rattle_A, start.positions.shape)
    # 5 Å: soft metals (bcc K, 4.6 Å bonds) have no pair within the default 3.5 Å
    before = pair_min_distances([parent], cutoff=5.0)
    result = relax(
        AseAtomsAdaptor.get_structure(start), potential, cell=None, ftol=0.02, max_iter=400
    )
    after = pair_min_distances([AseAtomsAdaptor.get_atoms(result.structure)], cutoff=5.0)
    ratio = {k: after[k] / before[k] for k in after if k in before}
    worst = min(ratio, key=ratio.get)
    return {
        "energy_per_atom_eV": result.energy_eV / len(parent),
        "max_force_eV_A": result.max_force_eV_A,
        "closest_A": after,
        "worst_pair": worst,
        "worst_ratio": ratio[worst],
        "ok": ratio[worst] >= floor and np.isfinite(result.energy_eV),
    }
