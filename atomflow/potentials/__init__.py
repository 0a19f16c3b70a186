"""The potentials room: a registry of shipped interatomic potentials."""

from atomflow.potentials.registry import Potential, available_potentials, get_potential

__all__ = ["Potential", "available_potentials", "get_potential"]
