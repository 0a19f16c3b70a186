"""Small ordering helpers shared by the builders: whole counts and Ewald pair matrices."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice, Species, Structure
from pymatgen.core.ewald import EwaldSummation


def apportion(total: int, weights) -> list[int]:
    """Split ``total`` into whole counts proportional to ``weights`` (largest remainder)."""
    w = np.asarray(weights, float)
    raw = total * w / w.sum()
    out = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - out), kind="stable")[: total - out.sum()]:
        out[i] += 1
    return out.tolist()


def ewald_matrix(lattice: Lattice, frac: np.ndarray) -> np.ndarray:
    """Unit-charge Ewald pair matrix (eV) over sites ``frac``: E = qᵀ M q for neutral q."""
    s = Structure(lattice, [Species("Li", 1)] * len(frac), frac)
    ew = EwaldSummation(s, w=1 / np.sqrt(2))
    m = ew.real_space_energy_matrix + ew.reciprocal_space_energy_matrix
    m = 0.5 * (m + m.T)
    m[np.diag_indices_from(m)] += np.ravel(ew.point_energy_matrix)  # the self term is a vector
    return m
