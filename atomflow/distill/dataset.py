"""Labelled configurations on disk as extended XYZ (energy, forces, stress), reusable by
other fitting codes (FitSNAP, UF3, ACE), with a content hash and the per-pair closest
approach that defines where a fit may be trusted."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read, write


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
    """``"A-B"`` with the symbols sorted, as :func:`pair_min_distances` keys its pairs."""
    return "-".join(sorted((a, b)))


def clear_of_others(
    atoms: Atoms, moved: int, skip: Sequence[int], limits_A: dict[str, float]
) -> bool:
    """Whether atom ``moved`` is no closer to any atom but itself and ``skip`` than
    ``limits_A`` allows for their element pair (pairs not listed: no limit). Seeds and core
    paths that move one atom at another use it to keep the move from running into a third."""
    others = np.delete(np.arange(len(atoms)), [moved, *skip])
    if not len(others):
        return True
    sym = atoms.get_chemical_symbols()
    limit = np.array([limits_A.get(pair_key(sym[moved], sym[n]), 0.0) for n in others])
    return bool(np.all(atoms.get_distances(moved, others, mic=True) >= limit))


def pair_min_distances(frames: Sequence[Atoms], cutoff: float = 3.5) -> dict[str, float]:
    """Closest approach per element pair (``"A-B"``) over ``frames``, within ``cutoff`` Å."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from atomflow.structures.checks import min_distances

    best: dict[str, float] = {}
    for atoms in frames:
        for pair, d in min_distances(AseAtomsAdaptor.get_structure(atoms), cutoff).items():
            best[pair] = min(d, best.get(pair, np.inf))
    return best


def split(frames: Sequence[Atoms], test_fraction: float, seed: int) -> tuple[list, list]:
    """Random train/test split; the test set is held out of every fit."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frames))
    n_test = max(1, round(test_fraction * len(frames)))
    test = set(order[:n_test].tolist())
    train = [f for k, f in enumerate(frames) if k not in test]
    held = [f for k, f in enumerate(frames) if k in test]
    return train, held
