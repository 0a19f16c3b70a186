"""The trajectory room: file formats in, one :class:`Trajectory` type out (and H5MD out for MD)."""

from atomflow.trajectory.frames import Trajectory
from atomflow.trajectory.h5md import H5MDWriter, read_h5md
from atomflow.trajectory.io import read_trajectory, unwrap_minimum_image
from atomflow.trajectory.lammps_dump import read_lammps_dump

__all__ = [
    "H5MDWriter",
    "Trajectory",
    "read_h5md",
    "read_lammps_dump",
    "read_trajectory",
    "unwrap_minimum_image",
]
