"""Tracer mean-squared displacement over all time origins, by FFT.

For one coordinate x(t) of T frames, MSD(m) = S1(m) − 2·S2(m) with
S1(m) = (1/(T−m)) Σ_k [x(k)² + x(k+m)²] (from cumulative sums) and S2(m) the
autocorrelation (1/(T−m)) Σ_k x(k)·x(k+m), computed by zero-padded FFT: O(T log T) per
atom instead of O(T²). Frames must be evenly spaced in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIRECTIONS: dict[str, tuple[int, ...]] = {
    "x": (0,), "y": (1,), "z": (2,), "xy": (0, 1), "xz": (0, 2), "yz": (1, 2), "xyz": (0, 1, 2),
}


@dataclass(frozen=True)
class MSDResult:
    """MSD per direction (Å²) against lag time (ps), plus per-atom curves for error analysis.

    lag_ps: (n_lags,); msd_A2[d]: (n_lags,) atom average; per_atom_A2[d]: (n_lags, n_atoms).
    """

    lag_ps: np.ndarray
    msd_A2: dict[str, np.ndarray]
    per_atom_A2: dict[str, np.ndarray]
    n_atoms: int
    positions: np.ndarray  # (n_frames, n_atoms, 3), kept for block re-analysis

    def dimension(self, direction: str) -> int:
        return len(DIRECTIONS[direction])


def _check_times(times_ps: np.ndarray) -> float:
    if times_ps.ndim != 1 or len(times_ps) < 3:
        raise ValueError(f"need at least 3 frames to compute an MSD, got {len(times_ps)}")
    dt = np.diff(times_ps)
    if np.any(dt <= 0):
        bad = int(np.flatnonzero(dt <= 0)[0]) + 1
        raise ValueError(f"frame times must increase; frame {bad} is not after frame {bad - 1}")
    if not np.allclose(dt, dt[0], rtol=1e-6, atol=1e-9):
        bad = int(np.flatnonzero(~np.isclose(dt, dt[0], rtol=1e-6, atol=1e-9))[0]) + 1
        raise ValueError(
            f"frames are not evenly spaced in time (frame {bad} breaks the spacing "
            f"{dt[0]:g} ps); the all-origins MSD needs uniform sampling: resample or split"
        )
    return float(dt[0])


def msd_fft_1d(x: np.ndarray) -> np.ndarray:
    """All-origins MSD of one coordinate; x: (T, n_atoms) → (T, n_atoms)."""
    x = np.asarray(x, dtype=np.float64)
    T = x.shape[0]
    n_fft = 1 << int(np.ceil(np.log2(2 * T)))
    f = np.fft.rfft(x, n=n_fft, axis=0)
    s2 = np.fft.irfft(f * f.conj(), n=n_fft, axis=0)[:T]
    counts = (T - np.arange(T))[:, None]
    s2 /= counts
    sq = x * x
    csum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(sq, axis=0)])
    total = csum[-1]
    m = np.arange(T)
    # Σ_{k<T−m} x(k)² + Σ_{k≥m} x(k)²
    s1 = (csum[T - m] + (total - csum[m])) / counts
    return s1 - 2.0 * s2


def compute_msd(
    positions: np.ndarray,
    times_ps: np.ndarray,
    directions: tuple[str, ...] = ("xy", "z", "xyz"),
    drift_reference: np.ndarray | None = None,
) -> MSDResult:
    """MSD of unwrapped ``positions`` (n_frames, n_atoms, 3) over all time origins.

    ``drift_reference`` (n_frames, n_ref, 3): if given, the mean displacement of those atoms
    (the framework) is subtracted, removing centre-of-mass drift.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[2] != 3:
        raise ValueError(f"positions must be (n_frames, n_atoms, 3), got {positions.shape}")
    unknown = [d for d in directions if d not in DIRECTIONS]
    if unknown:
        raise ValueError(f"unknown direction(s) {unknown}; choose from {', '.join(DIRECTIONS)}")
    dt = _check_times(np.asarray(times_ps, dtype=np.float64))
    if drift_reference is not None:
        ref = np.asarray(drift_reference, dtype=np.float64)
        drift = (ref - ref[0]).mean(axis=1)
        positions = positions - drift[:, None, :]
    per_component = {}
    needed = sorted({c for d in directions for c in DIRECTIONS[d]})
    for c in needed:
        per_component[c] = msd_fft_1d(positions[:, :, c])
    per_atom = {d: sum(per_component[c] for c in DIRECTIONS[d]) for d in directions}
    lag = dt * np.arange(positions.shape[0])
    return MSDResult(
        lag_ps=lag,
        msd_A2={d: v.mean(axis=1) for d, v in per_atom.items()},
        per_atom_A2=per_atom,
        n_atoms=positions.shape[1],
        positions=positions,
    )
