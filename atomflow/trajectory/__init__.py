"""The trajectory room: file formats in, one :class:`Trajectory` type out (and H5MD out for MD)."""

from atomflow.trajectory.frames import Trajectory
from atomflow.trajectory.h5md import H5MDWriter, read_h5md

__all__ = ["H5MDWriter", "Trajectory", "read_h5md"]
