"""H5MD 1.1 trajectories (readable by MDAnalysis and OVITO): writer for MD, reader for analysis.

Layout: ``/particles/all/position/{value,step,time}`` (unwrapped, Å, ps),
``/particles/all/box/edges/{value,step,time}`` (rows = cell vectors), ``/particles/all/species``
(1-based LAMMPS types, attribute ``type_names``), ``/observables/<name>/{value,step,time}``,
``/parameters/atomflow`` (attribute ``timestep_ps``). Frame datasets grow along axis 0.

The writer keeps the file open in SWMR mode and flushes after every frame it is asked to,
so a process killed between frames leaves a readable file with every flushed frame.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from atomflow import __version__
from atomflow.trajectory.frames import Trajectory

_GROUP = "/particles/all"


def _timeseries(parent: h5py.Group, name: str, shape: tuple[int, ...], dtype, unit: str | None):
    g = parent.create_group(name)
    value = g.create_dataset(
        "value", shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
        chunks=(max(1, 2**16 // max(1, int(np.prod(shape)) * 8)), *shape),
    )
    if unit:
        value.attrs["unit"] = unit
    g.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
    t = g.create_dataset("time", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(1024,))
    t.attrs["unit"] = "ps"
    return g


class H5MDWriter:
    """Append frames (step, unwrapped positions, cell, scalar observables) to an H5MD file."""

    def __init__(
        self,
        path: str | os.PathLike,
        species: np.ndarray,
        type_names: list[str],
        timestep_ps: float,
        *,
        append: bool = False,
        observables: tuple[str, ...] = (
            "temperature", "potential_energy", "total_energy", "pressure", "volume",
        ),
    ):
        self.path = Path(path)
        self.timestep_ps = float(timestep_ps)
        species = np.asarray(species, dtype=np.int32)
        self._n_atoms = len(species)
        if append and self.path.exists():
            try:
                self._f = h5py.File(self.path, "a", libver="latest")
                self._check(species)
            except (OSError, ValueError, KeyError):
                # unreadable (killed while creating it): start again, nothing flushed is lost
                # that a restart file would not also lack
                self.path.unlink()
                self._create(species, type_names, observables)
        else:
            self._create(species, type_names, observables)
        self._obs_names = tuple(self._f["observables"].keys())

    def _create(self, species, type_names, observables) -> None:
        f = self._f = h5py.File(self.path, "w", libver="latest")
        h5 = f.create_group("h5md")
        h5.attrs["version"] = np.array([1, 1])
        h5.create_group("author").attrs["name"] = "atomflow"
        creator = h5.create_group("creator")
        creator.attrs["name"] = "atomflow"
        creator.attrs["version"] = __version__
        part = f.create_group(_GROUP)
        sp = part.create_dataset("species", data=species)
        sp.attrs["type_names"] = np.array(type_names, dtype=h5py.string_dtype())
        _timeseries(part, "position", (self._n_atoms, 3), np.float64, "Angstrom")
        box = part.create_group("box")
        box.attrs["dimension"] = 3
        box.attrs["boundary"] = np.array(["periodic"] * 3, dtype=h5py.string_dtype())
        _timeseries(box, "edges", (3, 3), np.float64, "Angstrom")
        obs = f.create_group("observables")
        for name in observables:
            _timeseries(obs, name, (), np.float64, None)
        f.create_group("parameters/atomflow").attrs["timestep_ps"] = self.timestep_ps

    def _check(self, species: np.ndarray) -> None:
        stored = self._f[f"{_GROUP}/species"][()]
        if not np.array_equal(stored, species):
            raise ValueError(f"{self.path} holds a different system; remove it to start over")

    @property
    def n_frames(self) -> int:
        return int(self._f[f"{_GROUP}/position/step"].shape[0])

    @property
    def last_step(self) -> int | None:
        steps = self._f[f"{_GROUP}/position/step"]
        return int(steps[-1]) if steps.shape[0] else None

    def _series(self):
        yield self._f[f"{_GROUP}/position"]
        yield self._f[f"{_GROUP}/box/edges"]
        for name in self._obs_names:
            yield self._f[f"observables/{name}"]

    def append(
        self,
        step: int,
        positions: np.ndarray,
        cell: np.ndarray,
        observables: dict[str, float] | None = None,
    ) -> None:
        """Add one frame; positions (n_atoms, 3) unwrapped Å, cell rows = vectors (Å)."""
        last = self.last_step
        if last is not None and step <= last:
            raise ValueError(f"frame step {step} does not follow the last stored step {last}")
        if not self._f.swmr_mode:  # SWMR after any truncation: SWMR files only grow
            self._f.swmr_mode = True
        observables = observables or {}
        time = step * self.timestep_ps
        values = {"position": positions, "edges": cell}
        for group in self._series():
            name = group.name.rsplit("/", 1)[-1]
            value = values.get(name, observables.get(name, np.nan))
            n = group["step"].shape[0]
            for key in ("value", "step", "time"):
                group[key].resize(n + 1, axis=0)
            group["value"][n] = value
            group["step"][n] = step
            group["time"][n] = time

    def truncate_after(self, step: int) -> int:
        """Drop frames with a step larger than ``step`` (resuming from a restart)."""
        steps = self._f[f"{_GROUP}/position/step"][()]
        keep = int(np.searchsorted(steps, step, side="right"))
        if keep == len(steps):
            return keep
        if self._f.swmr_mode:
            raise RuntimeError("truncate_after must be called before the first append")
        for group in self._series():
            for key in ("value", "step", "time"):
                group[key].resize(keep, axis=0)
        self.flush()
        return keep

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if self._f.id.valid:
            self._f.close()

    def __enter__(self) -> H5MDWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_h5md(path: str | os.PathLike, frames: slice = slice(None)) -> Trajectory:
    """Read an H5MD file (atomflow's or another program's with the same core layout)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trajectory {path} does not exist")
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        groups = list(f["particles"].keys())
        if not groups:
            raise ValueError(f"{path}: no particle group under /particles")
        part = f["particles"]["all" if "all" in groups else groups[0]]
        pos = part["position"]
        positions = pos["value"][frames]
        steps = pos["step"][frames] if "step" in pos else np.arange(len(positions))
        times = pos["time"][frames] if "time" in pos else steps.astype(float)
        if "edges" in part["box"]:
            edges = part["box/edges"]
            cells = edges["value"][frames] if isinstance(edges, h5py.Group) else edges[()]
            if cells.ndim == 1:
                cells = np.diag(cells)
            if cells.ndim == 2:
                cells = np.broadcast_to(cells, (len(positions), 3, 3)).copy()
        else:
            cells = np.zeros((len(positions), 3, 3))
        species = _species_labels(part, positions.shape[1])
        observables = {}
        if "observables" in f:
            for name, g in f["observables"].items():
                if isinstance(g, h5py.Group) and "value" in g:
                    observables[name] = g["value"][frames]
    return Trajectory(positions=positions, times_ps=np.asarray(times, float),
                      steps=np.asarray(steps, np.int64), cells=cells, species=species,
                      observables=observables)


def _species_labels(part: h5py.Group, n_atoms: int) -> np.ndarray:
    if "species" not in part:
        return np.array(["1"] * n_atoms)
    raw = part["species"]
    types = raw[()] if raw.ndim == 1 else raw["value"][0]
    names = raw.attrs.get("type_names")
    if names is not None:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        return np.array([names[int(t) - 1] for t in types])
    return np.array([str(int(t)) for t in types])
