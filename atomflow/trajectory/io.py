"""One entry point for every trajectory format: :func:`read_trajectory`.

Formats: ``lammps-dump`` (text, gzip too; :mod:`atomflow.trajectory.lammps_dump`),
``h5md`` (atomflow's MD output), ``extxyz`` (through ASE) and ``xdatcar`` (VASP, through
ASE). The format is taken from the name when not given. Positions come back unwrapped:
exactly from image flags where the file has them, else by the minimum image between
consecutive frames (:func:`unwrap_minimum_image`), with a warning when a step exceeds a
quarter of the box.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np

from atomflow.errors import InputError
from atomflow.trajectory.frames import Trajectory

FORMATS = ("lammps-dump", "h5md", "extxyz", "xdatcar")


def guess_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".h5", ".h5md", ".hdf5")):
        return "h5md"
    if name.endswith((".extxyz", ".xyz")):
        return "extxyz"
    if "xdatcar" in name:
        return "xdatcar"
    if name.endswith((".dump", ".lammpstrj", ".lammps")) or "dump" in name:
        return "lammps-dump"
    raise InputError(
        f"cannot tell the format of {path.name}; pass one of {', '.join(FORMATS)} (CLI --format)"
    )


def unwrap_minimum_image(
    wrapped: np.ndarray, cells: np.ndarray, where: str = "trajectory"
) -> np.ndarray:
    """Unwrap (n_frames, n_atoms, 3) Cartesian positions by the minimum image between
    consecutive frames, in fractional coordinates of each frame's cell (rows = vectors)."""
    frac = np.einsum("fai,fij->faj", wrapped, np.linalg.inv(cells))
    jump = np.diff(frac, axis=0)
    shift = np.round(jump)
    worst = float(np.abs(jump - shift).max()) if len(jump) else 0.0
    if worst > 0.25:
        warnings.warn(
            f"{where}: an atom moved {worst:.2f} of the box between consecutive "
            "frames; unwrapping by the minimum image is ambiguous (save frames "
            "more often, or with image flags)",
            stacklevel=2,
        )
    images = np.concatenate([np.zeros_like(frac[:1]), -np.cumsum(shift, axis=0)])
    return np.einsum("faj,fjk->fak", frac + images, cells)


def _from_ase(images, timestep_ps: float | None, where: str, steps=None) -> Trajectory:
    if not images:
        raise InputError(f"{where}: no frames")
    n = len(images[0])
    for k, at in enumerate(images):
        if len(at) != n:
            raise InputError(f"{where}: frame {k} has {len(at)} atoms, the first {n}")
    cells = np.array([at.cell.array for at in images])
    pos = np.array([at.positions for at in images])
    times = None
    if "time" in images[0].info:
        times = np.array([at.info["time"] for at in images], float)
    if steps is None:
        steps = np.arange(len(images))
    if times is None:
        if timestep_ps is None:
            raise InputError(
                f"{where}: frames carry no time; pass the time between frames "
                "(timestep_ps=…, CLI --timestep-ps)"
            )
        times = np.asarray(steps, float) * timestep_ps
    return Trajectory(
        positions=unwrap_minimum_image(pos, cells, where),
        times_ps=times,
        steps=np.asarray(steps, np.int64),
        cells=cells,
        species=np.array(images[0].get_chemical_symbols()),
    )


def read_trajectory(
    path: str | os.PathLike,
    format: str | None = None,
    *,
    timestep_ps: float | None = None,
    types: dict[str, str] | None = None,
) -> Trajectory:
    """Read any supported trajectory into an unwrapped :class:`Trajectory` (Å, ps).

    ``timestep_ps``: for LAMMPS dumps the MD integration timestep (frame time = TIMESTEP ×
    it); for XDATCAR the MD timestep too (POTIM, in ps) with the configuration numbers as
    steps; for extxyz without a ``time`` key the time between frames. H5MD carries times.
    ``types`` maps LAMMPS type numbers to labels.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"trajectory {path} does not exist")
    fmt = format or guess_format(path)
    if fmt == "lammps-dump":
        from atomflow.trajectory.lammps_dump import read_lammps_dump

        return read_lammps_dump(path, timestep_ps, types=types)
    if fmt == "h5md":
        from atomflow.trajectory.h5md import read_h5md

        return read_h5md(path)
    if fmt == "extxyz":
        from ase.io import read

        return _from_ase(read(path, index=":", format="extxyz"), timestep_ps, str(path))
    if fmt == "xdatcar":
        from ase.io import read

        images = read(path, index=":", format="vasp-xdatcar")
        text = path.read_text(errors="replace")
        steps = [int(s) for s in re.findall(r"configuration=\s*(\d+)", text)]
        steps = steps if len(steps) == len(images) else None
        return _from_ase(images, timestep_ps, str(path), steps)
    raise InputError(f"unknown trajectory format {fmt!r}; choose from {', '.join(FORMATS)}")
