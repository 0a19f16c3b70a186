"""Labellers: anything that gives energies, forces and stresses for a list of ASE Atoms.

Any ASE calculator can label (:class:`CalculatorLabeller`): CHGNet and SevenNet are built in
(``pip install 'atomflow[mlip]'``), DFT codes driven by ASE plug in the same way. A
registry potential run by LAMMPS labels too (:class:`LammpsLabeller`): it needs no torch and
is what the tests distil.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Protocol

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from atomflow.errors import InputError


class Labeller(Protocol):
    name: str
    version: str

    def label(self, frames: Sequence[Atoms]) -> list[Atoms]: ...


def labelled_copy(
    atoms: Atoms, energy: float, forces: np.ndarray, stress: np.ndarray | None
) -> Atoms:
    """A copy of ``atoms`` carrying its labels (eV, eV/Å, eV/Å³ Voigt) in a single-point calc."""
    out = atoms.copy()
    results = {"energy": float(energy), "forces": np.asarray(forces, dtype=float)}
    if stress is not None:
        results["stress"] = np.asarray(stress, dtype=float)
    out.calc = SinglePointCalculator(out, **results)
    return out


@dataclass
class CalculatorLabeller:
    """Label with an ASE calculator made once by ``factory``."""

    name: str
    version: str
    factory: Callable[[], object]

    def __post_init__(self) -> None:
        self._calc = None

    def calculator(self) -> object:
        """The ASE calculator, made on first use (loading a model takes seconds)."""
        if self._calc is None:
            self._calc = self.factory()
        return self._calc

    def label(self, frames: Sequence[Atoms]) -> list[Atoms]:
        calc = self.calculator()
        out = []
        for atoms in frames:
            work = atoms.copy()
            work.calc = calc
            e, f, st = work.get_potential_energy(), work.get_forces(), work.get_stress()
            out.append(labelled_copy(atoms, e, f, st))
        return out


@dataclass
class LammpsLabeller:
    """Label with a registry potential through LAMMPS (no torch needed)."""

    potential: str

    @property
    def name(self) -> str:
        return f"lammps:{self.potential}"

    @property
    def version(self) -> str:
        from atomflow.potentials import get_potential

        digest = get_potential(self.potential).files_digest()
        return (
            "lammps "
            + metadata.version("lammps")
            + " "
            + ",".join(f"{k}:{v[:12]}" for k, v in sorted(digest.items()))
        )

    def label(self, frames: Sequence[Atoms]) -> list[Atoms]:
        from atomflow.potentials import get_potential

        return evaluate_potential(get_potential(self.potential), frames)


def evaluate_potential(potential, frames: Sequence[Atoms]) -> list[Atoms]:
    """Energies, forces and stresses of ``frames`` with a registry :class:`Potential` (LAMMPS)."""
    from ase.units import GPa
    from pymatgen.io.ase import AseAtomsAdaptor

    from atomflow.md.batch import BatchEvaluator

    out = []
    for atoms in frames:
        with BatchEvaluator(AseAtomsAdaptor.get_structure(atoms), potential) as ev:
            r = ev.evaluate()
        st = r.stress_GPa * GPa  # eV/Å^3
        voigt = np.array([st[0, 0], st[1, 1], st[2, 2], st[1, 2], st[0, 2], st[0, 1]])
        out.append(labelled_copy(atoms, r.energy_eV, r.forces_eV_A, voigt))
    return out


def _chgnet() -> object:
    from chgnet.model.dynamics import CHGNetCalculator

    return CHGNetCalculator(use_device="cpu")


def _sevenn() -> object:
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator("7net-0", device="cpu")


def get_labeller(spec: str) -> Labeller:
    """``chgnet``, ``sevenn``, or ``lammps:<registry potential>``."""
    if spec.startswith("lammps:"):
        return LammpsLabeller(spec.split(":", 1)[1])
    builtin = {"chgnet": ("chgnet", _chgnet), "sevenn": ("sevenn", _sevenn)}
    if spec not in builtin:
        raise InputError(
            f"unknown labeller {spec!r}; use 'chgnet', 'sevenn' or 'lammps:<potential name>'"
        )
    dist, factory = builtin[spec]
    try:
        version = metadata.version(dist)
    except metadata.PackageNotFoundError:
        raise InputError(
            f"labeller {spec!r} needs the {dist} package: install torch==2.13.0 first, "
            "then pip install 'atomflow[mlip]'"
        ) from None
    return CalculatorLabeller(name=spec, version=f"{dist} {version}", factory=factory)
