"""Random A7 BiSnSb alloys, orthogonal slabs with dislocations, a K slab on top, and controls.

The alloy is R-3m with one 6c site (0, 0, z) shared by Bi, Sn and Sb (1:1:1 by default),
a = 4.4073, c = 11.7094 Å for the metastable M-BiSnSb (catalogue ``bisnsb_m``), z = 0.2337
(assumed). Species are dealt onto sites in exact counts (largest remainder), shuffled by ``seed``.

Dislocations are basal (0001) ones with b = a·[100]hex = 1/3<2-1-10> (4.41 Å), the usual slip
system of A7 Bi and Sb. Both threading geometries run the line along the slab normal, so that
the core meets the top surface where the K slab sits:

* edge: line along <1-100> (−y of the orthogonal cell), b along x, glide plane (0001);
* screw: line and b along x = [100]hex, cut on (0001).

Cell axes (e1, e2, e3) are x, y, z of the output: e1 ∥ the in-plane direction of the glide
plane, e2 = the (0001) normal, e3 = line = slab normal. The cell is periodic in e1 and e2 and
holds a quadrupole of four cores (+b, −b on one glide plane, −b, +b on the plane L2/2 above),
whose plastic strains cancel, so the box stays orthogonal and identical to the control's. The
displacement is the anisotropic Volterra (Stroh) field summed over periodic images and made
periodic by removing the conditionally convergent linear term. Both dipoles sit at their
symmetric (zero-force) separation L1/2 but can glide towards each other and annihilate in long
MD: watch the Burgers circuit.

Elastic constants of BiSnSb are not known. The default (``elastic="bisb-mean"``) is the mean
of the Bi and Sb room-temperature constants (sources in :data:`elasticity.CIJ_SOURCES`,
values not re-checked: verify); ``"isotropic"`` uses their Voigt average. The sign of C14
relative to the A7 atom positions of this model has not been checked.
"""

from __future__ import annotations

import math

import numpy as np
from pymatgen.core import Lattice, Structure

from atomflow.errors import InputError
from atomflow.structures import checks, elasticity
from atomflow.structures.ordering import apportion
from atomflow.structures.reference import load_reference
from atomflow.structures.result import BuildResult

ELEMENTS = ("Bi", "Sn", "Sb")
PHASES = {"M": "bisnsb_m", "S": "bisnsb_s"}
Z_6C = 0.2337
DISLOCATIONS = ("edge", "screw", "none")
ELASTIC_CHOICES = ("bisb-mean", "bi", "sb", "isotropic")
K_ORIENTATIONS = ("auto", "001", "110")
DEFAULT_SIZE = {"edge": (10, 4, 3), "screw": (6, 4, 5)}
# frame axes (rows) in the orthogonal-cell coordinates x ∥ a_hex, y ∥ [120]hex, z ∥ c
FRAMES = {
    "edge": np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]]),
    "screw": np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]]),
}
HEX_LABELS = {
    "edge": {"line": "[-1-20] (<1-100>)", "burgers": "a[100] = 1/3[2-1-10]", "plane": "(0001)"},
    "screw": {"line": "[100] (<11-20>)", "burgers": "a[100] = 1/3[2-1-10]", "plane": "(0001)"},
}


def parse_ratio(ratio) -> dict[str, float]:
    """Bi:Sn:Sb fractions from a dict, a 3-sequence or ``"1:1:1"``-style string of fractions."""
    if isinstance(ratio, str):
        parts = [p for p in ratio.replace(",", ":").split(":") if p.strip()]
        try:
            ratio = [float(p) for p in parts]
        except ValueError:
            raise InputError(f"ratio={ratio!r}: give three numbers Bi:Sn:Sb") from None
    if isinstance(ratio, dict):
        unknown = set(ratio) - set(ELEMENTS)
        if unknown:
            raise InputError(f"ratio has unknown elements {sorted(unknown)}; allowed: Bi, Sn, Sb")
        ratio = [float(ratio.get(e, 0.0)) for e in ELEMENTS]
    vals = [float(v) for v in ratio]
    if len(vals) != 3 or min(vals) < 0:
        raise InputError(f"ratio={vals!r}: give three non-negative fractions Bi, Sn, Sb")
    total = sum(vals)
    if abs(total - 1.0) > 1e-3:
        if abs(total - round(total)) < 1e-9 and all(v == int(v) for v in vals) and total > 0:
            vals = [v / total for v in vals]  # "1:1:1" style integer ratios
        else:
            raise InputError(
                f"ratio Bi:Sn:Sb = {vals} sums to {total:g}; fractions must sum to 1 "
                "(e.g. 0.4:0.2:0.4), or give whole numbers such as 1:1:1"
            )
    return dict(zip(ELEMENTS, vals, strict=True))


def _cell(phase: str, a: float | None, c: float | None) -> tuple[float, float]:
    if phase not in PHASES:
        raise InputError(f"phase={phase!r}; choose one of {', '.join(PHASES)}")
    lat = load_reference(PHASES[phase]).lattice
    a, c = float(a or lat.a), float(c or lat.c)
    if not (3.5 < a < 5.5 and 9.0 < c < 14.0):
        raise InputError(f"a={a}, c={c} Å are outside the A7 range 3.5<a<5.5, 9<c<14 Å")
    return a, c


def _a7_hex(a: float, c: float, z: float = Z_6C) -> Structure:
    return Structure.from_spacegroup("R-3m", Lattice.hexagonal(a, c), ["Bi"], [[0, 0, z]])


def _decorate(n: int, fractions: dict[str, float], rng: np.random.Generator) -> list[str]:
    counts = apportion(n, [fractions[e] for e in ELEMENTS])
    species = [e for e, k in zip(ELEMENTS, counts, strict=True) for _ in range(k)]
    return [str(s) for s in rng.permutation(species)]


def _expected_counts(n: int, fractions: dict[str, float]) -> dict[str, int]:
    counts = apportion(n, [fractions[e] for e in ELEMENTS])
    return {e: k for e, k in zip(ELEMENTS, counts, strict=True) if k}


def build_bisnsb(
    ratio=(1 / 3, 1 / 3, 1 / 3),
    supercell: tuple[int, int, int] = (4, 4, 2),
    seed: int = 0,
    phase: str = "M",
    a: float | None = None,
    c: float | None = None,
) -> BuildResult:
    """Random A7 BiSnSb bulk supercell of the hexagonal cell (6 atoms each; default 192 atoms)."""
    fr = parse_ratio(ratio)
    a, c = _cell(phase, a, c)
    if len(supercell) != 3 or min(supercell) < 1:
        raise InputError(f"supercell={supercell!r} must be three positive integers")
    parent = _a7_hex(a, c) * tuple(int(v) for v in supercell)
    rng = np.random.default_rng(seed)
    s = Structure(parent.lattice, _decorate(len(parent), fr, rng), parent.frac_coords)
    meta = {
        "system": "bisnsb",
        "ratio": fr,
        "phase": phase,
        "a": a,
        "c": c,
        "z_6c": Z_6C,
        "supercell": list(supercell),
        "seed": seed,
        "reference": PHASES[phase],
    }
    chk = {
        "composition": checks.check_composition(s, _expected_counts(len(s), fr)),
        "charge": checks.check_charge(s, {e: 0 for e in ELEMENTS}),
        "distances": checks.check_min_distances(s),
        "parent_symmetry": checks.check_symmetry(parent, expected=166, what="undecorated A7"),
    }
    return BuildResult(s.get_sorted_structure(), meta, chk)


def _frame_unit(a: float, c: float, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Lengths (3,) and fractional coords (12, 3) of the A7 orthogonal cell in the frame."""
    hexs = _a7_hex(a, c)
    orth = hexs.copy()
    orth.make_supercell([[1, 0, 0], [1, 2, 0], [0, 0, 1]])
    lengths = np.array([a, math.sqrt(3) * a, c])
    frac = np.asarray(orth.frac_coords) % 1.0  # orthogonal metric: fractions are x, y, z / L
    rows = FRAMES[kind]
    perm = np.abs(rows).argmax(axis=1)
    sign = rows[np.arange(3), perm]
    f = frac[:, perm]
    f[:, sign < 0] = (1.0 - f[:, sign < 0]) % 1.0
    return lengths[perm], f


def _largest_gap_shift(u: np.ndarray) -> float:
    """Shift that puts the middle of the widest gap of fractions ``u`` at 0."""
    v = np.sort(u % 1.0)
    gaps = np.diff(np.concatenate([v, [v[0] + 1]]))
    k = int(np.argmax(gaps))
    return -(v[k] + gaps[k] / 2)


def _elastic(choice, rows: np.ndarray) -> tuple[np.ndarray | None, dict]:
    """Rotated stiffness tensor (None = isotropic) and a description for the metadata."""
    if isinstance(choice, dict):
        cij, label, src = dict(choice), "user", "given by the caller"
    elif choice in ("bisb-mean", "isotropic"):
        cij = {k: 0.5 * (elasticity.BI_CIJ[k] + elasticity.SB_CIJ[k]) for k in elasticity.BI_CIJ}
        label = choice
        src = "mean of Bi and Sb: " + "; ".join(elasticity.CIJ_SOURCES.values())
    elif choice in ("bi", "sb"):
        cij = dict(elasticity.BI_CIJ if choice == "bi" else elasticity.SB_CIJ)
        label, src = choice, elasticity.CIJ_SOURCES[choice.capitalize()]
    else:
        raise InputError(
            f"elastic={choice!r}; choose one of {', '.join(ELASTIC_CHOICES)} or a dict of "
            "C11, C12, C13, C14, C33, C44 in GPa"
        )
    voigt = elasticity.trigonal_voigt(**cij)
    info = {"model": label, "cij_GPa": cij, "source": src}
    if label == "isotropic":
        mu, nu = elasticity.voigt_average(voigt)
        info.update(shear_modulus_GPa=mu, poisson=nu, field="isotropic Volterra (Voigt average)")
        return None, info
    info["field"] = "anisotropic Volterra (Stroh), frame-rotated trigonal C_ijkl"
    info["note"] = "BiSnSb constants unknown; values not re-checked against the sources: verify"
    return elasticity.rotate_tensor(elasticity.voigt_to_tensor(voigt), rows), info


def _quadrupole_field(
    xy: np.ndarray,
    cores: list[tuple[float, float, int]],
    b: np.ndarray,
    lengths: np.ndarray,
    ctensor: np.ndarray | None,
    poisson: float,
    images: int = 6,
) -> np.ndarray:
    """Periodic displacement (n, 3) of signed cores, image-summed, linear term removed."""

    def single(x1, x2):
        if ctensor is None:
            return elasticity.isotropic_displacement(poisson, b, x1, x2)
        return elasticity.anisotropic_displacement(ctensor, b, x1, x2)

    def field(pts):
        u = np.zeros((len(pts), 3))
        for i in range(-images, images + 1):
            for j in range(-images, images + 1):
                for cx, cy, sgn in cores:
                    x1 = pts[:, 0] - cx - i * lengths[0]
                    x2 = pts[:, 1] - cy - j * lengths[1]
                    u += sgn * single(x1, x2)
        return u

    # probe the mismatch across the cell at a point away from every cut and core
    probe = np.array([[0.03 * lengths[0], 0.01 * lengths[1]]])
    u0 = field(probe)
    d1 = field(probe + np.array([lengths[0], 0.0])) - u0
    d2 = field(probe + np.array([0.0, lengths[1]])) - u0
    u = field(xy)
    return u - np.outer(xy[:, 0], d1[0] / lengths[0]) - np.outer(xy[:, 1], d2[0] / lengths[1])


def _k_block(orientation: str, a_k: float, lengths: np.ndarray, layers: int):
    """Fractional K positions (e1, e2 in [0,1); e3 in Å from 0), repeats and strains."""
    cands = []
    opts = {"001": [("001", a_k, a_k)], "110": [("110a", a_k, a_k * 2**0.5)]}
    opts["110"].append(("110b", a_k * 2**0.5, a_k))
    names = ("001", "110") if orientation == "auto" else (orientation,)
    for name in names:
        for tag, p1, p2 in opts[name]:
            m1 = max(1, round(lengths[0] / p1))
            m2 = max(1, round(lengths[1] / p2))
            s1, s2 = lengths[0] / (m1 * p1) - 1, lengths[1] / (m2 * p2) - 1
            cands.append((max(abs(s1), abs(s2)), tag, m1, m2, s1, s2))
    _, tag, m1, m2, s1, s2 = min(cands)
    if tag == "001":
        basis = [(0, 0, 0), (0.5, 0.5, 0.5)]
        spacing = a_k / 2
        normal = "[001]"
        inplane = "e1 ∥ [100], e2 ∥ [010]"
    else:
        basis = [(0, 0, 0), (0.5, 0, 0.5), (0, 0.5, 0.5), (0.5, 0.5, 0)]
        spacing = a_k / 2**0.5
        normal = "[110]"
        inplane = "e1 ∥ [001], e2 ∥ [1-10]" if tag == "110a" else "e1 ∥ [1-10], e2 ∥ [001]"
        if tag == "110b":
            basis = [(y, x, z) for x, y, z in basis]
    pts = []
    nz = math.ceil(layers / 2)
    for i in range(m1):
        for j in range(m2):
            for k in range(nz):
                for bx, by, bz in basis:
                    z = (k + bz) * 2 * spacing
                    if z < layers * spacing - 1e-6:
                        pts.append(((i + bx) / m1, (j + by) / m2, z))
    info = {
        "orientation": f"bcc K, surface normal {normal}, {inplane}",
        "repeats": [m1, m2],
        "strain_e1": s1,
        "strain_e2": s2,
        "layers": layers,
        "layer_spacing": spacing,
    }
    return np.array(pts), info


def build_bisnsb_slab(
    dislocation: str = "edge",
    control: bool = False,
    ratio=(1 / 3, 1 / 3, 1 / 3),
    size: tuple[int, int, int] | None = None,
    seed: int = 0,
    phase: str = "M",
    a: float | None = None,
    c: float | None = None,
    elastic="bisb-mean",
    k_layers: int = 4,
    gap: float = 3.0,
    vacuum: float = 15.0,
    k_orientation: str = "auto",
    k_lattice: float | None = None,
) -> BuildResult:
    """Orthogonal BiSnSb slab with a threading edge or screw dislocation quadrupole.

    ``size`` = repeats (n1, n2, n3) of the 12-atom orthogonal cell along e1, e2, e3 (n1, n2
    even). ``control=True`` returns the defect-free cell with the same atoms, species, box and
    K slab; ``dislocation="none"`` is the edge geometry without defect. ``k_layers`` atomic
    layers of bcc K (0: none) sit ``gap`` Å above the highest alloy atom, strained to the
    alloy's in-plane period in the orientation of least strain.
    """
    if dislocation not in DISLOCATIONS:
        raise InputError(f"dislocation={dislocation!r}; choose one of {', '.join(DISLOCATIONS)}")
    if gap < 0:
        raise InputError(f"gap={gap} Å must be >= 0")
    if vacuum < 0:
        raise InputError(f"vacuum={vacuum} Å must be >= 0")
    if k_layers < 0:
        raise InputError(f"k_layers={k_layers} must be >= 0")
    if k_orientation not in K_ORIENTATIONS:
        raise InputError(
            f"k_orientation={k_orientation!r}; choose one of {', '.join(K_ORIENTATIONS)}"
        )
    geometry = "edge" if dislocation == "none" else dislocation
    control = control or dislocation == "none"
    size = tuple(int(v) for v in (size or DEFAULT_SIZE[geometry]))
    if len(size) != 3 or size[0] < 2 or size[1] < 2 or size[2] < 1 or size[0] % 2 or size[1] % 2:
        raise InputError(
            f"size={size!r}: give (n1, n2, n3) with n1, n2 even and >= 2 (cores at L/4 and "
            "3L/4 on (0001) gaps), n3 >= 1"
        )
    fr = parse_ratio(ratio)
    a, c = _cell(phase, a, c)
    unit_len, unit_frac = _frame_unit(a, c, geometry)
    unit_frac[:, 2] = (unit_frac[:, 2] + _largest_gap_shift(unit_frac[:, 2])) % 1.0
    unit_frac[:, 1] = (unit_frac[:, 1] + _largest_gap_shift(unit_frac[:, 1])) % 1.0
    n = np.array(size)
    grid = np.array([(i, j, k) for i in range(n[0]) for j in range(n[1]) for k in range(n[2])])
    frac = ((grid[:, None, :] + unit_frac[None, :, :]) / n).reshape(-1, 3)
    lengths = unit_len * n
    ref_xyz = frac * lengths
    rng = np.random.default_rng(seed)
    species = _decorate(len(ref_xyz), fr, rng)

    # glide planes: the (0001) gap nearest L2/4, and the same gap L2/2 above; cores at L1/4
    e2_vals = np.sort(np.unique(np.round(unit_frac[:, 1] * unit_len[1], 4)))
    gaps = np.diff(np.concatenate([e2_vals, [e2_vals[0] + unit_len[1]]]))
    centres = (e2_vals + gaps / 2)[gaps > 0.8 * gaps.max()]
    all_centres = np.concatenate([centres + k * unit_len[1] for k in range(n[1])])
    y_a = float(all_centres[np.argmin(np.abs(all_centres - lengths[1] / 4))])
    near = np.abs(ref_xyz[:, 1] - y_a) < 3.0
    xs = ref_xyz[near, 0]
    trial = lengths[0] / 4 + np.linspace(-unit_len[0] / 2, unit_len[0] / 2, 61)
    dist = [np.min(np.abs((xs - t + lengths[0] / 2) % lengths[0] - lengths[0] / 2)) for t in trial]
    x_a = float(trial[int(np.argmax(dist))])
    half1, half2 = lengths[0] / 2, lengths[1] / 2
    cores = [(x_a, y_a, 1), (x_a + half1, y_a, -1), (x_a, y_a + half2, -1)]
    cores.append((x_a + half1, y_a + half2, 1))

    b_frame = np.array([a, 0.0, 0.0]) if geometry == "edge" else np.array([0.0, 0.0, a])
    ctensor, elastic_info = _elastic(elastic, FRAMES[geometry])
    poisson = elastic_info.get("poisson", 0.3)
    u = _quadrupole_field(ref_xyz[:, :2], cores, b_frame, lengths, ctensor, poisson)
    alloy_xyz = ref_xyz if control else ref_xyz + u

    # slab along e3: alloy from z0 up, then gap, K, vacuum; identical box for the control
    z0 = 1.0 - min(ref_xyz[:, 2].min(), (ref_xyz + u)[:, 2].min())
    top = z0 + max(ref_xyz[:, 2].max(), (ref_xyz + u)[:, 2].max())
    a_k = float(k_lattice or load_reference("k_bcc").lattice.a)
    k_info = None
    lift = np.array([0.0, 0.0, z0])
    pos = [alloy_xyz + lift]
    labels = list(species)
    if k_layers:
        kfrac, k_info = _k_block(k_orientation, a_k, lengths, k_layers)
        kxyz = kfrac.copy()
        kxyz[:, 0] *= lengths[0]
        kxyz[:, 1] *= lengths[1]
        kxyz[:, 2] += top + gap
        pos.append(kxyz)
        labels += ["K"] * len(kxyz)
        height = kxyz[:, 2].max() + vacuum
        k_info.update(gap=gap, lattice_a=a_k, n_atoms=len(kxyz))
    else:
        height = top + vacuum
    box = Lattice.orthorhombic(lengths[0], lengths[1], height)
    s = Structure(box, labels, np.vstack(pos), coords_are_cartesian=True)
    ref_s = Structure(box, labels, np.vstack([ref_xyz + lift, *pos[1:]]), coords_are_cartesian=True)

    burgers = [(cx, cy, sg * b_frame) for cx, cy, sg in cores]
    meta = {
        "system": "bisnsb-slab",
        "dislocation": "none" if control else geometry,
        "geometry": geometry,
        "control": control,
        "ratio": fr,
        "phase": phase,
        "a": a,
        "c": c,
        "size": list(size),
        "seed": seed,
        "n_alloy": len(ref_xyz),
        "frame": {
            "e1": "x of the cell",
            "e2": "y of the cell = (0001) normal",
            "e3": "z of the cell = line direction = slab normal",
            "axes_in_orthogonal_A7_cell": FRAMES[geometry].tolist(),
        },
        "line_direction": [0.0, 0.0, 1.0],
        "line_direction_hex": HEX_LABELS[geometry]["line"],
        "burgers_vector_hex": HEX_LABELS[geometry]["burgers"],
        "glide_plane_hex": HEX_LABELS[geometry]["plane"],
        "cores": [
            {"x": cx, "y": cy, "burgers_vector": (bv if not control else 0 * bv).tolist()}
            for cx, cy, bv in burgers
        ],
        "burgers_magnitude": a,
        "elastic": elastic_info,
        "k_slab": k_info,
        "vacuum": vacuum,
        "alloy_z_range": [float(z0), float(top)],
        "notes": (
            "Threading dislocations end on the free surfaces (no image correction for them); "
            "the Volterra field is unrelaxed: minimise before MD. Sites and z of BiSnSb are "
            "assumed (catalogue confidence C)."
        ),
    }
    chk = {
        "composition": checks.check_composition(
            s,
            {
                **_expected_counts(len(ref_xyz), fr),
                **({"K": len(labels) - len(ref_xyz)} if k_layers else {}),
            },
        ),
        "charge": checks.check_charge(s, {e: 0 for e in (*ELEMENTS, "K")}),
        "distances": checks.check_min_distances(s),
        "parent_symmetry": checks.check_symmetry(
            Structure(Lattice.orthorhombic(*unit_len), ["Bi"] * len(unit_frac), unit_frac),
            expected=166,
            what="undecorated orthogonal A7 cell",
        ),
        "dislocation": check_dislocations(s, ref_s, meta, expect_defect=not control),
    }
    return BuildResult(s, meta, chk)


def check_dislocations(
    deformed: Structure, reference: Structure, meta: dict, expect_defect: bool = True
) -> dict:
    """Burgers circuits (FS/RH) around each core and around one whole dipole.

    ``ok`` when each single-core closure equals the core's Burgers vector within 0.3 Å (zero
    for a control) and the dipole circuit closes (zero net Burgers vector).
    """
    z0, top = meta["alloy_z_range"]
    mid = 0.5 * (z0 + top)
    period = min(meta["a"] * (3**0.5 if meta["geometry"] == "edge" else 1.0), top - z0)
    window = (mid - period / 2, mid + period / 2)
    lx, ly = deformed.lattice.abc[:2]
    hw = 0.28 * min(lx, ly)
    out = {"cores": [], "tolerance": 0.3}
    ok = True
    for core in meta["cores"]:
        res = checks.burgers_circuit(deformed, reference, (core["x"], core["y"]), hw, window)
        want = np.array(core["burgers_vector"]) if expect_defect else np.zeros(3)
        err = float(np.linalg.norm(np.array(res["burgers_vector"]) - want))
        ok &= err < 0.3
        out["cores"].append({**res, "expected": want.tolist(), "error": round(err, 4)})
    c0, c1 = meta["cores"][0], meta["cores"][1]
    centre = (0.5 * (c0["x"] + c1["x"]), c0["y"])
    dip = checks.burgers_circuit(deformed, reference, centre, (0.45 * lx, 0.2 * ly), window)
    out["dipole_circuit"] = dip
    ok &= float(np.linalg.norm(dip["burgers_vector"])) < 0.3
    out["ok"] = bool(ok)
    out["loop_half_width"] = hw
    return out
