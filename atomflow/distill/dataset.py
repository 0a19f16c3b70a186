"""Labelled configurations on disk as extended XYZ (energy, forces, stress), reusable by
other fitting codes (FitSNAP, UF3, ACE), with a content hash and the per-pair closest
approach that defines where a fit may be trusted."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import combinations_with_replacement
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read, write
from ase.neighborlist import neighbor_list


def write_frames(frames: Sequence[Atoms], path: Path) -> Path:
    """Write labelled frames as extxyz (``energy=``, ``stress=``, ``forces`` columns)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    write(tmp, list(frames), format="extxyz")
    tmp.replace(path)
    return path


def read_frames(path: Path) -> list[Atoms]:
    return list(read(path, index=":", format="extxyz"))


def frames_hash(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(Path(p).read_bytes())
    return h.hexdigest()


def pair_key(a: str, b: str) -> str:
    return "-".join(sorted((a, b)))


def pair_min_distances(frames: Sequence[Atoms], cutoff: float = 3.5) -> dict[str, float]:
    """Closest approach per element pair over ``frames`` (pairs never within cutoff omitted)."""
    best: dict[str, float] = {}
    for atoms in frames:
        i, j, d = neighbor_list("ijd", atoms, cutoff)
        sym = np.array(atoms.get_chemical_symbols())
        keep = i < j
        for a, b, dist in zip(sym[i[keep]], sym[j[keep]], d[keep], strict=True):
            k = pair_key(a, b)
            if dist < best.get(k, np.inf):
                best[k] = float(dist)
    return best


def all_pairs(elements: Sequence[str]) -> list[str]:
    return [pair_key(a, b) for a, b in combinations_with_replacement(sorted(elements), 2)]


def split(frames: Sequence[Atoms], test_fraction: float, seed: int) -> tuple[list, list]:
    """Random train/test split; the test set is held out of every fit."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frames))
    n_test = max(1, round(test_fraction * len(frames)))
    test = set(order[:n_test].tolist())
    train = [f for k, f in enumerate(frames) if k not in test]
    held = [f for k, f in enumerate(frames) if k in test]
    return train, held
