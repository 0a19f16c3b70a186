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
import warnings
from pathlib import Path

import h5py
import numpy as np

from atomflow import __version__
from atomflow.errors import InputError
from atomflow.trajectory.frames import Trajectory

_GROUP = "/particles/all"


def _timeseries(parent: h5py.Group, name: str, shape: tuple[int, ...], dtype, unit: str | None):
    g = parent.create_group(name)
    value = g.create_dataset(
        "value",
        shape=(0, *shape),
        maxshape=(None, *shape),
        dtype=dtype,
        chunks=(max(1, 2**16 // max(1, int(np.prod(shape)) * 8)), *shape),
    )
    if unit:
        value.attrs["unit"] = unit
    g.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
    t = g.create_dataset("time", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(1024,))
    t.attrs["unit"] = "ps"
    return g


def _open_for_resume(path: Path) -> h5py.File | None:
    """Open an existing trajectory for appending, repairing it after a crash.

    A writer killed while the file was open leaves HDF5's "open for writing" flag set, so a
    plain open fails although every flushed frame is intact. The frames are then copied (with
    their chunking and growable shapes) to a fresh file that replaces the old one. A file that
    cannot be read at all (killed before its first flush) is moved aside to ``*.unreadable``.
    """
    try:
        return h5py.File(path, "a", libver="latest")
    except OSError:
        pass
    tmp = path.with_name(path.name + ".recover")
    try:
        with h5py.File(path, "r", libver="latest", swmr=True) as src:
            with h5py.File(tmp, "w", libver="latest") as dst:
                for key, value in src.attrs.items():
                    dst.attrs[key] = value
                for key in src:
                    src.copy(src[key], dst, name=key)
    except (OSError, KeyError) as exc:
        tmp.unlink(missing_ok=True)
        aside = path.with_name(path.name + ".unreadable")
        os.replace(path, aside)
        warnings.warn(
            f"{path} could not be read ({exc}); moved to {aside}, starting afresh", stacklevel=3
        )
        return None
    os.replace(tmp, path)
    return h5py.File(path, "a", libver="latest")


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
            "temperature",
            "potential_energy",
            "total_energy",
            "pressure",
            "volume",
        ),
    ):
        self.path = Path(path)
        self.timestep_ps = float(timestep_ps)
        species = np.asarray(species, dtype=np.int32)
        self._n_atoms = len(species)
        self._f = None
        if append and self.path.exists():
            self._f = _open_for_resume(self.path)
            if self._f is not None:
                stored = self._f[f"{_GROUP}/species"][()]
                if not np.array_equal(stored, species):
                    self._f.close()
                    raise InputError(
                        f"{self.path} holds a trajectory of another system ({len(stored)} atoms "
                        f"vs {len(species)}, or other types); move it away or pass append=False"
                    )
                self._obs_names = tuple(self._f["observables"].keys())
                self._reconcile()
        if self._f is None:
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

    def _reconcile(self) -> None:
        """Cut every series to the frames complete in all of them (a kill mid-append)."""
        n = min(len(g[k]) for g in self._series() for k in ("value", "step", "time"))
        for group in self._series():
            for key in ("value", "step", "time"):
                if len(group[key]) != n:
                    group[key].resize(n, axis=0)

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
        unknown = set(observables) - set(self._obs_names)
        if unknown:
            raise InputError(
                f"observables {sorted(unknown)} were not declared; this file records "
                f"{list(self._obs_names)} (pass observables=... when creating the writer)"
            )
        positions = np.asarray(positions, dtype=np.float64)
        if positions.shape != (self._n_atoms, 3):
            raise InputError(
                f"positions have shape {positions.shape}, expected ({self._n_atoms}, 3)"
            )
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


def _open_for_reading(path: Path) -> h5py.File:
    """The file opened read-only (SWMR, so a running writer's flushed frames show), or an
    error that says what to do with a file HDF5 cannot open."""
    try:
        return h5py.File(path, "r", libver="latest", swmr=True)
    except OSError as exc:
        raise InputError(
            f"{path} cannot be opened as HDF5 ({exc}). If an MD run was killed before it "
            "flushed its first frame, no frame was saved: run it again (atomflow moves such a "
            "file aside and starts afresh); if another program wrote it, check that the file "
            "is complete"
        ) from None


def read_h5md(
    path: str | os.PathLike,
    *,
    species: str | list[str] | None = None,
    frames: slice = slice(None),
) -> Trajectory:
    """Read an H5MD file (atomflow's, or another program's with the same core layout).

    ``species`` keeps only atoms with those labels (read frame block by frame block, so
    the whole position array is never in memory); ``frames`` slices the frame axis.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trajectory {path} does not exist")
    with _open_for_reading(path) as f:
        groups = list(f["particles"].keys()) if "particles" in f else []
        if not groups:
            raise InputError(f"{path}: no particle group under /particles; not an H5MD file")
        part = f["particles"]["all" if "all" in groups else groups[0]]
        pos = part["position"]
        value = pos["value"]
        labels = _species_labels(part, value.shape[1])
        atoms = _atom_selection(labels, species, path)
        # frames complete in every series (a writer killed mid-append may leave one longer)
        lengths = [len(value)] + [len(pos[k]) for k in ("step", "time") if pos[k].ndim]
        edges = part["box/edges"] if "box" in part and "edges" in part["box"] else None
        if isinstance(edges, h5py.Group):
            lengths.append(len(edges["value"]))
        frames = slice(*frames.indices(min(lengths)))
        positions = _read_positions(value, frames, atoms)
        n = len(positions)
        index = np.arange(min(lengths))[frames]
        steps = pos["step"][()] if "step" in pos else 1
        times = pos["time"][()] if "time" in pos else np.nan
        # H5MD allows a fixed step or time interval stored as a scalar
        steps = index * int(steps) if np.ndim(steps) == 0 else steps[frames]
        times = index * float(times) if np.ndim(times) == 0 else times[frames]
        cells = _read_cells(edges, frames, n)
        observables = {}
        if "observables" in f:
            for name, g in f["observables"].items():
                if isinstance(g, h5py.Group) and "value" in g and g["value"].ndim == 1:
                    obs = np.full(n, np.nan)
                    got = g["value"][frames]
                    obs[: len(got)] = got
                    observables[name] = obs
    return Trajectory(
        positions=positions,
        times_ps=np.asarray(times, np.float64),
        steps=np.asarray(steps, np.int64),
        cells=cells,
        species=labels if atoms is None else labels[atoms],
        observables=observables,
    )


def _atom_selection(labels: np.ndarray, species, path: Path) -> np.ndarray | None:
    if species is None:
        return None
    wanted = [species] if isinstance(species, str) else list(species)
    atoms = np.flatnonzero(np.isin(labels, wanted))
    if atoms.size == 0:
        have = ", ".join(sorted(set(labels.tolist())))
        raise InputError(f"{path}: no atoms of species {wanted}; the file has {have}")
    return atoms


def _read_positions(value: h5py.Dataset, frames: slice, atoms: np.ndarray | None) -> np.ndarray:
    frame_idx = np.arange(value.shape[0])[frames]
    if atoms is None:
        return value[frames]
    out = np.empty((len(frame_idx), len(atoms), 3), dtype=np.float64)
    n_atoms = value.shape[1]
    block = max(1, 2**24 // max(1, n_atoms * 24))  # ~16 MB of full frames at a time
    contiguous = frames.step in (None, 1)
    for i in range(0, len(frame_idx), block):
        idx = frame_idx[i : i + block]
        chunk = value[idx[0] : idx[-1] + 1] if contiguous else value[idx]
        out[i : i + len(idx)] = chunk[:, atoms]
    return out


def _read_cells(edges, frames: slice, n: int) -> np.ndarray:
    if edges is None:
        return np.zeros((n, 3, 3))
    cells = edges["value"][frames] if isinstance(edges, h5py.Group) else edges[()]
    if cells.ndim == 1:  # a fixed orthogonal box stored as its three edge lengths
        cells = np.diag(cells)
    if cells.ndim == 2 and cells.shape == (n, 3):  # time-dependent orthogonal edges
        cells = np.einsum("fi,ij->fij", cells, np.eye(3))
    if cells.ndim == 2:
        cells = np.broadcast_to(cells, (n, 3, 3)).copy()
    return np.asarray(cells, np.float64)


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
