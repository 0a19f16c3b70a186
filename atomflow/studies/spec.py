"""Study recipes: TOML files with a ``[study]`` header and named presets, validated by pydantic.

Errors name the file and the offending key (``presets.quick.nvt.temperatures_K.0``) and say
what is allowed, so a typo never starts hours of MD.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from atomflow.errors import InputError


class StudyHeader(BaseModel):
    """The ``[study]`` table common to every recipe."""

    model_config = ConfigDict(extra="forbid")

    name: str
    system: str
    title: str = ""


@dataclass(frozen=True)
class LoadedSpec:
    """A validated recipe: header, the chosen preset's settings, and reference values."""

    path: Path
    header: StudyHeader
    preset_name: str
    preset: BaseModel
    reference: dict[str, Any]


def _format_errors(path: Path, prefix: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling against the documented keys)"
        lines.append(f"{path}: {loc}: {msg}")
    return "\n".join(lines)


def read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"workflow file {path} does not exist")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: malformed TOML: {exc}") from None


def load_spec(path: str | Path, preset: str, systems: dict[str, type[BaseModel]]) -> LoadedSpec:
    """Read and validate ``path``; ``systems`` maps system names to their preset models."""
    path = Path(path)
    raw = read_toml(path)
    unknown = sorted(set(raw) - {"study", "presets", "reference"})
    if unknown:
        raise InputError(
            f"{path}: unknown top-level table(s) {', '.join(unknown)}; "
            "allowed: study, presets, reference"
        )
    if "study" not in raw:
        raise InputError(f"{path}: missing [study] table (name, system, title)")
    try:
        header = StudyHeader.model_validate(raw["study"])
    except ValidationError as exc:
        raise InputError(_format_errors(path, "study", exc)) from None
    if header.system not in systems:
        raise InputError(
            f"{path}: study.system: unknown system {header.system!r}; "
            f"known: {', '.join(sorted(systems))}"
        )
    presets = raw.get("presets", {})
    if preset not in presets:
        raise InputError(
            f"{path}: unknown preset {preset!r}; this recipe has: "
            f"{', '.join(sorted(presets)) or 'none'}"
        )
    model = systems[header.system]
    try:
        settings = model.model_validate(presets[preset])
    except ValidationError as exc:
        raise InputError(_format_errors(path, f"presets.{preset}", exc)) from None
    return LoadedSpec(path, header, preset, settings, raw.get("reference", {}))
