"""MD protocols as validated specs, and the LAMMPS lines they become (pure functions)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Ensemble = Literal["nvt", "npt", "nve"]
Barostat = Literal["iso", "aniso", "tri", "hexagonal"]


class MDProtocol(BaseModel):
    """One MD stage: equilibration then production, sampled every ``sample_every`` steps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ensemble: Ensemble
    temperature_K: float = Field(gt=0, description="target (and initial) temperature, K")
    steps: int = Field(gt=0, description="production steps (recorded)")
    equil_steps: int = Field(0, ge=0, description="equilibration steps (not recorded)")
    timestep_fs: float = Field(1.0, gt=0, le=10)
    pressure_bar: float = 1.0
    barostat: Barostat = "hexagonal"
    tdamp_ps: float = Field(0.1, gt=0)
    pdamp_ps: float = Field(1.0, gt=0)
    sample_every: int = Field(100, gt=0, description="steps between frames and samples")
    restart_every: int = Field(2000, gt=0, description="steps between restart files")
    seed: int = Field(12345, gt=0, lt=2**31)
    trajectory: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> MDProtocol:
        if self.restart_every % self.sample_every:
            raise ValueError(
                f"restart_every ({self.restart_every}) must be a multiple of sample_every "
                f"({self.sample_every})"
            )
        if self.equil_steps % self.sample_every:
            raise ValueError(
                f"equil_steps ({self.equil_steps}) must be a multiple of sample_every "
                f"({self.sample_every})"
            )
        return self

    @property
    def total_steps(self) -> int:
        return self.equil_steps + self.steps

    @property
    def timestep_ps(self) -> float:
        return self.timestep_fs * 1e-3


def integrator_commands(p: MDProtocol) -> list[str]:
    """The fix line(s) for the ensemble; fix IDs are stable so restarts restore their state."""
    t = p.temperature_K
    if p.ensemble == "nve":
        return ["fix integrate all nve"]
    if p.ensemble == "nvt":
        return [f"fix integrate all nvt temp {t} {t} {p.tdamp_ps}"]
    pb, pd = p.pressure_bar, p.pdamp_ps
    baro = {
        "iso": f"iso {pb} {pb} {pd}",
        "aniso": f"aniso {pb} {pb} {pd}",
        "tri": f"tri {pb} {pb} {pd}",
        # a = b scaled together (xy tilt follows), c free: keeps a hexagonal cell hexagonal
        "hexagonal": f"aniso {pb} {pb} {pd} couple xy",
    }[p.barostat]
    return [f"fix integrate all npt temp {t} {t} {p.tdamp_ps} {baro}"]


def common_commands(p: MDProtocol) -> list[str]:
    return [
        f"timestep {p.timestep_ps!r}",
        "neighbor 2.0 bin",
        "neigh_modify every 1 delay 0 check yes",
        "thermo_style custom step temp pe etotal press vol lx ly lz xy xz yz",
        f"thermo {p.sample_every}",
        "thermo_modify flush yes",
    ]
