"""Content identity: SHA-256 over a canonical JSON form of a task's name, version, inputs.

A leaf module, used by both the graph and the store.

Floats are written with 12 significant digits so that numerically identical inputs built by
different code paths hash the same. Objects with ``as_dict`` (pymatgen structures and other
MSONable objects) are hashed by content, without version stamps.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np

_DROP_KEYS = {"@version"}


def canonical(obj: Any) -> Any:
    """Return a JSON-ready, order-independent form of ``obj`` for hashing."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        value = float(obj)
        if math.isnan(value) or math.isinf(value):
            return repr(value)
        value = float(f"{value:.12g}")
        if value.is_integer() and abs(value) < 2**53:
            return int(value)  # 300 and 300.0 mean the same temperature
        return value
    if isinstance(obj, np.ndarray):
        return {"@ndarray": list(obj.shape), "data": canonical(obj.tolist())}
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): canonical(v) for k, v in sorted(obj.items()) if k not in _DROP_KEYS}
    if isinstance(obj, list | tuple):
        return [canonical(v) for v in obj]
    if isinstance(obj, set | frozenset):
        return sorted(canonical(v) for v in obj)
    as_dict = getattr(obj, "as_dict", None)
    if callable(as_dict):
        return canonical(as_dict())
    raise TypeError(
        f"cannot hash an input of type {type(obj).__name__}; pass JSON-like values, numpy "
        "arrays or objects with an as_dict() method (pymatgen structures)"
    )


def canonical_json(obj: Any) -> str:
    """Canonical JSON text of ``obj`` (sorted keys, no whitespace)."""
    return json.dumps(canonical(obj), sort_keys=True, separators=(",", ":"))


def task_identity(name: str, version: str, inputs: Mapping[str, Any]) -> str:
    """Hash of a task's function name, version and canonicalised inputs."""
    payload = canonical_json({"name": name, "version": version, "inputs": dict(inputs)})
    return hashlib.sha256(payload.encode()).hexdigest()
