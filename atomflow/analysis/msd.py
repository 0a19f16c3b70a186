"""Tracer mean-squared displacement over all time origins, by FFT, in blocks of atoms.

For one coordinate x(t) of T frames, MSD(m) = S1(m) − 2·S2(m) with
S1(m) = (1/(T−m)) Σ_k [x(k)² + x(k+m)²] (from cumulative sums) and S2(m) the
autocorrelation (1/(T−m)) Σ_k x(k)·x(k+m), computed by zero-padded FFT: O(T log T) per
atom instead of O(T²). Because only the atom average is needed, the power spectra of a
block of atoms are summed before the inverse transform, so one inverse FFT serves a block.

Atoms are processed in blocks (``memory_mb`` bounds the FFT workspace), and ``positions``
may be any array-like that slices as ``positions[:, a:b, :]`` (``np.memmap``, an h5py
dataset), so trajectories larger than RAM work.

Beside the mean, the engine samples the variance of single squared displacements at a grid
of lags (``MSDResult.grid``). :mod:`atomflow.analysis.diffusion` uses it for the covariance
model of the MSD (the non-Gaussian factor), which gives calibrated error bars on D.

Pitfalls: frames must be evenly spaced in time (an error names the first frame that is
not); positions must be unwrapped (the readers in :mod:`atomflow.trajectory` unwrap).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.fft

from atomflow.errors import InputError

DIRECTIONS: dict[str, tuple[int, ...]] = {
    "x": (0,),
    "y": (1,),
    "z": (2,),
    "xy": (0, 1),
    "xz": (0, 2),
    "yz": (1, 2),
    "xyz": (0, 1, 2),
}


@dataclass(frozen=True)
class MSDResult:
    """MSD per direction (Å²) against lag time (ps), with the statistics its error model needs.

    lag_ps: (n_lags,) ps, lag m·Δt for m = 0 … n_frames−1.
    msd_A2[d]: (n_lags,) Å², average over atoms and all time origins.
    per_atom_A2[d]: (n_lags, n_atoms) Å², only when ``keep_per_atom=True`` (else empty).
    n_atoms, n_frames: sizes of the analysed set.
    grid: (n_grid,) lag indices where single-displacement statistics were sampled.
    sd_mean_A2[d], sd_var_A4[d]: (n_grid,) mean (Å²) and variance (Å⁴) of single squared
        displacements Δr²(m) over the sampled (atom, origin) pairs at those lags.
    """

    lag_ps: np.ndarray
    msd_A2: dict[str, np.ndarray]
    per_atom_A2: dict[str, np.ndarray]
    n_atoms: int
    n_frames: int = 0
    grid: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sd_mean_A2: dict[str, np.ndarray] = field(default_factory=dict)
    sd_var_A4: dict[str, np.ndarray] = field(default_factory=dict)

    def dimension(self, direction: str) -> int:
        return len(DIRECTIONS[direction])

    @property
    def dt_ps(self) -> float:
        return float(self.lag_ps[1] - self.lag_ps[0])


def check_times(times_ps: np.ndarray) -> float:
    """The uniform frame spacing (ps); raises naming the first frame that breaks it."""
    times_ps = np.asarray(times_ps, dtype=np.float64)
    if times_ps.ndim != 1 or len(times_ps) < 3:
        raise InputError(f"need at least 3 frames to compute an MSD, got {len(times_ps)}")
    dt = np.diff(times_ps)
    if np.any(dt <= 0):
        bad = int(np.flatnonzero(dt <= 0)[0]) + 1
        raise InputError(
            f"frame times must increase; frame {bad} (t = {times_ps[bad]:g} ps) "
            f"is not after frame {bad - 1} (t = {times_ps[bad - 1]:g} ps)"
        )
    ok = np.isclose(dt, dt[0], rtol=1e-6, atol=1e-9)
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0]) + 1
        raise InputError(
            f"frames are not evenly spaced in time: frame {bad} (t = {times_ps[bad]:g} ps) "
            f"breaks the spacing {dt[0]:g} ps; the all-origins MSD needs uniform sampling: "
            "drop or split the trajectory at that frame (e.g. a restart with another dump "
            "interval)"
        )
    return float(dt[0])


def lag_grid(n_frames: int, n_log: int = 96, n_lin: int = 64) -> np.ndarray:
    """Lag indices (≥1) for the error statistics: log-spaced plus linear, unique, sorted."""
    top = n_frames - 1
    if top < 1:
        return np.zeros(0, dtype=np.int64)
    log = np.unique(np.round(np.geomspace(1, top, n_log)).astype(np.int64))
    lin = np.unique(np.round(np.linspace(1, top, n_lin)).astype(np.int64))
    return np.union1d(log, lin)


def msd_fft_1d(x: np.ndarray) -> np.ndarray:
    """All-origins MSD of one coordinate per atom; x: (T, n_atoms) → (T, n_atoms)."""
    x = np.asarray(x, dtype=np.float64)
    T = x.shape[0]
    n_fft = scipy.fft.next_fast_len(2 * T, real=True)
    f = scipy.fft.rfft(x, n=n_fft, axis=0)
    s2 = scipy.fft.irfft((f * f.conj()).real, n=n_fft, axis=0)[:T]
    counts = (T - np.arange(T))[:, None]
    s2 /= counts
    csum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x * x, axis=0)])
    m = np.arange(T)
    s1 = (csum[T - m] + (csum[-1] - csum[m])) / counts
    return s1 - 2.0 * s2


def _block_sum_msd(xb: np.ndarray, n_fft: int) -> np.ndarray:
    """Σ over atoms of the all-origins MSD of one coordinate; xb: (B, T) → (T,)."""
    T = xb.shape[1]
    f = scipy.fft.rfft(xb, n=n_fft, axis=1, workers=-1)
    power = (f.real**2 + f.imag**2).sum(axis=0)
    s2 = scipy.fft.irfft(power, n=n_fft)[:T]
    sq = (xb * xb).sum(axis=0)
    csum = np.concatenate([[0.0], np.cumsum(sq)])
    m = np.arange(T)
    return csum[T - m] + (csum[-1] - csum[m]) - 2.0 * s2  # not yet divided by T − m


def _drift(drift_reference, n_frames: int) -> np.ndarray | None:
    if drift_reference is None:
        return None
    ref = drift_reference
    if ref.ndim != 3 or ref.shape[0] != n_frames or ref.shape[2] != 3:
        raise InputError(
            f"drift_reference must be (n_frames={n_frames}, n_ref, 3), got {ref.shape}"
        )
    total = np.zeros((n_frames, 3))
    step = max(1, 2**22 // max(1, n_frames * 3))
    for a in range(0, ref.shape[1], step):
        r = np.asarray(ref[:, a : a + step], dtype=np.float64)
        total += (r - r[0]).sum(axis=1)
    return total / ref.shape[1]


def compute_msd(
    positions,
    times_ps: np.ndarray,
    directions: tuple[str, ...] = ("xy", "z", "xyz"),
    drift_reference=None,
    *,
    keep_per_atom: bool = False,
    memory_mb: float = 32.0,
    max_samples_per_lag: int = 200_000,
) -> MSDResult:
    """MSD of unwrapped ``positions`` (n_frames, n_atoms, 3) Å over all time origins.

    ``drift_reference`` (n_frames, n_ref, 3): if given, the mean displacement of those atoms
    (the framework) is subtracted from every frame, removing centre-of-mass drift.
    ``memory_mb`` bounds the FFT workspace per block of atoms. ``keep_per_atom`` stores
    (n_lags, n_atoms) curves per direction (memory heavy). ``max_samples_per_lag`` caps the
    (atom, origin) pairs used for the single-displacement variance at each grid lag.
    """
    shape = getattr(positions, "shape", None)
    if shape is None:
        positions = np.asarray(positions, dtype=np.float64)
        shape = positions.shape
    if len(shape) != 3 or shape[2] != 3:
        raise InputError(f"positions must be (n_frames, n_atoms, 3), got {tuple(shape)}")
    n_frames, n_atoms, _ = shape
    if n_atoms == 0:
        raise InputError("no atoms selected for the MSD (empty selection)")
    directions = tuple(directions)
    unknown = [d for d in directions if d not in DIRECTIONS]
    if unknown:
        raise InputError(f"unknown direction(s) {unknown}; choose from {', '.join(DIRECTIONS)}")
    times_ps = np.asarray(times_ps, dtype=np.float64)
    if times_ps.shape != (n_frames,):
        raise InputError(f"times_ps has shape {times_ps.shape}, expected ({n_frames},)")
    dt = check_times(times_ps)
    drift = _drift(drift_reference, n_frames)

    T = n_frames
    n_fft = scipy.fft.next_fast_len(2 * T, real=True)
    bytes_per_atom = 8 * (3 * T + 2 * (n_fft // 2 + 1) + n_fft)
    block = int(max(1, min(n_atoms, memory_mb * 2**20 // bytes_per_atom)))
    comps = sorted({c for d in directions for c in DIRECTIONS[d]})
    sums = {c: np.zeros(T) for c in comps}
    per_atom = {d: np.empty((T, n_atoms)) for d in directions} if keep_per_atom else {}

    grid = lag_grid(T)
    n_orig = np.minimum(T - grid, np.maximum(4, max_samples_per_lag // n_atoms))
    stride = np.maximum(1, (T - grid) // np.maximum(n_orig, 1))
    s1 = {d: np.zeros(len(grid)) for d in directions}
    s2 = {d: np.zeros(len(grid)) for d in directions}
    counts = np.zeros(len(grid))

    for a0 in range(0, n_atoms, block):
        a1 = min(n_atoms, a0 + block)
        chunk = np.asarray(positions[:, a0:a1, :], dtype=np.float64)
        if drift is not None:
            chunk = chunk - drift[:, None, :]
        xs = {c: np.ascontiguousarray(chunk[:, :, c].T) for c in comps}  # (B, T)
        del chunk
        for d in per_atom:
            per_atom[d][:, a0:a1] = 0.0
        for c in comps:
            if keep_per_atom:
                one = msd_fft_1d(xs[c].T)
                for d in directions:
                    if c in DIRECTIONS[d]:
                        per_atom[d][:, a0:a1] += one
            sums[c] += _block_sum_msd(xs[c], n_fft)
        for g, (m, s) in enumerate(zip(grid, stride, strict=True)):
            k = np.arange(0, T - m, s)
            sq = {c: (xs[c][:, k + m] - xs[c][:, k]) ** 2 for c in comps}
            for d in directions:
                v = sum(sq[c] for c in DIRECTIONS[d])
                s1[d][g] += v.sum()
                s2[d][g] += (v * v).sum()
            counts[g] += v.size
        del xs

    norm = (T - np.arange(T)) * float(n_atoms)
    msd = {d: sum(sums[c] for c in DIRECTIONS[d]) / norm for d in directions}
    for d in directions:
        msd[d][0] = 0.0
    sd_mean = {d: s1[d] / counts for d in directions}
    sd_var = {d: np.maximum(s2[d] / counts - sd_mean[d] ** 2, 0.0) for d in directions}
    return MSDResult(
        lag_ps=dt * np.arange(T),
        msd_A2=msd,
        per_atom_A2=per_atom,
        n_atoms=int(n_atoms),
        n_frames=int(T),
        grid=grid,
        sd_mean_A2=sd_mean,
        sd_var_A4=sd_var,
    )


def msd_direct(positions: np.ndarray, direction: str = "xyz") -> np.ndarray:
    """Slow O(T²) all-origins MSD (Å²) averaged over atoms; the obvious reference."""
    x = np.asarray(positions, dtype=np.float64)[:, :, list(DIRECTIONS[direction])]
    T = x.shape[0]
    out = np.zeros(T)
    for m in range(1, T):
        out[m] = ((x[m:] - x[:-m]) ** 2).sum(axis=2).mean()
    return out
