"""α-Li3N supercells, optionally with Li vacancies (charge-compensated by a uniform background)."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from atomflow.structures import checks
from atomflow.structures.reference import load_reference
from atomflow.structures.result import BuildResult


def build_li3n(
    supercell: tuple[int, int, int] = (3, 3, 3),
    li_vacancies: int = 0,
    seed: int = 0,
    a: float | None = None,
    c: float | None = None,
) -> Structure:
    """Return an α-Li3N (P6/mmm) supercell.

    ``li_vacancies`` Li atoms are removed at random (reproducible from ``seed``) so that
    vacancy-mediated diffusion is visible in short MD. ``a`` and ``c`` rescale the cell,
    for example to start MD from a potential's own lattice constants.
    """
    if any(int(n) < 1 for n in supercell):
        raise ValueError(f"supercell must be three positive integers, got {supercell!r}")
    if li_vacancies < 0:
        raise ValueError(f"li_vacancies must be >= 0, got {li_vacancies}")
    unit = load_reference("li3n_alpha")
    if a is not None or c is not None:
        lat = unit.lattice
        unit = Structure(
            lat.from_parameters(a or lat.a, a or lat.b, c or lat.c, 90, 90, 120),
            unit.species,
            unit.frac_coords,
        )
    cell = unit * tuple(int(n) for n in supercell)
    li_sites = [i for i, site in enumerate(cell) if site.specie.symbol == "Li"]
    if li_vacancies > len(li_sites):
        raise ValueError(f"li_vacancies={li_vacancies} exceeds the {len(li_sites)} Li sites")
    if li_vacancies:
        rng = np.random.default_rng(seed)
        cell.remove_sites(sorted(rng.choice(li_sites, size=li_vacancies, replace=False)))
    return cell.get_sorted_structure()


OXIDATION_STATES = {"Li": 1, "N": -3}


def build_li3n_result(
    supercell: tuple[int, int, int] = (3, 3, 3),
    li_vacancies: int = 0,
    seed: int = 0,
    a: float | None = None,
    c: float | None = None,
) -> BuildResult:
    """:func:`build_li3n` with metadata and checks (vacancies leave a -1 charge each, which the
    MD compensates with a uniform background)."""
    s = build_li3n(supercell, li_vacancies, seed, a, c)
    n_cells = int(np.prod(supercell))
    s.add_site_property("charge", [float(OXIDATION_STATES[x.specie.symbol]) for x in s])
    meta = {
        "system": "li3n",
        "supercell": [int(v) for v in supercell],
        "li_vacancies": li_vacancies,
        "seed": seed,
        "lattice": {"a": s.lattice.a / supercell[0], "c": s.lattice.c / supercell[2]},
        "oxidation_states": OXIDATION_STATES,
        "reference": "li3n_alpha (confidence A)",
    }
    chk = {
        "composition": checks.check_composition(
            s, {"Li": 3 * n_cells - li_vacancies, "N": n_cells}
        ),
        "charge": checks.check_charge(
            s,
            OXIDATION_STATES,
            compensation=-float(li_vacancies),
            note="uniform neutralising background for the removed Li+",
        ),
        "distances": checks.check_min_distances(s),
        "symmetry": checks.check_symmetry(
            s, expected=191 if li_vacancies == 0 else None, what="supercell"
        ),
        "vacancies": {"ok": True, "n_vacancies": li_vacancies},
    }
    return BuildResult(s, meta, chk)
