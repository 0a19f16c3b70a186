"""Ordered supercells of N-doped Li2ZrCl6, Li(2+2x)ZrCl(6-x)N(x), 0 <= x <= 0.25.

Parent: the P-3m1 Li3YCl6-type model (catalogue ``li2zrcl6_p3m1``, a = 11.053, c = 5.962 Å,
Z = 3). Anions form an ideal hcp array; the 18 octahedral holes per cell lie on the grid
(i/3, j/3, k/2). In the model, Zr fills 1a (z = 0) and 2d (z = 1/2), Li fills 6g (z = 0) with
occupancy 5/6 and 6h (z = 1/2) with 1/6, and 2d (z = 0) and 1b are empty. A 6g and a 6h site
stacked along c share a face (2.98 Å) and are not filled together, so with 6 Li per cell every
Li column along c is either all-6g or all-6h: the ordering picks which columns hold 6h Li.
``disorder="full"`` instead spreads 3 Zr and 6 Li per cell over all 18 holes (the fully
disordered hcp average, catalogue ``li2zrcl6_hcp_average``), still one cation every other
hole along each column.

Doping: an n-cell supercell has 18n Cl sites and 3nx N, which must be whole; each N replaces
a Cl on one of the three 6i sites with weights from the refined N occupancies at x = 0.15
(Cl1 1.15 %, Cl2 2.97 %, Cl3 5.11 %, doi 10.1039/d5eb00116a; which 6i site the paper calls
Cl1..Cl3 is not stated, the labels here follow ``structures.md``). Each N brings two Li into
vacant octahedral holes, chosen by electrostatics (greedy Ewald energy with swap refinement)
unless ``li_placement="random"``. Energies use pymatgen's :class:`EwaldSummation` once per
supercell: the unit-charge pair matrix M over all sites gives E = qᵀMq for any occupation q.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.groups import SpaceGroup

from atomflow.errors import InputError
from atomflow.structures import checks
from atomflow.structures.ordering import apportion, ewald_matrix
from atomflow.structures.reference import load_reference
from atomflow.structures.result import BuildResult

X_MAX = 0.25
OXIDATION_STATES = {"Li": 1, "Zr": 4, "Cl": -1, "N": -3}
N_WEIGHTS_X015 = (1.15, 2.97, 5.11)
CL_REPRESENTATIVES = {
    "Cl1": (1 / 9, -1 / 9, 3 / 4),
    "Cl2": (2 / 9, -2 / 9, 1 / 4),
    "Cl3": (4 / 9, -4 / 9, 3 / 4),
}
DISORDER_MODELS = ("model", "full")
LI_PLACEMENTS = ("ewald", "random")


@dataclass(frozen=True)
class _Template:
    """All sites of one supercell: 18 octahedral holes and 18 anion sites per cell."""

    lattice: Lattice
    frac: np.ndarray  # (n_sites, 3)
    kind: np.ndarray  # "oct" | "Cl1" | "Cl2" | "Cl3"
    column: np.ndarray  # column id along c for octahedral sites, -1 for anions
    layer: np.ndarray  # 0 (z = 0) or 1 (z = 1/2) for octahedral sites
    wyckoff: np.ndarray  # parent Wyckoff label of octahedral sites ("1a", "6g", ...)
    fixed: np.ndarray  # species fixed by the model ("Zr") or "" (Li/vacancy column)
    n_cells: int


def reachable_x(n_cells: int) -> list[float]:
    """The x values in [0, 0.25] whose N count 3·n·x is whole for an ``n_cells`` supercell."""
    return [round(k / (3 * n_cells), 6) for k in range(int(np.floor(X_MAX * 3 * n_cells)) + 1)]


def _is_whole(v: float) -> bool:
    return abs(v - round(v)) < 1e-6


def _shape(n: int, a: float, c: float) -> tuple[tuple[int, int, int], float]:
    """Most isotropic (n1, n2, n3) with n1*n2*n3 = n; returns it and its length ratio."""
    best, score = (1, 1, n), np.inf
    for n1 in range(1, n + 1):
        for n2 in range(1, n // n1 + 1):
            if n % (n1 * n2):
                continue
            n3 = n // (n1 * n2)
            widths = (n1 * a * np.sqrt(3) / 2, n2 * a * np.sqrt(3) / 2, n3 * c)
            s = max(widths) / min(widths) + 0.01 * abs(n1 - n2)
            if s < score:
                best, score = (n1, n2, n3), s
    return best, score


def choose_supercell(
    x: float, a: float = 11.053, c: float = 5.962, min_cells: int = 8, max_cells: int = 40
) -> tuple[int, int, int]:
    """Smallest near-isotropic supercell (at least ``min_cells`` cells) with a whole N count."""
    fallback = None
    for n in range(max(1, min_cells), max_cells + 1):
        if not _is_whole(3 * n * x):
            continue
        shape, ratio = _shape(n, a, c)
        if ratio <= 2.0:
            return shape
        fallback = fallback or shape
    if fallback:
        return fallback
    near: dict[float, int] = {}
    for n in range(1, max_cells + 1):
        for v in reachable_x(n):
            near.setdefault(v, n)
    closest = sorted(near, key=lambda v: abs(v - x))[:4]
    hint = ", ".join(f"x={v:g} ({near[v]} cells)" for v in sorted(closest))
    frac = Fraction(x).limit_denominator(10000)
    step = frac.denominator // np.gcd(3 * frac.numerator, frac.denominator)
    raise InputError(
        f"x={x:g} needs 3·n·x whole N atoms, i.e. a supercell of a multiple of {step} cells, "
        f"more than max_cells={max_cells}; nearest reachable: {hint}. "
        "Raise max_cells or pass supercell=(n1, n2, n3)"
    )


def _template(supercell: tuple[int, int, int], a: float | None, c: float | None) -> _Template:
    ref = load_reference("li2zrcl6_p3m1")
    lat = ref.lattice
    a = a or lat.a
    c = c or lat.c
    n1, n2, n3 = supercell
    sg = SpaceGroup("P-3m1")
    orbits = {
        lab: np.array(sg.get_orbit(np.array(rep) % 1.0, tol=1e-4))
        for lab, rep in CL_REPRESENTATIVES.items()
    }

    def cl_label(f):
        for lab, orb in orbits.items():
            d = orb - f
            d -= np.round(d)
            if np.min(np.linalg.norm(d, axis=1)) < 1e-3:
                return lab
        raise RuntimeError(f"Cl site {f} is not on a known 6i orbit")

    occupied = {}
    for site in ref:
        el, occ = next(iter(site.species.items()))
        key = tuple(np.round(site.frac_coords % 1.0 * 18).astype(int) % 18)
        occupied[key] = (el.symbol, occ)
    wy = {}
    for i in range(3):
        for j in range(3):
            for k in range(2):
                key = ((i * 6) % 18, (j * 6) % 18, (k * 9) % 18)
                el, occ = occupied.get(key, ("", 0.0))
                wy[(i, j, k)] = (el, occ)
    labels = {
        ("Zr", 0): "1a",
        ("Zr", 1): "2d",
        ("Li", 0): "6g",
        ("Li", 1): "6h",
        ("", 0): "2d(z=0)",
        ("", 1): "1b",
    }
    frac, kind, column, layer, wyck, fixed = [], [], [], [], [], []
    cols: dict[tuple[int, int], int] = {}
    for I in range(n1):  # noqa: E741
        for J in range(n2):
            for K in range(n3):
                for (i, j, k), (el, _occ) in wy.items():
                    f = np.array([(I + i / 3) / n1, (J + j / 3) / n2, (K + k / 2) / n3])
                    col = cols.setdefault((3 * I + i, 3 * J + j), len(cols))
                    frac.append(f)
                    kind.append("oct")
                    column.append(col)
                    layer.append(k)
                    wyck.append(labels[(el, k)])
                    fixed.append("Zr" if el == "Zr" else "")
                for site in ref:
                    if next(iter(site.species)).symbol != "Cl":
                        continue
                    f0 = site.frac_coords % 1.0
                    frac.append((f0 + np.array([I, J, K])) / [n1, n2, n3])
                    kind.append(cl_label(f0))
                    column.append(-1)
                    layer.append(-1)
                    wyck.append("6i")
                    fixed.append("Cl")
    lattice = Lattice.hexagonal(a * n1, c * n3) if n1 == n2 else None
    if lattice is None:
        lattice = Lattice.from_parameters(a * n1, a * n2, c * n3, 90, 90, 120)
    return _Template(
        lattice=lattice,
        frac=np.array(frac),
        kind=np.array(kind),
        column=np.array(column),
        layer=np.array(layer),
        wyckoff=np.array(wyck),
        fixed=np.array(fixed),
        n_cells=n1 * n2 * n3,
    )


def _order_cations(t: _Template, disorder: str, rng: np.random.Generator) -> np.ndarray:
    """Species per site (\"\" = vacancy) for the undoped ordering."""
    occ = np.where(t.kind == "oct", "", "Cl").astype(object)
    oct_idx = np.flatnonzero(t.kind == "oct")
    n = t.n_cells
    if disorder == "model":
        occ[t.fixed == "Zr"] = "Zr"
        li_cols = np.unique(t.column[(t.kind == "oct") & (t.wyckoff == "6g")])
        n_h = len(li_cols) // 6
        h_cols = set(rng.choice(li_cols, size=n_h, replace=False).tolist())
        for i in oct_idx:
            if t.wyckoff[i] == "6g" and t.column[i] not in h_cols:
                occ[i] = "Li"
            elif t.wyckoff[i] == "6h" and t.column[i] in h_cols:
                occ[i] = "Li"
    else:
        cols = np.unique(t.column[oct_idx])
        parity = np.zeros(cols.max() + 1, int)
        parity[rng.permutation(cols)[: len(cols) // 2]] = 1
        filled = [i for i in oct_idx if t.layer[i] == parity[t.column[i]]]
        species = np.array(["Zr"] * (3 * n) + ["Li"] * (len(filled) - 3 * n), dtype=object)
        occ[np.array(filled)] = rng.permutation(species)
    return occ


def _charges(occ: np.ndarray) -> np.ndarray:
    return np.array([OXIDATION_STATES.get(s, 0) if s else 0 for s in occ], float)


def _place_li(
    occ: np.ndarray,
    n_li: int,
    t: _Template,
    m: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Put ``n_li`` extra Li on vacant octahedral holes: lowest Ewald energy, or at random."""
    vacant = np.flatnonzero((t.kind == "oct") & (occ == ""))
    if n_li > len(vacant):
        raise InputError(f"{n_li} extra Li do not fit in {len(vacant)} vacant octahedral sites")
    occ = occ.copy()
    if m is None:
        for i in rng.choice(vacant, size=n_li, replace=False):
            occ[i] = "Li:extra"
        return occ
    q = _charges(occ)
    mq = m @ q
    diag = np.diag(m)
    placed: list[int] = []
    free = set(vacant.tolist())
    for _ in range(n_li):
        cand = np.array(sorted(free))
        gain = 2 * mq[cand] + diag[cand]
        best = int(cand[np.argmin(gain)])
        placed.append(best)
        free.discard(best)
        q[best] = 1.0
        mq += m[:, best]
    for _ in range(20):  # swap refinement: move one extra Li at a time to a better hole
        improved = False
        for k, li in enumerate(placed):
            cand = np.array(sorted(free))
            if not len(cand):
                break
            remove = -2 * mq[li] + diag[li]
            add = 2 * (mq[cand] - m[cand, li]) + diag[cand]
            j = int(np.argmin(add))
            if remove + add[j] < -1e-9:
                new = int(cand[j])
                q[li], q[new] = 0.0, 1.0
                mq += m[:, new] - m[:, li]
                free.discard(new)
                free.add(li)
                placed[k] = new
                improved = True
        if not improved:
            break
    for i in placed:
        occ[i] = "Li:extra"
    return occ


def _dope(
    occ: np.ndarray, t: _Template, counts: list[int], rng, n_min_distance: float = 0.0
) -> np.ndarray:
    """Put N on ``counts`` Cl1/Cl2/Cl3 sites at random; with ``n_min_distance`` > 0, one at a
    time among the sites at least that far from every N placed so far."""
    occ = occ.copy()
    placed: list[int] = []
    for lab, k in zip(("Cl1", "Cl2", "Cl3"), counts, strict=True):
        if not k:
            continue
        sites = np.flatnonzero(t.kind == lab)
        if n_min_distance <= 0:
            occ[rng.choice(sites, size=k, replace=False)] = "N"
            continue
        for _ in range(k):
            free = sites[occ[sites] != "N"]
            if placed:
                d = t.lattice.get_all_distances(t.frac[free], t.frac[placed])
                free = free[d.min(axis=1) >= n_min_distance]
            if not len(free):
                raise InputError(
                    f"cannot place {sum(counts)} N at least {n_min_distance:g} Å apart in this "
                    "supercell; lower n_min_distance_A or use a larger supercell"
                )
            pick = int(rng.choice(free))
            occ[pick] = "N"
            placed.append(pick)
    return occ


def _energy(occ: np.ndarray, m: np.ndarray) -> float:
    q = np.array([OXIDATION_STATES.get(str(s).split(":")[0], 0) if s else 0 for s in occ], float)
    return float(q @ m @ q)


def _to_structure(occ: np.ndarray, t: _Template) -> Structure:
    keep = np.flatnonzero(occ != "")
    species, labels = [], []
    for i in keep:
        el, _, extra = str(occ[i]).partition(":")
        species.append(el)
        if t.kind[i] == "oct":
            labels.append(f"{el}:{'extra' if extra else t.wyckoff[i]}")
        else:
            labels.append(f"{el}:{t.kind[i]}")
    s = Structure(
        t.lattice,
        species,
        t.frac[keep],
        site_properties={
            "site_label": labels,
            "charge": [float(OXIDATION_STATES[e]) for e in species],
        },
    )
    return s.get_sorted_structure()


def _validate(x, disorder, li_placement, n_weights, n_configs, ewald_samples) -> None:
    if not 0.0 <= x <= X_MAX:
        raise InputError(f"x={x:g} is outside the allowed range 0 <= x <= {X_MAX}")
    if disorder not in DISORDER_MODELS:
        raise InputError(f"disorder={disorder!r}; choose one of {', '.join(DISORDER_MODELS)}")
    if li_placement not in LI_PLACEMENTS:
        raise InputError(f"li_placement={li_placement!r}; choose one of {', '.join(LI_PLACEMENTS)}")
    if len(n_weights) != 3 or min(n_weights) < 0 or sum(n_weights) <= 0:
        raise InputError(
            f"n_weights={tuple(n_weights)!r}: give three non-negative weights for Cl1, Cl2, Cl3"
        )
    if n_configs < 1:
        raise InputError(f"n_configs={n_configs} must be >= 1")
    if ewald_samples and ewald_samples < n_configs:
        raise InputError(
            f"ewald_samples={ewald_samples} must be 0 (no ranking) or >= n_configs={n_configs}"
        )


def build_li2zrcl6_ensemble(
    x: float = 0.15,
    supercell: tuple[int, int, int] | None = None,
    n_configs: int = 1,
    seed: int = 0,
    ewald_samples: int = 0,
    li_placement: str = "ewald",
    n_weights: tuple[float, float, float] = N_WEIGHTS_X015,
    disorder: str = "model",
    a: float | None = None,
    c: float | None = None,
    max_cells: int = 40,
    n_min_distance_A: float = 0.0,
) -> list[BuildResult]:
    """``n_configs`` distinct ordered supercells of Li(2+2x)ZrCl(6-x)N(x).

    ``n_min_distance_A`` > 0 keeps every two N at least that far apart (3.7 Å: no two N on
    neighbouring anion sites); 0 places them independently.

    With ``ewald_samples = 0`` the configurations are successive random draws from ``seed``;
    otherwise ``ewald_samples`` draws are ranked by Ewald energy and the ``n_configs`` lowest
    distinct ones are returned (lowest first). ``supercell`` defaults to the smallest
    near-isotropic one with whole atom counts (2x2x5 for x = 0.05, 0.10, 0.15, 0.20).
    """
    x = float(x)
    _validate(x, disorder, li_placement, n_weights, n_configs, ewald_samples)
    ref_lat = load_reference("li2zrcl6_p3m1").lattice
    if supercell is None:
        supercell = choose_supercell(x, a or ref_lat.a, c or ref_lat.c, max_cells=max_cells)
    supercell = tuple(int(v) for v in supercell)
    if len(supercell) != 3 or min(supercell) < 1:
        raise InputError(f"supercell={supercell!r} must be three positive integers")
    n_cells = int(np.prod(supercell))
    if not _is_whole(3 * n_cells * x):
        reach = ", ".join(f"{v:g}" for v in reachable_x(n_cells))
        raise InputError(
            f"x={x:g} gives {3 * n_cells * x:g} N atoms in the {n_cells}-cell supercell "
            f"{supercell}; whole counts need x in {{{reach}}}"
        )
    n_n = round(3 * n_cells * x)
    counts = apportion(n_n, n_weights)
    t = _template(supercell, a, c)
    rng = np.random.default_rng(seed)
    need_m = li_placement == "ewald" or ewald_samples > 0
    m = ewald_matrix(t.lattice, t.frac) if need_m and (n_n or ewald_samples) else None
    draws = max(ewald_samples, n_configs)
    samples: list[tuple[float, np.ndarray]] = []
    seen: set[tuple] = set()
    for _ in range(draws if ewald_samples else 100 * n_configs):
        occ = _dope(_order_cations(t, disorder, rng), t, counts, rng, n_min_distance_A)
        occ = _place_li(occ, 2 * n_n, t, m if li_placement == "ewald" else None, rng)
        key = tuple(occ)
        if key in seen:
            continue
        seen.add(key)
        samples.append((_energy(occ, m) if m is not None else float("nan"), occ))
        if not ewald_samples and len(samples) == n_configs:
            break
    if ewald_samples:
        samples.sort(key=lambda s: s[0])
    if len(samples) < n_configs:
        raise InputError(
            f"only {len(samples)} distinct configurations exist for x={x:g} in {supercell}; "
            f"ask for n_configs <= {len(samples)} or a larger supercell"
        )
    results = []
    for rank, (energy, occ) in enumerate(samples[:n_configs]):
        s = _to_structure(occ, t)
        meta = {
            "system": "li2zrcl6",
            "x": x,
            "formula_target": f"Li{2 + 2 * x:g}ZrCl{6 - x:g}N{x:g}",
            "supercell": list(supercell),
            "n_cells": n_cells,
            "seed": seed,
            "config_index": rank,
            "disorder": disorder,
            "li_placement": li_placement,
            "n_min_distance_A": n_min_distance_A,
            "ewald_samples": ewald_samples,
            "ewald_energy_eV": None if np.isnan(energy) else energy,
            "n_N": n_n,
            "n_N_per_site": dict(zip(("Cl1", "Cl2", "Cl3"), counts, strict=True)),
            "n_weights_percent": list(n_weights),
            "n_extra_li": 2 * n_n,
            "lattice": {"a": t.lattice.a / supercell[0], "c": t.lattice.c / supercell[2]},
            "oxidation_states": OXIDATION_STATES,
            "reference": "li2zrcl6_p3m1 (cell A, sites C: Li3YCl6-type model)",
            "notes": (
                "Ideal hcp anions and unrelaxed cations: relax (MLIP or DFT) before MD. Which 6i "
                "site the paper calls Cl1/Cl2/Cl3 is not stated; the labels follow structures.md. "
                "x = 0.15 refined cell: a = 11.145, c = 6.042 Å (pass a, c to use it). Extra Li "
                "sit in octahedral holes that share faces (2.98 Å) with the cations above and "
                "below (checks.defects.extra_li_face_sharing): relaxation moves them."
            ),
        }
        results.append(BuildResult(s, meta, _checks(s, x, n_cells, n_n, counts)))
    return results


def build_li2zrcl6(x: float = 0.15, **kwargs) -> BuildResult:
    """One ordered Li(2+2x)ZrCl(6-x)N(x) supercell; see :func:`build_li2zrcl6_ensemble`."""
    kwargs.pop("n_configs", None)
    return build_li2zrcl6_ensemble(x, n_configs=1, **kwargs)[0]


def _checks(s: Structure, x: float, n_cells: int, n_n: int, counts: list[int]) -> dict:
    expected = {"Li": 6 * n_cells + 2 * n_n, "Zr": 3 * n_cells, "Cl": 18 * n_cells - n_n}
    if n_n:
        expected["N"] = n_n
    labels = s.site_properties["site_label"]
    on_site = {lab: sum(1 for v in labels if v == f"N:{lab}") for lab in ("Cl1", "Cl2", "Cl3")}
    anions = Structure(
        s.lattice,
        ["Cl"] * sum(1 for site in s if site.specie.symbol in ("Cl", "N")),
        [site.frac_coords for site in s if site.specie.symbol in ("Cl", "N")],
    ).get_primitive_structure()
    return {
        "composition": checks.check_composition(s, expected),
        "ratio": checks.check_ratio(
            s, {"Li": 2 + 2 * x, "Zr": 1.0, "Cl": 6 - x, "N": x}, per="Zr", tol=1e-9
        ),
        "charge": checks.check_charge(s, OXIDATION_STATES),
        "distances": checks.check_min_distances(s),
        "symmetry": checks.check_symmetry(s),
        "anion_framework": checks.check_symmetry(anions, expected=194, what="Cl+N sublattice"),
        "defects": {
            "ok": on_site == dict(zip(on_site, counts, strict=True))
            and sum(1 for v in labels if v == "Li:extra") == 2 * n_n,
            "n_N": n_n,
            "n_N_per_site": on_site,
            "n_extra_li": sum(1 for v in labels if v == "Li:extra"),
            "extra_li_face_sharing": _face_sharing(s, labels),
        },
    }


def _face_sharing(s: Structure, labels: list[str], cutoff: float = 3.2) -> dict[str, int]:
    """Cations that share an octahedral face (c/2 = 2.98 Å) with an extra Li, by element.

    Every column of holes along c alternates cation/vacancy, so each vacant hole has two
    face-sharing cations; the Ewald placement keeps Zr out of them where it can.
    """
    extra = [i for i, v in enumerate(labels) if v == "Li:extra"]
    out = {"Li": 0, "Zr": 0}
    if not extra:
        return out
    cations = [i for i, site in enumerate(s) if site.specie.symbol in out]
    d = s.lattice.get_all_distances(s.frac_coords[extra], s.frac_coords[cations])
    for row in d:
        for j in np.flatnonzero((row > 1e-6) & (row < cutoff)):
            out[s[cations[j]].specie.symbol] += 1
    return out
