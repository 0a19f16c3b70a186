"""Study recipes: each system maps to its preset model and its workflow builder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from atomflow.graph import Workflow


@dataclass(frozen=True)
class StudyKind:
    """A system a recipe may name: how to validate its presets and build its graph."""

    preset_model: type[BaseModel]
    build: Callable[..., Workflow]


def systems() -> dict[str, StudyKind]:
    """Known study systems (imported lazily so the CLI starts fast)."""
    from atomflow.studies import bisnsb_k, li2zrcl6_n, li3n, li_interface

    return {
        "li3n": StudyKind(li3n.Li3NPreset, li3n.build_workflow),
        "li2zrcl6_n": StudyKind(li2zrcl6_n.LZCPreset, li2zrcl6_n.build_workflow),
        "bisnsb_k": StudyKind(bisnsb_k.BiSnSbKPreset, bisnsb_k.build_workflow),
        "li_interface": StudyKind(li_interface.LiInterfacePreset, li_interface.build_workflow),
    }
