"""Flyvbjerg–Petersen blocking against the analytic standard error of an AR(1) series."""

import numpy as np
import pytest

from atomflow.analysis.blocking import block_average


def _ar1(phi, n, seed):
    rng = np.random.default_rng(seed)
    e = rng.normal(0, 1, n)
    x = np.empty(n)
    x[0] = e[0] / np.sqrt(1 - phi**2)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


@pytest.mark.parametrize("phi", [0.0, 0.8, 0.95])
def test_blocking_sem_matches_ar1_theory(phi):
    """SEM of an AR(1) mean: σ_x/√n · √((1+φ)/(1−φ)), σ_x² = 1/(1−φ²). Over 20 series the
    mean blocking estimate is within 15 % of it and the spread of means agrees."""
    n = 2**15
    theory = np.sqrt(1 / (1 - phi**2) / n * (1 + phi) / (1 - phi))
    results = [block_average(_ar1(phi, n, s)) for s in range(20)]
    sems = np.array([r.sem for r in results])
    means = np.array([r.mean for r in results])
    assert sems.mean() == pytest.approx(theory, rel=0.15)
    assert means.std(ddof=1) == pytest.approx(theory, rel=0.4)


def test_blocking_rejects_tiny_series():
    with pytest.raises(ValueError, match="at least 4"):
        block_average(np.ones(3))
