"""FFT all-origins MSD against exact results, a slow direct sum, and tidynamics."""

import h5py
import numpy as np
import pytest

from atomflow.analysis.msd import DIRECTIONS, compute_msd
from atomflow.errors import InputError


def msd_slow(positions: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """The obvious O(T²) definition: average over atoms and every time origin."""
    x = positions[:, :, list(axes)]
    T = len(x)
    out = np.zeros(T)
    for m in range(1, T):
        total, count = 0.0, 0
        for k in range(T - m):
            total += ((x[k + m] - x[k]) ** 2).sum()
            count += x.shape[1]
        out[m] = total / count
    return out


@pytest.fixture
def walk():
    rng = np.random.default_rng(7)
    return np.cumsum(rng.normal(0, 0.3, (60, 5, 3)), axis=0) + rng.uniform(0, 20, (1, 5, 3))


def test_matches_direct_sum_every_direction(walk):
    res = compute_msd(walk, np.arange(60) * 0.1, directions=tuple(DIRECTIONS))
    np.testing.assert_allclose(res.lag_ps, np.arange(60) * 0.1)
    for d, axes in DIRECTIONS.items():
        np.testing.assert_allclose(res.msd_A2[d], msd_slow(walk, axes), rtol=1e-10, atol=1e-10)


def test_ballistic_is_d_t_squared():
    T = 200
    t = np.arange(T, dtype=float)
    pos = np.zeros((T, 3, 3))
    pos[:] = t[:, None, None] * np.array([1.0, -1.0, 1.0])  # one unit per step on each axis
    pos += np.arange(3)[None, :, None] * 5.0
    res = compute_msd(pos, t * 0.5, directions=("x", "xy", "xyz", "yz"))
    for d in ("x", "xy", "xyz", "yz"):
        np.testing.assert_allclose(res.msd_A2[d], len(d) * t**2, rtol=1e-9, atol=1e-8)


def test_matches_tidynamics(walk):
    tidynamics = pytest.importorskip("tidynamics")
    res = compute_msd(walk, np.arange(60), directions=("x", "xz", "xyz"))
    for d in ("x", "xz", "xyz"):
        axes = list(DIRECTIONS[d])
        ref = np.mean([tidynamics.msd(walk[:, i][:, axes]) for i in range(walk.shape[1])], axis=0)
        np.testing.assert_allclose(res.msd_A2[d][1:], ref[1:], rtol=1e-6)


def test_blocks_per_atom_and_h5py_input_agree(walk, tmp_path):
    full = compute_msd(walk, np.arange(60), directions=("xyz",), keep_per_atom=True)
    tiny = compute_msd(walk, np.arange(60), directions=("xyz",), memory_mb=1e-3)
    np.testing.assert_allclose(tiny.msd_A2["xyz"], full.msd_A2["xyz"], rtol=1e-12)
    np.testing.assert_allclose(full.per_atom_A2["xyz"].mean(axis=1), full.msd_A2["xyz"], atol=1e-9)
    np.testing.assert_allclose(
        full.per_atom_A2["xyz"][:, 2], msd_slow(walk[:, 2:3], (0, 1, 2)), atol=1e-9
    )
    with h5py.File(tmp_path / "p.h5", "w") as f:
        f["p"] = walk
        lazy = compute_msd(f["p"], np.arange(60), directions=("xyz",), memory_mb=1e-3)
    np.testing.assert_allclose(lazy.msd_A2["xyz"], full.msd_A2["xyz"], rtol=1e-12)


def test_drift_correction_removes_framework_motion(walk):
    rng = np.random.default_rng(1)
    framework = rng.uniform(0, 10, (1, 8, 3)) + rng.normal(0, 0.05, (60, 8, 3))
    drift = np.cumsum(np.full((60, 1, 3), 0.7), axis=0)  # the whole cell slides
    framework_mean = (framework - framework[0]).mean(axis=1, keepdims=True)
    res = compute_msd(
        walk + drift, np.arange(60), directions=("xyz",), drift_reference=framework + drift
    )
    np.testing.assert_allclose(
        res.msd_A2["xyz"], msd_slow(walk - framework_mean, (0, 1, 2)), rtol=1e-9, atol=1e-9
    )


def test_uneven_times_name_the_frame(walk):
    times = np.arange(60, dtype=float)
    times[17:] += 0.5
    with pytest.raises(InputError, match="frame 17"):
        compute_msd(walk, times)
    with pytest.raises(InputError, match="unknown direction"):
        compute_msd(walk, np.arange(60), directions=("xx",))
