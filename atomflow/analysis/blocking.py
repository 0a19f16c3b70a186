"""Standard error of the mean of a correlated series by Flyvbjerg–Petersen blocking.

The series is halved repeatedly by averaging neighbouring pairs; once blocks are longer than
the correlation time the naive standard error stops growing. The estimate taken is the
largest over levels that keep at least ``min_blocks`` blocks (conservative).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BlockAverage:
    """mean and its standard error (same units as the series); levels: SEM per level."""

    mean: float
    sem: float
    n_samples: int
    n_blocks: int
    levels: tuple[float, ...]


def block_average(series: np.ndarray, min_blocks: int = 16) -> BlockAverage:
    """Mean and correlation-aware SEM of ``series`` (1-D)."""
    x = np.asarray(series, dtype=np.float64).ravel()
    if x.size < 4:
        raise ValueError(f"need at least 4 samples for an error bar, got {x.size}")
    mean = float(x.mean())
    levels, counts = [], []
    while x.size >= max(min_blocks, 4):
        levels.append(float(np.sqrt(x.var(ddof=1) / x.size)))
        counts.append(x.size)
        n = x.size // 2
        x = 0.5 * (x[: 2 * n : 2] + x[1 : 2 * n : 2])
    if not levels:
        sem = float(np.sqrt(np.asarray(series).var(ddof=1) / len(series)))
        return BlockAverage(mean, sem, len(series), len(series), (sem,))
    best = int(np.argmax(levels))
    return BlockAverage(
        mean, levels[best], int(np.asarray(series).size), counts[best], tuple(levels)
    )
