"""Quasi-harmonic lattice parameters: volume scan, phonons per volume, phonopy's QHA.

Volume scan
-----------
The cell is relaxed at a set of hydrostatic pressures chosen to give volume strains
``strains`` around the static minimum (``fix box/relax`` keeping the cell's shape class, see
:func:`~atomflow.phonons.harmonic.relax_mode`). At a fixed pressure the relaxed shape
minimises E + PV, so for each volume reached the cell shape (c/a, internal positions) is the
one that minimises the static energy at that volume: exactly the constrained relaxation QHA
needs for non-cubic cells. Pressures come from a Murnaghan estimate (B' = 4) with B from two
relaxations (0 and +1 GPa); the volumes actually reached are what enter the fit.

Quantum and classical
---------------------
Phonopy's QHA (:func:`phonopy.qha.qha.run_qha`) uses Bose-Einstein statistics, so the free
energy contains the zero-point energy, whose volume dependence expands the lattice already at
0 K. Classical MD (NPT) samples the same anharmonic landscape with classical statistics and
has no zero-point motion. The fair comparison with MD is therefore the *classical* QHA
(``F = kT Σ ln(ħω/kT)``), which is computed here beside the quantum one with the same EOS
fit. The remaining QHA-MD difference at a given T is intrinsic anharmonicity (beyond the
volume dependence of the harmonic frequencies), which QHA leaves out and MD includes.

All volumes and energies are per unit cell of the input structure (phonopy's primitive is
set to the unit cell).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from phonopy.physical_units import get_physical_units
from phonopy.qha.eos import fit_to_eos, get_eos
from phonopy.qha.lattice import LatticeParametersFit
from phonopy.qha.qha import run_qha as phonopy_run_qha
from pymatgen.core import Structure

from atomflow.errors import InputError
from atomflow.md.minimize import relax as lammps_relax
from atomflow.phonons.backend import LammpsBackend
from atomflow.phonons.harmonic import (
    PhononWarning,
    compute_phonopy,
    relax_mode,
    snap_to_symmetry,
    supercell_for,
)
from atomflow.potentials import Potential

_EV_A3_TO_GPA = 160.21766208
_GPA_TO_BAR = 1.0e4


@dataclass(frozen=True)
class VolumePoint:
    """One point of the volume scan: a relaxed cell at a hydrostatic pressure."""

    structure: Structure
    pressure_GPa: float
    volume_A3: float
    energy_eV: float
    lattice_A: tuple[float, float, float]
    min_frequency_THz: float


@dataclass(frozen=True)
class QHAResult:
    """Quasi-harmonic results per unit cell of the input structure.

    Arrays indexed by temperature have shape (N,) (lattice: (N, 3) for a, b, c) and share
    ``temperatures_K``. Quantum fields include zero-point energy (phonopy's QHA); fields
    prefixed ``classical_`` use classical statistics (no zero point; compare these with
    classical MD). Units: Å, Å³, GPa, 1/K. Thermal expansion coefficients carry a leading 0
    (central differences), as in phonopy.

    ``max_valid_T_K`` is the highest temperature at which both V(T) lie inside the scanned
    volume range; beyond it values are extrapolations and should not be trusted.
    """

    temperatures_K: np.ndarray
    volume_A3: np.ndarray
    lattice_A: np.ndarray | None
    bulk_modulus_GPa: np.ndarray
    volumetric_expansion_per_K: np.ndarray
    axial_expansion_per_K: np.ndarray | None
    classical_volume_A3: np.ndarray
    classical_lattice_A: np.ndarray | None
    classical_bulk_modulus_GPa: np.ndarray
    classical_volumetric_expansion_per_K: np.ndarray
    static_volume_A3: float
    static_lattice_A: tuple[float, float, float]
    static_bulk_modulus_GPa: float
    scan: tuple[VolumePoint, ...]
    supercell_matrix: tuple[int, int, int]
    max_valid_T_K: float
    potential: str

    def at(self, temperature_K: float, classical: bool = False) -> dict[str, float]:
        """a, b, c (Å) and V (Å³) at ``temperature_K`` (linear interpolation)."""
        t = self.temperatures_K
        if not t[0] <= temperature_K <= t[-1]:
            raise InputError(
                f"temperature {temperature_K} K is outside the QHA range {t[0]}-{t[-1]} K; "
                "rerun with a larger tmax"
            )
        vol = self.classical_volume_A3 if classical else self.volume_A3
        lat = self.classical_lattice_A if classical else self.lattice_A
        out = {"T_K": float(temperature_K), "V": float(np.interp(temperature_K, t, vol))}
        if lat is not None:
            for i, key in enumerate("abc"):
                out[key] = float(np.interp(temperature_K, t, lat[:, i]))
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-ready: ``{T_K, a, c, V, ...}`` (quantum) and the same under ``classical``."""

        def block(vol, lat, bulk, beta) -> dict[str, Any]:
            d: dict[str, Any] = {"T_K": self.temperatures_K.tolist(), "V": vol.tolist()}
            if lat is not None:
                d.update(a=lat[:, 0].tolist(), b=lat[:, 1].tolist(), c=lat[:, 2].tolist())
            d["bulk_modulus_GPa"] = bulk.tolist()
            d["volumetric_expansion_per_K"] = beta.tolist()
            return d

        out = block(
            self.volume_A3, self.lattice_A, self.bulk_modulus_GPa, self.volumetric_expansion_per_K
        )
        if self.axial_expansion_per_K is not None:
            out["alpha_a_per_K"] = self.axial_expansion_per_K[:, 0].tolist()
            out["alpha_c_per_K"] = self.axial_expansion_per_K[:, 2].tolist()
        out["classical"] = block(
            self.classical_volume_A3,
            self.classical_lattice_A,
            self.classical_bulk_modulus_GPa,
            self.classical_volumetric_expansion_per_K,
        )
        out["static"] = {
            "V": self.static_volume_A3,
            "a": self.static_lattice_A[0],
            "b": self.static_lattice_A[1],
            "c": self.static_lattice_A[2],
            "bulk_modulus_GPa": self.static_bulk_modulus_GPa,
        }
        out["scan"] = [
            {
                "pressure_GPa": p.pressure_GPa,
                "V": p.volume_A3,
                "energy_eV": p.energy_eV,
                "a": p.lattice_A[0],
                "b": p.lattice_A[1],
                "c": p.lattice_A[2],
                "min_frequency_THz": p.min_frequency_THz,
            }
            for p in self.scan
        ]
        out["supercell_matrix"] = list(self.supercell_matrix)
        out["max_valid_T_K"] = self.max_valid_T_K
        out["potential"] = self.potential
        out["units"] = {"T": "K", "a,b,c": "Å", "V": "Å^3 per unit cell", "B": "GPa"}
        return out


def _lengths(structure: Structure) -> tuple[float, float, float]:
    a, b, c = structure.lattice.abc
    return (float(a), float(b), float(c))


def _pressure_for_strain(strain: float, bulk_GPa: float, b_prime: float = 4.0) -> float:
    """Murnaghan: P such that V/V0 = 1 + strain."""
    return bulk_GPa / b_prime * ((1.0 + strain) ** (-b_prime) - 1.0)


def volume_scan(
    structure: Structure,
    potential: Potential | str,
    strains: Sequence[float],
    supercell: tuple[int, int, int],
) -> tuple[list[VolumePoint], list, float, Structure]:
    """Relax at pressures giving ``strains``; return points, phonopy objects, B0, static cell."""
    pot = LammpsBackend(potential).potential
    mode = relax_mode(structure)
    r0 = lammps_relax(structure, pot, cell=mode)
    r1 = lammps_relax(r0.structure, pot, cell=mode, pressure_bar=1.0 * _GPA_TO_BAR)
    v0, v1 = r0.structure.volume, r1.structure.volume
    if not v1 < v0:
        raise InputError(
            f"structure {structure.composition.reduced_formula}: the cell did not shrink under "
            "1 GPa with this potential; it is not mechanically stable, so QHA is undefined"
        )
    bulk = 1.0 / math.log(v0 / v1)
    points, phonopys = [], []
    for s in strains:
        p = _pressure_for_strain(s, bulk)
        r = lammps_relax(r0.structure, pot, cell=mode, pressure_bar=p * _GPA_TO_BAR)
        cell = snap_to_symmetry(r.structure)  # see snap_to_symmetry: spurious soft modes
        ph, _ = compute_phonopy(cell, pot, supercell=supercell, residual_force_tol=1.0)
        ph.run_mesh(20.0)
        points.append(
            VolumePoint(
                structure=cell,
                pressure_GPa=float(p),
                volume_A3=float(cell.volume),
                energy_eV=float(r.energy_eV),
                lattice_A=_lengths(cell),
                min_frequency_THz=float(np.min(ph.mesh.frequencies)),
            )
        )
        phonopys.append(ph)
    return points, phonopys, bulk, r0.structure


def run_qha(
    structure: Structure,
    potential: Potential | str,
    t_max_K: float = 900.0,
    t_step_K: float = 10.0,
    strains: Sequence[float] | None = None,
    supercell: tuple[int, int, int] | None = None,
    min_length: float = 10.0,
    mesh: float = 50.0,
    eos: str = "vinet",
) -> QHAResult:
    """QHA of ``structure`` with a registry potential: V(T), a(T), c(T), β(T), B(T).

    ``strains`` are target volume strains around the static minimum (default: 9 points from
    -4 % to +12 %, enough for Li3N to 900 K). The structure is relaxed first (cell and
    positions), so it need not be at the minimum. CLI: ``atomflow phonons S --qha``.
    """
    if t_max_K <= 0 or t_step_K <= 0:
        raise InputError(f"t_max_K and t_step_K must be positive, got {t_max_K}, {t_step_K}")
    backend = LammpsBackend(potential)
    backend.check(structure)
    strains = list(np.linspace(-0.04, 0.12, 9) if strains is None else strains)
    if len(strains) < 5:
        raise InputError(f"QHA needs at least 5 volumes, got strains={strains}")
    if supercell is None:
        supercell = supercell_for(structure, min_length)
    points, phonopys, _, static = volume_scan(structure, backend.potential, strains, supercell)
    unstable = [p for p in points if p.min_frequency_THz < -0.1]
    if unstable:
        warnings.warn(
            "imaginary modes at volumes "
            + ", ".join(f"{p.volume_A3:.2f} Å³ ({p.min_frequency_THz:.2f} THz)" for p in unstable)
            + "; phonopy skips them in the free energy, so QHA there is unreliable; "
            "narrow the strain range",
            PhononWarning,
            stacklevel=2,
        )
    volumes = np.array([p.volume_A3 for p in points])
    energies = np.array([p.energy_eV for p in points])
    lengths = np.array([p.lattice_A for p in points])
    temps = np.arange(0.0, t_max_K + 2.5 * t_step_K, t_step_K)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # extrapolation warnings: see max_valid
        q = phonopy_run_qha(
            phonopys,
            temps,
            internal_energies=energies,
            mesh=mesh,
            eos=eos,
            exclude_gamma_acoustic=True,
        )
    n = len(q.temperatures)
    lattice = None if q.lattice is None else np.asarray(q.lattice.lattice_parameters)[:n]
    axial = None if q.lattice is None else np.asarray(q.lattice.axial_thermal_expansions)[:n]

    cl_vol, cl_bulk = _classical_eos(phonopys, volumes, energies, np.asarray(q.temperatures), eos)
    cl_beta = np.zeros(n)
    cl_beta[1:-1] = (cl_vol[2:] - cl_vol[:-2]) / (temps[2:n] - temps[: n - 2]) / cl_vol[1:-1]
    cl_lattice = None
    if lattice is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            cl_lattice = LatticeParametersFit(volumes, lengths, degree=2).evaluate(cl_vol)

    static_fit = fit_to_eos(volumes, energies, get_eos(eos))
    inside = (
        (q.equilibrium_volumes >= volumes.min())
        & (q.equilibrium_volumes <= volumes.max())
        & (cl_vol >= volumes.min())
        & (cl_vol <= volumes.max())
    )
    max_valid = (
        float(q.temperatures[np.argmin(inside)] - t_step_K)
        if not inside.all()
        else float(q.temperatures[-1])
    )
    return QHAResult(
        temperatures_K=np.asarray(q.temperatures),
        volume_A3=np.asarray(q.equilibrium_volumes),
        lattice_A=lattice,
        bulk_modulus_GPa=np.asarray(q.bulk_moduli) * _EV_A3_TO_GPA,
        volumetric_expansion_per_K=np.asarray(q.thermal_expansion),
        axial_expansion_per_K=axial,
        classical_volume_A3=cl_vol,
        classical_lattice_A=cl_lattice,
        classical_bulk_modulus_GPa=cl_bulk * _EV_A3_TO_GPA,
        classical_volumetric_expansion_per_K=cl_beta,
        static_volume_A3=float(static.volume),
        static_lattice_A=_lengths(static),
        static_bulk_modulus_GPa=float(static_fit[1] * _EV_A3_TO_GPA),
        scan=tuple(points),
        supercell_matrix=tuple(int(x) for x in supercell),
        max_valid_T_K=max_valid,
        potential=backend.potential.name,
    )


def _classical_eos(
    phonopys: list,
    volumes: np.ndarray,
    energies: np.ndarray,
    temps: np.ndarray,
    eos: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Equilibrium V(T) and B(T) (eV/Å³) from U(V) + classical harmonic F(V, T)."""
    ev_to_kjmol = get_physical_units().EvTokJmol
    free = np.zeros((len(temps), len(volumes)))
    positive = temps > 0  # classical F -> 0 as T -> 0; phonopy gives nan at exactly 0
    for j, ph in enumerate(phonopys):  # meshes were run by phonopy's QHA
        tp = ph.run_thermal_properties(
            temperatures=temps[positive], classical=True, exclude_gamma_acoustic=True
        )
        free[positive, j] = np.asarray(tp.free_energy) / ev_to_kjmol
    func = get_eos(eos)
    params = np.array([fit_to_eos(volumes, energies + free[i], func) for i in range(len(temps))])
    return params[:, 3], params[:, 1]


def _at_summary(summary: Mapping[str, Any], temperature_K: float) -> dict[str, float]:
    t = np.asarray(summary["T_K"], dtype=float)
    if not t[0] <= temperature_K <= t[-1]:
        raise InputError(
            f"temperature {temperature_K} K is outside the QHA range {t[0]}-{t[-1]} K; "
            "rerun with a larger tmax"
        )
    return {
        k: float(np.interp(temperature_K, t, summary[k]))
        for k in ("a", "b", "c", "V")
        if k in summary
    }


def compare_with_npt(
    qha: QHAResult | Mapping[str, Any], npt: Mapping[str, float], temperature_K: float
) -> list[dict[str, Any]]:
    """Rows comparing QHA lattice parameters with NPT MD at ``temperature_K``.

    ``qha`` is a :class:`QHAResult` or its :meth:`QHAResult.summary` (the ``qha`` task output).
    ``npt`` is the NPT lattice dict ``{a, a_err, c, c_err}`` (Å; ``V``/``V_err`` per unit cell
    are compared too when present). One row per quantity: ``quantity, T_K, npt, npt_err,
    qha_quantum, qha_classical, static, diff_quantum_pct, diff_classical_pct,
    sigma_classical``, differences being 100·(QHA − MD)/MD. Classical QHA is the
    like-for-like comparison with classical MD; the quantum value adds zero-point expansion.
    """
    missing = [k for k in ("a", "c") if k not in npt]
    if missing:
        raise InputError(
            f"npt lattice dict lacks {', '.join(missing)}; pass the 'lattice' output of "
            "npt_lattice ({a, a_err, c, c_err})"
        )
    summary = qha.summary() if isinstance(qha, QHAResult) else qha
    quantum = _at_summary(summary, temperature_K)
    classical = _at_summary(summary["classical"], temperature_K)
    static = summary["static"]
    rows = []
    for key in ("a", "c", "V"):
        if key not in npt or key not in quantum:
            continue
        md = float(npt[key])
        err = float(npt.get(f"{key}_err", float("nan")))
        rows.append(
            {
                "quantity": key,
                "T_K": float(temperature_K),
                "npt": md,
                "npt_err": err,
                "qha_quantum": quantum[key],
                "qha_classical": classical[key],
                "static": float(static[key]),
                "diff_quantum_pct": 100.0 * (quantum[key] - md) / md,
                "diff_classical_pct": 100.0 * (classical[key] - md) / md,
                "sigma_classical": (classical[key] - md) / err if err > 0 else float("nan"),
            }
        )
    return rows
