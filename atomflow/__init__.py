"""atomflow: atomistic simulation workflows for battery materials.

Rooms (imports only flow downwards in this list):
``graph`` and ``store`` (engine, no science) → ``structures``, ``potentials``,
``analysis`` (science, no engine) → ``md`` (LAMMPS) → ``studies`` (recipes that
glue rooms into workflows) → ``hpc`` and ``cli``.
"""

from atomflow._mpi import preload_libmpi

__version__ = "0.1.0"

preload_libmpi()

__all__ = ["__version__"]
