"""The in-memory trajectory every reader returns and every analysis consumes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Trajectory:
    """Unwrapped positions with their times, boxes and species.

    positions: (n_frames, n_atoms, 3) Å, unwrapped (continuous across boundaries)
    times_ps: (n_frames,) ps; steps: (n_frames,) MD step numbers
    cells: (n_frames, 3, 3) Å, rows are the cell vectors
    species: (n_atoms,) labels (element names, or type numbers as strings)
    observables: scalar series per frame (temperature, potential_energy, ...)
    charges: (n_atoms,) charges in e when the source has them (a dump's ``q``), else None
    """

    positions: np.ndarray
    times_ps: np.ndarray
    steps: np.ndarray
    cells: np.ndarray
    species: np.ndarray
    observables: dict[str, np.ndarray] = field(default_factory=dict)
    charges: np.ndarray | None = None

    def __post_init__(self) -> None:
        n_frames, n_atoms, _ = self.positions.shape
        for name, arr, shape in (
            ("times_ps", self.times_ps, (n_frames,)),
            ("steps", self.steps, (n_frames,)),
            ("cells", self.cells, (n_frames, 3, 3)),
            ("species", self.species, (n_atoms,)),
        ):
            if arr.shape != shape:
                raise ValueError(f"trajectory {name} has shape {arr.shape}, expected {shape}")

    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def n_atoms(self) -> int:
        return self.positions.shape[1]

    def select(self, species: str) -> np.ndarray:
        """Indices of atoms whose label is ``species``; raises if there are none."""
        idx = np.flatnonzero(self.species == species)
        if idx.size == 0:
            labels = ", ".join(sorted(set(self.species.tolist())))
            raise ValueError(f"no atoms of species {species!r} in the trajectory (has: {labels})")
        return idx

    def frames(self, which: slice) -> Trajectory:
        """The same trajectory over a slice of its frames (atoms and species unchanged)."""
        return replace(
            self,
            positions=self.positions[which],
            times_ps=self.times_ps[which],
            steps=self.steps[which],
            cells=self.cells[which],
            observables={k: v[which] for k, v in self.observables.items()},
        )
