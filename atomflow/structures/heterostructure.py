"""Coherent film/substrate interfaces by lattice matching, with optional Li interstitials.

Lattice matching is pymatgen's Zur–McGill search (:class:`ZSLGenerator`) inside
:class:`CoherentInterfaceBuilder`, which strains the film onto the substrate. Here the
mismatch is then shared: the common in-plane lattice has the metric
``G = w·G_substrate + (1 − w)·G_film`` with ``w = film_share`` (0.5 by default, 1 = pymatgen's
unstrained substrate), and both sides are strained affinely to it. The strain of each side is
the 2D Green–Lagrange strain from its own bulk supercell vectors to the common ones; the
reported number is the largest principal value.

Li interstitials go on Voronoi vertices of the periodic cell (the centres of the largest empty
spheres), within ``li_window`` Å of an interface plane (both, in a periodic stack) or in
the middle third of either slab, largest hole first (or at random with ``seed``), at least
2.5 Å apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.analysis.interfaces.coherent_interfaces import CoherentInterfaceBuilder
from pymatgen.analysis.interfaces.zsl import ZSLGenerator
from pymatgen.core import Lattice, Structure
from pymatgen.core.surface import SlabGenerator
from scipy.spatial import Voronoi, cKDTree

from atomflow.errors import InputError
from atomflow.structures import checks

LI_REGIONS = ("interface", "film", "substrate")
LI_SELECTIONS = ("largest", "random")


@dataclass(frozen=True)
class Match:
    """One lattice match and the strain each side takes after sharing the mismatch."""

    index: int
    area: float
    film_strain: float
    substrate_strain: float
    film_vectors: np.ndarray
    substrate_vectors: np.ndarray


def _gl_strain(natural: np.ndarray, target_gram: np.ndarray) -> float:
    """Largest |principal| 2D Green–Lagrange strain taking ``natural`` (2x3) to ``target_gram``."""
    g0 = natural @ natural.T
    a = np.linalg.cholesky(g0).T  # g0 = aᵀa, a in an orthonormal basis of the plane
    ai = np.linalg.inv(a)
    e = 0.5 * (ai.T @ target_gram @ ai - np.eye(2))
    return float(np.max(np.abs(np.linalg.eigvalsh(e))))


def shared_gram(film: np.ndarray, substrate: np.ndarray, film_share: float) -> np.ndarray:
    """Metric of the common in-plane lattice: ``w·G_sub + (1 − w)·G_film``."""
    return film_share * (substrate @ substrate.T) + (1 - film_share) * (film @ film.T)


def rank_matches(builder: CoherentInterfaceBuilder, film_share: float) -> list[Match]:
    """Every ZSL match with its shared strains, ordered by area then by the larger strain."""
    out = []
    for i, m in enumerate(builder.zsl_matches):
        f = np.asarray(m.film_sl_vectors, float)
        s = np.asarray(m.substrate_sl_vectors, float)
        g = shared_gram(f, s, film_share)
        out.append(Match(i, float(m.match_area), _gl_strain(f, g), _gl_strain(s, g), f, s))
    return sorted(out, key=lambda m: (round(m.area, 3), max(m.film_strain, m.substrate_strain)))


# Trial heights (fractions of the oriented cell's c) that move every site off its c faces.
_FACE_OFFSETS = (0.0137, 0.0291, 0.0419, 0.0073)


def _oriented_cell(bulk: Structure, miller: tuple[int, int, int]) -> Structure:
    """The (hkl)-oriented unit cell pymatgen's slab generator cuts slabs from."""
    return SlabGenerator(
        bulk, miller, min_slab_size=1, min_vacuum_size=1, reorient_lattice=False
    ).oriented_unit_cell


def off_faces(bulk: Structure, miller: tuple[int, int, int], tol: float = 1e-4) -> Structure:
    """``bulk`` moved along the (hkl) normal so that no site of its oriented cell lies on a
    c face of that cell.

    pymatgen builds that cell by a matrix product and wraps it into [0, 1): a site on a face
    lands at 0 or at 0.9999999999999999 depending on the CPU's floating-point path. At 1 it
    sits one layer away from its own layer, the slab is no longer primitive in-plane, and the
    lattice match fails (CrN (111) on an AVX-512 Xeon). Moving along the normal changes no
    geometry and no in-plane position, so the slabs, terminations and registry are the same.
    """
    cell = _oriented_cell(bulk, miller)
    normal = _unit_normal(cell.lattice)
    spacing = float(cell.lattice.matrix[2] @ normal)
    c = cell.frac_coords[:, 2]  # a step of offset * spacing along the normal adds offset to c
    for offset in _FACE_OFFSETS:
        if np.min(np.abs(c + offset - np.round(c + offset))) > tol:
            moved = bulk.copy()
            moved.translate_sites(
                range(len(moved)), offset * spacing * normal, frac_coords=False, to_unit_cell=True
            )
            return moved
    raise RuntimeError(f"no offset moves every site of {bulk.formula} {miller} off a cell face")


def _set_inplane(structure: Structure, gram: np.ndarray) -> Structure:
    """Same fractional coordinates, in-plane vectors replaced by ones with metric ``gram``."""
    a, b, c = structure.lattice.matrix
    x = a / np.linalg.norm(a)
    y = b - (b @ x) * x
    y /= np.linalg.norm(y)
    la, lb = np.sqrt(gram[0, 0]), np.sqrt(gram[1, 1])
    cos_g = gram[0, 1] / (la * lb)
    new = np.array([la * x, lb * (cos_g * x + np.sqrt(1 - cos_g**2) * y), c])
    return Structure(
        Lattice(new),
        structure.species,
        structure.frac_coords,
        site_properties=structure.site_properties,
    )


def build_interface(
    substrate: Structure,
    film: Structure,
    substrate_miller: tuple[int, int, int],
    film_miller: tuple[int, int, int],
    termination: int | tuple[str, str] = 0,
    match: int | None = None,
    max_strain: float = 0.03,
    max_area: float = 200.0,
    film_share: float = 0.5,
    substrate_thickness: int = 6,
    film_thickness: int = 1,
    gap: float = 2.5,
    vacuum: float | None = None,
    inplane_repeat: tuple[int, int] = (1, 1),
) -> tuple[Structure, dict]:
    """Interface cell and its metadata (match, strains, area, terminations, z of the interface).

    ``match`` picks a ZSL match by its rank (smallest area first); by default the smallest whose
    shared strains are both below ``max_strain``. ``vacuum`` (Å over the film) defaults to
    ``gap``, which makes a periodic stack with two equivalent interfaces.
    """
    if gap < 0:
        raise InputError(f"gap={gap} Å must be >= 0")
    if vacuum is not None and vacuum < 0:
        raise InputError(f"vacuum={vacuum} Å must be >= 0")
    if not 0 <= film_share <= 1:
        raise InputError(f"film_share={film_share} must be within 0 (film unstrained) ... 1")
    zsl = ZSLGenerator(
        max_area_ratio_tol=0.09,
        max_area=max_area,
        max_length_tol=0.03,
        max_angle_tol=0.01,
        bidirectional=True,
    )
    cib = CoherentInterfaceBuilder(
        substrate_structure=off_faces(substrate, tuple(substrate_miller)),
        film_structure=off_faces(film, tuple(film_miller)),
        film_miller=tuple(film_miller),
        substrate_miller=tuple(substrate_miller),
        zslgen=zsl,
    )
    terms = cib.terminations
    if not terms:
        raise InputError(f"no terminations found for film {film_miller} on {substrate_miller}")
    if isinstance(termination, int):
        if not 0 <= termination < len(terms):
            raise InputError(
                f"termination={termination}; choose 0..{len(terms) - 1}: "
                + ", ".join(f"{i}={t}" for i, t in enumerate(terms))
            )
        term = terms[termination]
    else:
        term = tuple(termination)
        if term not in terms:
            raise InputError(f"termination {term} unknown; known: {terms}")
    ranked = rank_matches(cib, film_share)
    if not ranked:
        raise InputError(
            f"no lattice match for film {film_miller} on substrate {substrate_miller} within "
            f"max_area={max_area} Å²; raise max_area"
        )
    if match is None:
        ok = [m for m in ranked if max(m.film_strain, m.substrate_strain) < max_strain]
        chosen = ok[0] if ok else min(ranked, key=lambda m: max(m.film_strain, m.substrate_strain))
    else:
        if not 0 <= match < len(ranked):
            raise InputError(f"match={match}; choose 0..{len(ranked) - 1}")
        chosen = ranked[match]
    interfaces = cib.get_interfaces(
        term,
        gap=gap,
        vacuum_over_film=gap if vacuum is None else vacuum,
        film_thickness=film_thickness,
        substrate_thickness=substrate_thickness,
    )
    iface = next((it for k, it in enumerate(interfaces) if k == chosen.index), None)
    if iface is None:  # get_interfaces yields one interface per ZSL match, in match order
        raise RuntimeError(f"pymatgen gave no interface for ZSL match {chosen.index}")
    sub_idx = list(iface.substrate_indices)
    gram = shared_gram(chosen.film_vectors, chosen.substrate_vectors, film_share)
    labels = ["substrate" if i in set(sub_idx) else "film" for i in range(len(iface))]
    plain = Structure(
        iface.lattice, iface.species, iface.frac_coords, site_properties={"region": labels}
    )
    out = _set_inplane(plain, gram)
    out, shift, dmin = best_registry(out, np.array(labels) == "film")
    if len(inplane_repeat) != 2 or min(inplane_repeat) < 1:
        raise InputError(f"inplane_repeat={inplane_repeat!r} must be two positive integers")
    out.make_supercell([int(inplane_repeat[0]), int(inplane_repeat[1]), 1])
    labels = list(out.site_properties["region"])
    z = out.cart_coords @ _unit_normal(out.lattice)
    zs, zf = z[np.array(labels) == "substrate"], z[np.array(labels) == "film"]
    lat = out.lattice
    meta = {
        "substrate_miller": list(substrate_miller),
        "film_miller": list(film_miller),
        "terminations": {"film": term[0], "substrate": term[1]},
        "available_terminations": [list(t) for t in terms],
        "match_rank": ranked.index(chosen),
        "n_matches": len(ranked),
        "area": float(np.linalg.norm(np.cross(lat.matrix[0], lat.matrix[1]))),
        "film_strain": chosen.film_strain,
        "substrate_strain": chosen.substrate_strain,
        "film_share": film_share,
        "strain_definition": "largest |principal| 2D Green-Lagrange strain, bulk to common cell",
        "inplane_lengths": [float(lat.a), float(lat.b)],
        "inplane_repeat": [int(v) for v in inplane_repeat],
        "inplane_angle": float(lat.gamma),
        "gap": gap,
        "vacuum_over_film": gap if vacuum is None else vacuum,
        "registry_shift": shift,
        "registry_min_ratio": dmin,
        "interface_z": float(0.5 * (zs.max() + zf.min())),
        "interfaces_z": _interfaces(
            zs,
            zf,
            out.lattice.volume
            / float(np.linalg.norm(np.cross(out.lattice.matrix[0], out.lattice.matrix[1]))),
            vacuum,
            gap,
        ),
        "substrate_z_range": [float(zs.min()), float(zs.max())],
        "film_z_range": [float(zf.min()), float(zf.max())],
        "n_substrate": len(zs),
        "n_film": len(zf),
    }
    return out, meta


def best_registry(
    s: Structure, film_mask: np.ndarray, grid: int = 8, depth: float = 3.5
) -> tuple[Structure, list[float], float]:
    """Shift the film in-plane to the registry that maximises min(d / threshold) across both
    interfaces (film atoms within ``depth`` Å of its faces against the substrate's)."""
    thr = checks.distance_thresholds(s.composition.elements)
    z = s.cart_coords @ _unit_normal(s.lattice)
    zf, zs = z[film_mask], z[~film_mask]
    f_idx = np.flatnonzero(film_mask & ((z < zf.min() + depth) | (z > zf.max() - depth)))
    s_idx = np.flatnonzero(~film_mask & ((z < zs.min() + depth) | (z > zs.max() - depth)))
    sym = np.array([site.specie.symbol for site in s])
    lim = np.array([[thr["-".join(sorted((a, b)))] for b in sym[s_idx]] for a in sym[f_idx]])
    frac = s.frac_coords
    best = (-1.0, (0.0, 0.0))
    for i in range(grid):
        for j in range(grid):
            d = s.lattice.get_all_distances(frac[f_idx] + [i / grid, j / grid, 0], frac[s_idx])
            ratio = float(np.min(d / lim))
            if ratio > best[0] + 1e-9:
                best = (ratio, (i / grid, j / grid))
    shifted = frac.copy()
    shifted[film_mask, :2] += best[1]
    out = Structure(s.lattice, s.species, shifted, site_properties=s.site_properties)
    return out, list(best[1]), best[0]


def _interfaces(zs, zf, height: float, vacuum: float | None, gap: float) -> list[float]:
    """z of the film-on-substrate interface, and of the periodic film-top/substrate-bottom
    one when the vacuum over the film is no wider than the gap (a periodic stack)."""
    out = [float(0.5 * (zs.max() + zf.min()))]
    if vacuum is None or vacuum <= gap:
        out.append(float((0.5 * (zf.max() + zs.min() + height)) % height))
    return out


def _unit_normal(lattice: Lattice) -> np.ndarray:
    n = np.cross(lattice.matrix[0], lattice.matrix[1])
    return n / np.linalg.norm(n)


def interstitial_candidates(
    structure: Structure, guest: str = "Li", margin: float = 1.05
) -> np.ndarray:
    """Voronoi vertices inside the cell where ``guest`` clears every host atom by ``margin``
    times the pair threshold; rows (x, y, z, free radius), largest free radius first."""
    thr = checks.distance_thresholds({*structure.composition.elements, guest})
    frac = structure.frac_coords % 1.0
    shifts = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    pts = ((frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3)) @ structure.lattice.matrix
    sym = np.tile([site.specie.symbol for site in structure], len(shifts))
    need = np.array([margin * thr["-".join(sorted((guest, e)))] for e in sym])
    v = Voronoi(pts).vertices
    vf = structure.lattice.get_fractional_coords(v)
    v = v[np.all((vf >= 0) & (vf < 1), axis=1)]
    tree = cKDTree(pts)
    free, _ = tree.query(v)
    near = tree.query_ball_point(v, r=float(need.max()))
    ok = np.array(
        [
            all(np.linalg.norm(pts[j] - p) >= need[j] for j in nb)
            for p, nb in zip(v, near, strict=True)
        ]
    )
    v, free = v[ok], free[ok]
    order = np.argsort(-free, kind="stable")
    v, free = v[order], free[order]
    chosen: list[int] = []
    for i in range(len(v)):  # drop near-duplicate vertices
        if all(np.linalg.norm(v[i] - v[j]) > 0.3 for j in chosen[-50:]):
            chosen.append(i)
    return np.column_stack([v[chosen], free[chosen]]) if chosen else np.zeros((0, 4))


def pick_holes(
    lattice: Lattice,
    candidates: np.ndarray,
    n: int,
    selection: str = "largest",
    seed: int = 0,
    min_separation: float = 2.5,
) -> list[np.ndarray]:
    """Up to ``n`` Cartesian points from ``candidates`` (rows of
    :func:`interstitial_candidates`), in their order (``largest``) or shuffled by ``seed``
    (``random``), each at least ``min_separation`` Å from those picked before it."""
    if selection == "random":
        candidates = candidates[np.random.default_rng(seed).permutation(len(candidates))]
    picked: list[np.ndarray] = []
    for row in candidates:
        f = lattice.get_fractional_coords(row[:3])
        if all(
            lattice.get_distance_and_image(f, lattice.get_fractional_coords(q))[0] >= min_separation
            for q in picked
        ):
            picked.append(row[:3])
        if len(picked) == n:
            break
    return picked


def insert_li(
    structure: Structure,
    meta: dict,
    n_li: int,
    region: str = "interface",
    window: float = 3.0,
    selection: str = "largest",
    seed: int = 0,
    min_separation: float = 2.5,
    margin: float = 1.0,
) -> tuple[Structure, dict]:
    """Add ``n_li`` Li on interstitial holes of ``region``; returns the structure and a report.

    A hole qualifies when every Li–host distance is at least ``margin`` times the pair
    threshold of :func:`checks.distance_thresholds` (a margin below 1 admits tight holes, such
    as tetrahedral sites in rock salt, and the distance check then reports them).
    """
    if n_li < 0:
        raise InputError(f"n_li={n_li} must be >= 0")
    if region not in LI_REGIONS:
        raise InputError(f"li_region={region!r}; choose one of {', '.join(LI_REGIONS)}")
    if selection not in LI_SELECTIONS:
        raise InputError(f"li_selection={selection!r}; choose one of {', '.join(LI_SELECTIONS)}")
    if n_li == 0:
        return structure, {"n_li": 0}
    cand = interstitial_candidates(structure, margin=margin)
    z = cand[:, :3] @ _unit_normal(structure.lattice)
    if region == "interface":
        height = structure.lattice.volume / meta["area"]
        mask = np.zeros(len(z), bool)
        for zi in meta["interfaces_z"]:
            dz = (z - zi + height / 2) % height - height / 2
            mask |= np.abs(dz) <= window
    else:
        lo, hi = meta[f"{region}_z_range"]
        third = (hi - lo) / 3
        mask = (z >= lo + third) & (z <= hi - third)
    cand = cand[mask]
    picked = pick_holes(structure.lattice, cand, n_li, selection, seed, min_separation)
    if len(picked) < n_li:
        raise InputError(
            f"only {len(picked)} interstitial holes in region {region!r} keep Li at least "
            f"{margin:g} x the pair threshold from every host atom and {min_separation} Å from "
            f"each other; ask for n_li <= {len(picked)}, widen li_window, or lower li_margin "
            "(the distance check then reports the short pairs)"
        )
    out = structure.copy()
    for p in picked:
        out.append("Li", p, coords_are_cartesian=True, properties={"region": f"Li:{region}"})
    zz = np.array(picked) @ _unit_normal(structure.lattice)
    report = {
        "n_li": n_li,
        "region": region,
        "selection": selection,
        "li_z": zz.round(3).tolist(),
        "window": window if region == "interface" else None,
        "method": "Voronoi vertices, largest free radius first",
        "margin": margin,
    }
    return out, report


def interface_checks(
    s: Structure,
    meta: dict,
    host_counts: dict[str, int],
    oxidation_states: dict[str, float],
    max_strain: float,
) -> dict:
    """Composition, charge (Li compensated by host reduction), distances, strain, Li placement."""
    n_li = meta.get("li", {}).get("n_li", 0)
    expected = dict(host_counts)
    if n_li:
        expected["Li"] = expected.get("Li", 0) + n_li
    li_ok = True
    if n_li:
        labels = s.site_properties.get("region", [])
        li_ok = sum(1 for v in labels if str(v).startswith("Li:")) == n_li
    return {
        "composition": checks.check_composition(s, expected),
        "charge": checks.check_charge(
            s,
            {**oxidation_states, "Li": 1},
            compensation=float(n_li),
            note="each inserted Li gives its electron to the host (formal reduction)",
        ),
        "distances": checks.check_min_distances(s),
        "strain": {
            "ok": max(meta["film_strain"], meta["substrate_strain"]) < max_strain,
            "film": meta["film_strain"],
            "substrate": meta["substrate_strain"],
            "limit": max_strain,
        },
        "li_inserted": {"ok": li_ok, "n_li": n_li},
    }


def region_counts(s: Structure, region: str) -> dict[str, int]:
    """Element counts of the sites labelled ``region`` (``film`` or ``substrate``)."""
    out: dict[str, int] = {}
    for site, lab in zip(s, s.site_properties["region"], strict=True):
        if lab == region:
            out[site.specie.symbol] = out.get(site.specie.symbol, 0) + 1
    return out


def interface_with_li(
    substrate: Structure,
    film: Structure,
    substrate_miller,
    film_miller,
    *,
    n_li: int,
    li_region: str,
    li_window: float,
    li_selection: str,
    li_margin: float,
    seed: int,
    **interface_options,
):
    """Build the interface, count each side's host atoms, then insert ``n_li`` Li.

    Returns ``(structure, metadata, film_counts, substrate_counts, host_counts, li_info)``.
    """
    s, meta = build_interface(substrate, film, substrate_miller, film_miller, **interface_options)
    film_counts = region_counts(s, "film")
    sub_counts = region_counts(s, "substrate")
    host = {k: film_counts.get(k, 0) + sub_counts.get(k, 0) for k in {*film_counts, *sub_counts}}
    s, li = insert_li(s, meta, n_li, li_region, li_window, li_selection, seed, margin=li_margin)
    return s, meta, film_counts, sub_counts, host, li
