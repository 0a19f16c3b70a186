"""γ-Mo2N / δ-WN coherent interface, optionally with Li interstitials.

γ-Mo2N (catalogue ``mo2n_gamma``, Fm-3m, a = 4.163 Å) has N on half of the octahedral holes
of fcc Mo at random. :func:`ordered_mo2n` orders them: all 70 ways of filling 4 of the 8 holes
of the 1x1x2 conventional cell are ranked by Ewald energy (Mo +1.5, N −3), and the lowest is
kept; spglib finds I4₁/amd, the β-Mo2N (γ-LiFeO2-type) ordering, with the cubic metric.
δ-WN (``wn_delta``) is WC-type P-6m2, a = 2.893, c = 2.826 Å. Default match: Mo2N {111}
(Miller (1, 1, 2) of the doubled cell) on WN (001); the close-packed Mo layer (2.944 Å) on the
W layer (2.893 Å) differs by 1.8 %. The seed paper gives no orientation relationship.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from pymatgen.core import Lattice, Structure

from atomflow.structures import checks
from atomflow.structures.heterostructure import interface_checks, interface_with_li
from atomflow.structures.ordering import ewald_matrix
from atomflow.structures.reference import load_reference
from atomflow.structures.result import BuildResult

OXIDATION_STATES = {"Mo": 1.5, "W": 3, "N": -3}


def ordered_mo2n(a: float | None = None) -> tuple[Structure, dict]:
    """Lowest-Ewald ordering of γ-Mo2N in the 1x1x2 conventional cell (Mo8 N4)."""
    ref = load_reference("mo2n_gamma")
    a = float(a or ref.lattice.a)
    mo = [s.frac_coords for s in ref if s.species.get("Mo", 0) > 0]
    n = [s.frac_coords for s in ref if s.species.get("N", 0) > 0]
    mo2 = [(f + np.array([0, 0, k])) / [1, 1, 2] for k in (0, 1) for f in mo]
    n2 = [(f + np.array([0, 0, k])) / [1, 1, 2] for k in (0, 1) for f in n]
    lat = Lattice.tetragonal(a, 2 * a)
    m = ewald_matrix(lat, np.array(mo2 + n2))
    nm = len(mo2)
    energies = []
    for pick in combinations(range(len(n2)), len(n2) // 2):
        q = np.zeros(nm + len(n2))
        q[:nm] = OXIDATION_STATES["Mo"]
        q[[nm + i for i in pick]] = OXIDATION_STATES["N"]
        energies.append((float(q @ m @ q), pick))
    energies.sort()
    e0, best = energies[0]
    s = Structure(lat, ["Mo"] * nm + ["N"] * len(best), mo2 + [n2[i] for i in best])
    info = {
        "orderings": len(energies),
        "degenerate_lowest": sum(1 for e, _ in energies if abs(e - e0) < 1e-6),
        "ewald_energy_eV_per_Mo2N": e0 / (nm // 2),
        "space_group": checks.space_group(s)[0],
    }
    return s, info


def build_mo2n(a: float | None = None, supercell: tuple[int, int, int] = (1, 1, 1)) -> BuildResult:
    """Ordered γ-Mo2N bulk (the lowest-Ewald N ordering), repeated ``supercell`` times: a
    parent for fits and bulk runs, where the catalogue's cell has N at half occupancy."""
    s, info = ordered_mo2n(a)
    s = s * tuple(int(v) for v in supercell)
    meta = {"system": "mo2n", "reference": "mo2n_gamma", "supercell": list(supercell), **info}
    return BuildResult(s, meta, {"ordered": {"ok": s.is_ordered}})


def bulk_wn() -> Structure:
    """δ-WN unit cell (W1 N1)."""
    return load_reference("wn_delta")


def build_mo2n_wn(
    n_li: int = 0,
    li_region: str = "interface",
    li_window: float = 3.0,
    li_selection: str = "largest",
    li_margin: float = 1.0,
    seed: int = 0,
    film_miller: tuple[int, int, int] = (1, 1, 2),
    substrate_miller: tuple[int, int, int] = (0, 0, 1),
    termination: int = 0,
    match: int | None = None,
    film_share: float = 0.5,
    film_thickness: int = 6,
    substrate_thickness: int = 6,
    gap: float = 2.5,
    vacuum: float | None = None,
    inplane_repeat: tuple[int, int] = (3, 3),
    max_strain: float = 0.03,
) -> BuildResult:
    """Ordered γ-Mo2N (film) on δ-WN (substrate) with ``n_li`` Li near the interface or in a
    bulk (``li_region``: interface, film = Mo2N, substrate = WN)."""
    mo2n, order_info = ordered_mo2n()
    s, meta, film_counts, sub_counts, host, li = interface_with_li(
        bulk_wn(),
        mo2n,
        substrate_miller,
        film_miller,
        n_li=n_li,
        li_region=li_region,
        li_window=li_window,
        li_selection=li_selection,
        li_margin=li_margin,
        seed=seed,
        termination=termination,
        match=match,
        film_share=film_share,
        substrate_thickness=substrate_thickness,
        film_thickness=film_thickness,
        gap=gap,
        vacuum=vacuum,
        max_strain=max_strain,
        inplane_repeat=inplane_repeat,
    )
    meta.update(
        system="mo2n-wn",
        film="γ-Mo2N, N ordered by Ewald energy (mo2n_gamma, confidence B)",
        substrate="δ-WN P-6m2 (wn_delta, confidence B)",
        mo2n_ordering=order_info,
        film_counts=film_counts,
        substrate_counts=sub_counts,
        li=li,
        seed=seed,
        oxidation_states=OXIDATION_STATES,
        notes="Ideal positions (unrelaxed): relax before MD.",
    )
    chk = interface_checks(s, meta, host, OXIDATION_STATES, max_strain)
    fm, fn = film_counts.get("Mo", 0), film_counts.get("N", 0)
    sw, sn = sub_counts.get("W", 0), sub_counts.get("N", 0)
    chk["stoichiometry"] = {
        "ok": fm == 2 * fn > 0 and sw == sn > 0,
        "film": film_counts,
        "substrate": sub_counts,
    }
    chk["bulk_symmetry"] = {
        "film": checks.check_symmetry(mo2n, expected=141, what="ordered γ-Mo2N"),
        "substrate": checks.check_symmetry(bulk_wn(), expected=187, what="δ-WN"),
    }
    chk["bulk_symmetry"]["ok"] = all(v["ok"] for v in chk["bulk_symmetry"].values())
    return BuildResult(s, meta, chk)
