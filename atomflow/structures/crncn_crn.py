"""Cr2(NCN)3 / CrN coherent interface, optionally with Li interstitials.

Bulk phases: Cr2(NCN)3, an idealised corundum-type R-3c model with linear NCN units along c
(catalogue ``cr2ncn3``, confidence C), and rock-salt CrN, a = 4.148 Å (``crn_rocksalt``, B).
Default match: Cr2(NCN)3 (001) on CrN (111), both built on close-packed Cr layers; the 2x2
film cell (2a = 10.60 Å) on the √13x√13 R13.9° cell of CrN (111) (√13·2.933 = 10.575 Å),
common cell 10.588 Å, 97.1 Å², Green-Lagrange strain 0.12 % on each side (mismatch shared).
The seed paper reports the phases only (CSD 421391 and 37412), no orientation relationship.
"""

from __future__ import annotations

from pymatgen.core import Structure

from atomflow.structures import checks
from atomflow.structures.heterostructure import interface_checks, interface_with_li
from atomflow.structures.reference import load_reference
from atomflow.structures.result import BuildResult

OXIDATION_STATES = {"Cr": 3, "C": 4, "N": -3}


def bulk_cr2ncn3() -> Structure:
    """Conventional hexagonal cell of the Cr2(NCN)3 model (Cr12 C18 N36)."""
    return load_reference("cr2ncn3")


def bulk_crn() -> Structure:
    """Conventional rock-salt CrN cell (Cr4 N4)."""
    return load_reference("crn_rocksalt")


def build_crncn_crn(
    n_li: int = 0,
    li_region: str = "interface",
    li_window: float = 3.0,
    li_selection: str = "largest",
    li_margin: float = 1.0,
    seed: int = 0,
    film_miller: tuple[int, int, int] = (0, 0, 1),
    substrate_miller: tuple[int, int, int] = (1, 1, 1),
    termination: int = 0,
    match: int | None = None,
    film_share: float = 0.5,
    film_thickness: int = 1,
    substrate_thickness: int = 6,
    gap: float = 2.5,
    vacuum: float | None = None,
    inplane_repeat: tuple[int, int] = (1, 1),
    max_strain: float = 0.03,
) -> BuildResult:
    """Cr2(NCN)3 (film) on CrN (substrate) with ``n_li`` Li near the interface or in a bulk.

    ``li_region``: ``interface`` (within ``li_window`` Å of the interface plane), ``film``
    (Cr2(NCN)3 bulk) or ``substrate`` (CrN bulk). Thicknesses are in layers of the slab
    generator (one layer of Cr2(NCN)3 (001) = c = 28.3 Å; of CrN (111) = 2.39 Å).
    """
    s, meta, film_counts, sub_counts, host, li = interface_with_li(
        bulk_crn(),
        bulk_cr2ncn3(),
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
        system="crncn-crn",
        film="Cr2(NCN)3 R-3c (cr2ncn3, confidence C)",
        substrate="CrN Fm-3m (crn_rocksalt, confidence B)",
        film_counts=film_counts,
        substrate_counts=sub_counts,
        li=li,
        seed=seed,
        oxidation_states=OXIDATION_STATES,
        notes="Idealised Cr2(NCN)3 (untilted NCN, Cr z = 1/3): relax (DFT+U, ferromagnetic) "
        "or with an ML potential before MD.",
    )
    chk = interface_checks(s, meta, host, OXIDATION_STATES, max_strain)
    chk["stoichiometry"] = _stoich(film_counts, sub_counts)
    chk["ncn_units"] = checks.ncn_units(s)
    chk["bulk_symmetry"] = {
        "film": checks.check_symmetry(bulk_cr2ncn3(), expected=167, what="Cr2(NCN)3 bulk"),
        "substrate": checks.check_symmetry(bulk_crn(), expected=225, what="CrN bulk"),
    }
    chk["bulk_symmetry"]["ok"] = all(v["ok"] for v in chk["bulk_symmetry"].values())
    return BuildResult(s, meta, chk)


def _stoich(film: dict[str, int], sub: dict[str, int]) -> dict:
    cr, c, n = film.get("Cr", 0), film.get("C", 0), film.get("N", 0)
    film_ok = cr > 0 and 3 * cr == 2 * c and n == 2 * c
    sub_ok = sub.get("Cr", 0) == sub.get("N", 0) > 0 and set(sub) == {"Cr", "N"}
    return {
        "ok": film_ok and sub_ok,
        "film": film,
        "substrate": sub,
        "film_formula_units": cr / 2,
        "substrate_formula_units": sub.get("Cr", 0),
    }
