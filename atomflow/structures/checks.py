"""Checks that every builder runs: composition, charge, distances, symmetry, defects.

Each check returns a plain dict with an ``ok`` key and the numbers behind it, so that a
:class:`~atomflow.structures.result.BuildResult` can carry them to the CLI's ``--json``.

Minimum distances are compared with a per-pair threshold ``factor * (r_i + r_j)`` built from
pymatgen's empirical atomic radii (Li 1.45, Zr 1.55, Cl 1.00, N 0.65, C 0.70, K 2.20, Bi 1.60 Å,
...). With the default factor 0.7 this accepts C–N 1.23 Å in NCN, Li–Li 2.11 Å in Li3N,
Li–N 1.93 Å in Li3N and Li on the empty N site of Mo2N (Li–Mo 2.08 Å), and rejects
atoms that sit on top of each other or Li on a tetrahedral site of rock-salt CrN (1.80 Å).

The Burgers circuit (:func:`burgers_circuit`) follows the FS/RH convention: a closed loop of
atoms is walked counter-clockwise around the line direction (+z) in the dislocated crystal, each
step is mapped onto the nearest perfect-crystal vector from the same atom of the reference, and
the closure failure ``b = -(sum of mapped steps)`` is the Burgers vector enclosed.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations_with_replacement

import numpy as np
from pymatgen.core import Element, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer


def element_counts(structure: Structure) -> dict[str, int]:
    """Number of atoms per element symbol."""
    counts: dict[str, int] = {}
    for site in structure:
        sym = site.specie.symbol
        counts[sym] = counts.get(sym, 0) + 1
    return counts


def check_composition(structure: Structure, expected: Mapping[str, int]) -> dict:
    """Exact atom counts per element against ``expected`` (elements absent there must be absent)."""
    got = element_counts(structure)
    keys = sorted(set(got) | set(expected))
    diff = {k: got.get(k, 0) - int(expected.get(k, 0)) for k in keys}
    return {
        "ok": all(v == 0 for v in diff.values()),
        "counts": {k: got.get(k, 0) for k in keys},
        "expected": {k: int(expected.get(k, 0)) for k in keys},
    }


def check_ratio(structure: Structure, expected: Mapping[str, float], per: str, tol=1e-9) -> dict:
    """Element ratios normalised to element ``per`` (for example Li:Zr:Cl:N per Zr)."""
    got = element_counts(structure)
    ref = got.get(per, 0)
    if ref == 0:
        return {"ok": False, "reason": f"no {per} atoms to normalise to"}
    ratio = {k: got.get(k, 0) / ref for k in expected}
    ok = all(abs(ratio[k] - expected[k]) <= tol for k in expected)
    return {"ok": ok, "per": per, "ratio": ratio, "expected": dict(expected)}


def charges(structure: Structure, oxidation_states: Mapping[str, float]) -> np.ndarray:
    """Formal charge per site from an element → oxidation state map."""
    missing = {s.specie.symbol for s in structure} - set(oxidation_states)
    if missing:
        raise ValueError(f"no oxidation state for {sorted(missing)}; give one per element")
    return np.array([float(oxidation_states[s.specie.symbol]) for s in structure])


def check_charge(
    structure: Structure,
    oxidation_states: Mapping[str, float],
    compensation: float = 0.0,
    note: str = "",
    tol: float = 1e-6,
) -> dict:
    """Sum of formal charges; ``ok`` when it equals ``compensation``.

    ``compensation`` is the charge that the model deliberately leaves to something not in the
    cell: electrons donated by inserted Li metal to the host (``+n_Li``), or the uniform
    background that stands for removed Li+ ions (``-n_vac``). ``note`` says which.
    """
    total = float(charges(structure, oxidation_states).sum())
    out = {
        "ok": abs(total - compensation) <= tol,
        "total_charge": total,
        "oxidation_states": dict(oxidation_states),
    }
    if compensation:
        out["compensated_by"] = {"charge": compensation, "note": note}
    return out


def distance_thresholds(elements, factor: float = 0.7) -> dict[str, float]:
    """Per-pair minimum allowed distance ``factor * (r_A + r_B)`` keyed ``"A-B"`` (sorted)."""
    elems = sorted({str(e) for e in elements})
    out = {}
    for a, b in combinations_with_replacement(elems, 2):
        ra, rb = Element(a).atomic_radius, Element(b).atomic_radius
        out[f"{a}-{b}"] = round(factor * float(ra + rb), 4)
    return out


def min_distances(structure: Structure, cutoff: float = 4.0) -> dict[str, float]:
    """Shortest distance per element pair (``"A-B"``, sorted) up to ``cutoff`` Å."""
    centers, points, _, dists = structure.get_neighbor_list(cutoff)
    syms = np.array([s.specie.symbol for s in structure])
    out: dict[str, float] = {}
    for i, j, d in zip(centers, points, dists, strict=True):
        if d < 1e-8 and i == j:
            continue
        key = "-".join(sorted((syms[i], syms[j])))
        if d < out.get(key, np.inf):
            out[key] = float(d)
    return dict(sorted(out.items()))


def check_min_distances(
    structure: Structure, thresholds: Mapping[str, float] | None = None, factor: float = 0.7
) -> dict:
    """Every pair's shortest distance against its threshold (pairs farther than 4 Å pass)."""
    thr = dict(distance_thresholds(structure.composition.elements, factor))
    thr.update(thresholds or {})
    dmin = min_distances(structure, cutoff=max(4.0, *thr.values()) if thr else 4.0)
    bad = {k: {"distance": d, "threshold": thr[k]} for k, d in dmin.items() if d < thr[k]}
    return {
        "ok": not bad,
        "min_distance": round(min(dmin.values()), 4) if dmin else None,
        "per_pair": {k: round(v, 4) for k, v in dmin.items()},
        "thresholds": thr,
        "violations": bad,
    }


def space_group(structure: Structure, symprec: float = 1e-3) -> tuple[str, int]:
    """spglib's international symbol and number."""
    sga = SpacegroupAnalyzer(structure, symprec=symprec)
    return sga.get_space_group_symbol(), int(sga.get_space_group_number())


def check_symmetry(
    structure: Structure, expected: int | None = None, symprec: float = 1e-3, what: str = ""
) -> dict:
    """spglib space group; ``ok`` when it equals ``expected`` (any group when None)."""
    symbol, number = space_group(structure, symprec)
    out = {"ok": expected is None or number == expected, "space_group": symbol, "number": number}
    if expected is not None:
        out["expected"] = expected
    if what:
        out["of"] = what
    return out


def _min_image(vectors: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Minimum-image cartesian vectors for a (near-orthogonal) cell, rows = lattice vectors."""
    frac = np.linalg.solve(matrix.T, np.atleast_2d(vectors).T).T
    frac -= np.round(frac)
    return frac @ matrix


def circuit_atoms(
    positions: np.ndarray,
    matrix: np.ndarray,
    center: np.ndarray,
    half_width: float | tuple[float, float],
    z_window: tuple[float, float],
    step: float = 0.7,
) -> list[int]:
    """Atoms along a rectangular loop (counter-clockwise seen from +z) around ``center``."""
    inside = np.flatnonzero((positions[:, 2] >= z_window[0]) & (positions[:, 2] <= z_window[1]))
    cx, cy = center
    hx, hy = np.broadcast_to(np.asarray(half_width, float), (2,))
    corners = np.array(
        [[cx - hx, cy - hy], [cx + hx, cy - hy], [cx + hx, cy + hy], [cx - hx, cy + hy]]
    )
    path = []
    for k in range(4):
        p, q = corners[k], corners[(k + 1) % 4]
        n = max(2, int(np.ceil(np.linalg.norm(q - p) / step)))
        path.extend(p + (q - p) * t for t in np.arange(n) / n)
    sub = positions[inside]
    loop: list[int] = []
    for pt in path:
        d = np.zeros((len(sub), 3))
        d[:, :2] = sub[:, :2] - pt
        d = _min_image(d, matrix)
        idx = int(inside[np.argmin(np.linalg.norm(d[:, :2], axis=1))])
        if not loop or loop[-1] != idx:
            loop.append(idx)
    if loop[0] == loop[-1]:
        loop.pop()
    return loop


def burgers_circuit(
    deformed: Structure,
    reference: Structure,
    center: tuple[float, float],
    half_width: float | tuple[float, float],
    z_window: tuple[float, float],
    neighbor_cutoff: float = 8.0,
) -> dict:
    """Closure failure of a Burgers circuit (FS/RH) around ``center`` in the xy plane.

    ``deformed`` and ``reference`` must hold the same atoms in the same order (the dislocated
    cell and its perfect control). Returns the Burgers vector (Å, cartesian), the loop length
    and the largest mismatch between a deformed step and its perfect-crystal image.
    """
    if len(deformed) != len(reference):
        raise ValueError("deformed and reference must hold the same atoms in the same order")
    pos = deformed.cart_coords
    ref = reference.cart_coords
    mdef, mref = deformed.lattice.matrix, reference.lattice.matrix
    loop = circuit_atoms(pos, mdef, np.asarray(center, float), half_width, z_window)
    total = np.zeros(3)
    worst = 0.0
    for k, i in enumerate(loop):
        j = loop[(k + 1) % len(loop)]
        v = _min_image(pos[j] - pos[i], mdef)[0]
        cand = _min_image(ref - ref[i], mref)
        near = np.linalg.norm(cand, axis=1) < neighbor_cutoff
        cand = cand[near]
        best = int(np.argmin(np.linalg.norm(cand - v, axis=1)))
        worst = max(worst, float(np.linalg.norm(cand[best] - v)))
        total += cand[best]
    return {
        "burgers_vector": (-total).round(4).tolist(),
        "loop_atoms": len(loop),
        "max_step_mismatch": round(worst, 4),
    }


def ncn_units(structure: Structure, cutoff: float = 1.4) -> dict:
    """Whether every C has exactly two N within ``cutoff`` Å (intact N=C=N units)."""
    c_idx = [i for i, s in enumerate(structure) if s.specie.symbol == "C"]
    if not c_idx:
        return {"ok": True, "n_c": 0}
    broken = []
    for i in c_idx:
        nbrs = structure.get_neighbors(structure[i], cutoff)
        if sum(1 for n in nbrs if n.specie.symbol == "N") != 2:
            broken.append(i)
    return {"ok": not broken, "n_c": len(c_idx), "broken": broken}
