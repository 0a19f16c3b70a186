"""Elastic fields of straight dislocations: anisotropic Volterra (Stroh) and isotropic.

Frame: the line is along x3, fields depend on (x1, x2). Stroh's sextic problem
``[Q + p(R + Rᵀ) + p²T] a = 0`` with ``Q_ik = C_i1k1``, ``R_ik = C_i1k2``, ``T_ik = C_i2k2``
has three roots with Im p > 0; with ``L = (Rᵀ + pT) a`` normalised so that ``2 a·L = 1``,

    u(x) = (1/π) Im Σ_α a_α (L_α·b) ln(x1 + p_α x2)

(Hirth & Lothe, *Theory of Dislocations*, ch. 13; Ting, *Anisotropic Elasticity*, 1996).
The branch cut of every log lies on x2 = 0, x1 < 0, and u grows by exactly b on a
counter-clockwise loop. The isotropic formulas (Hirth & Lothe eqs. 3-45, 3-46) use the
same convention. Elastic constants are in GPa (only ratios matter for displacements).
"""

from __future__ import annotations

import numpy as np

_VOIGT = {(0, 0): 0, (1, 1): 1, (2, 2): 2, (1, 2): 3, (2, 1): 3, (0, 2): 4, (2, 0): 4}
_VOIGT.update({(0, 1): 5, (1, 0): 5})

# Room-temperature single-crystal constants (GPa) in the standard trigonal frame
# (x along a binary axis = hexagonal a, z along c). Values recalled from the literature
# and not re-checked against the papers here: verify before publishing numbers from them.
BI_CIJ = {"C11": 63.5, "C12": 24.7, "C13": 24.5, "C14": 7.23, "C33": 38.1, "C44": 11.3}
SB_CIJ = {"C11": 99.4, "C12": 30.9, "C13": 26.4, "C14": 21.6, "C33": 44.5, "C44": 39.5}
CIJ_SOURCES = {
    "Bi": "Y. Eckstein, A. W. Lawson, D. H. Reneker, J. Appl. Phys. 31, 1534 (1960)",
    "Sb": "S. Epstein, A. P. de Bretteville, Phys. Rev. 138, A771 (1965)",
}


def trigonal_voigt(C11, C12, C13, C14, C33, C44) -> np.ndarray:
    """6x6 Voigt matrix of a -3m crystal (x along a two-fold axis)."""
    C66 = 0.5 * (C11 - C12)
    return np.array(
        [
            [C11, C12, C13, C14, 0, 0],
            [C12, C11, C13, -C14, 0, 0],
            [C13, C13, C33, 0, 0, 0],
            [C14, -C14, 0, C44, 0, 0],
            [0, 0, 0, 0, C44, C14],
            [0, 0, 0, 0, C14, C66],
        ],
        float,
    )


def isotropic_voigt(shear_modulus: float, poisson: float) -> np.ndarray:
    """6x6 Voigt matrix of an isotropic solid."""
    mu, nu = shear_modulus, poisson
    lam = 2 * mu * nu / (1 - 2 * nu)
    c = np.zeros((6, 6))
    c[:3, :3] = lam
    c[[0, 1, 2], [0, 1, 2]] = lam + 2 * mu
    c[[3, 4, 5], [3, 4, 5]] = mu
    return c


def voigt_average(voigt: np.ndarray) -> tuple[float, float]:
    """Voigt-average shear modulus and Poisson ratio (for the isotropic fallback)."""
    c = voigt
    k = (c[0, 0] + c[1, 1] + c[2, 2] + 2 * (c[0, 1] + c[1, 2] + c[0, 2])) / 9
    g = (c[0, 0] + c[1, 1] + c[2, 2] - c[0, 1] - c[1, 2] - c[0, 2]) / 15 + (
        c[3, 3] + c[4, 4] + c[5, 5]
    ) / 5
    nu = (3 * k - 2 * g) / (2 * (3 * k + g))
    return float(g), float(nu)


def voigt_to_tensor(voigt: np.ndarray) -> np.ndarray:
    """Full C_ijkl from a 6x6 Voigt matrix."""
    c = np.zeros((3, 3, 3, 3))
    for (i, j), p in _VOIGT.items():
        for (k, m), q in _VOIGT.items():
            c[i, j, k, m] = voigt[p, q]
    return c


def rotate_tensor(c: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """C in a new frame whose axes are the rows of ``rows`` (in old coordinates)."""
    r = np.asarray(rows, float)
    return np.einsum("ia,jb,kc,ld,abcd->ijkl", r, r, r, r, c)


def stroh(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Roots p (3,), vectors A (3, 3) and L (3, 3) (columns per root), normalised 2 a·L = 1."""
    q = c[:, 0, :, 0]
    r = c[:, 0, :, 1]
    t = c[:, 1, :, 1]
    ti = np.linalg.inv(t)
    n = np.block([[-ti @ r.T, ti], [r @ ti @ r.T - q, -r @ ti]])
    vals, vecs = np.linalg.eig(n)
    keep = np.argsort(-vals.imag)[:3]
    p = vals[keep]
    if np.min(p.imag) <= 1e-9:
        raise ValueError("Stroh roots must be complex: the elastic constants are not stable")
    a, ell = vecs[:3, keep], vecs[3:, keep]
    norm = np.sqrt(2 * np.einsum("ia,ia->a", a, ell))
    a, ell = a / norm, ell / norm
    if np.min(np.abs(np.linalg.svd(a, compute_uv=False))) < 1e-6:
        raise ValueError("degenerate Stroh roots (nearly isotropic): use the isotropic field")
    return p, a, ell


def anisotropic_displacement(
    c: np.ndarray, burgers: np.ndarray, x1: np.ndarray, x2: np.ndarray
) -> np.ndarray:
    """Volterra displacement (n, 3) of a straight dislocation along x3 through the origin."""
    p, a, ell = stroh(c)
    coef = a * (ell.T @ np.asarray(burgers, float))[None, :]  # (3, roots)
    eta = np.asarray(x1)[:, None] + p[None, :] * np.asarray(x2)[:, None]
    return (np.log(eta) @ coef.T).imag / np.pi


def isotropic_displacement(
    poisson: float, burgers: np.ndarray, x1: np.ndarray, x2: np.ndarray
) -> np.ndarray:
    """Isotropic Volterra displacement (n, 3); b along x1 (edge) and x3 (screw) only."""
    b1, b2, b3 = np.asarray(burgers, float)
    if abs(b2) > 1e-12:
        raise ValueError("isotropic field: put the edge component of b along x1")
    nu = poisson
    r2 = np.maximum(x1**2 + x2**2, 1e-12)
    theta = np.arctan2(x2, x1)
    u = np.zeros((len(x1), 3))
    u[:, 0] = b1 / (2 * np.pi) * (theta + x1 * x2 / (2 * (1 - nu) * r2))
    u[:, 1] = (
        -b1
        / (2 * np.pi)
        * ((1 - 2 * nu) / (4 * (1 - nu)) * np.log(r2) + (x1**2 - x2**2) / (4 * (1 - nu) * r2))
    )
    u[:, 2] = b3 / (2 * np.pi) * theta
    return u
