"""Preset pieces shared by the study recipes: MD stages and the protocol dicts they become."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, field_validator


class Strict(BaseModel):
    """A recipe table: unknown keys are errors (a typo never silently uses a default)."""

    model_config = ConfigDict(extra="forbid")


class NPTStage(Strict):
    """NPT at one temperature: equilibrate, then sample the box for lattice parameters."""

    temperature_K: PositiveFloat = 300.0
    pressure_bar: float = 1.0
    equil_steps: int = Field(2000, ge=0)
    steps: int = Field(6000, gt=0)
    sample_every: int = Field(20, gt=0)


class NVTStage(Strict):
    """NVT at several temperatures for tracer MSDs and an Arrhenius fit."""

    temperatures_K: list[PositiveFloat] = Field(min_length=2)
    equil_steps: int = Field(2000, ge=0)
    steps: int = Field(12000, gt=0)
    sample_every: int = Field(25, gt=0)

    @field_validator("temperatures_K")
    @classmethod
    def _distinct(cls, v: list[float]) -> list[float]:
        if len(set(v)) != len(v):
            raise ValueError(f"temperatures must be distinct, got {v}")
        return v


def md_protocol(
    stage: NPTStage | NVTStage,
    temperature_K: float,
    *,
    timestep_fs: float,
    restart_every: int,
    seed: int,
) -> dict[str, Any]:
    """The ``MDProtocol`` fields of one run of ``stage`` (restart interval on the sample grid)."""
    fields = stage.model_dump(exclude={"temperatures_K", "temperature_K"})
    every = fields["sample_every"]
    return {
        **fields,
        "temperature_K": temperature_K,
        "timestep_fs": timestep_fs,
        "seed": seed,
        "restart_every": max(every, restart_every // every * every),
    }
