"""MD tasks refuse a run whose thermostat lost control, rather than feed it to an analysis."""

import numpy as np
import pytest

from atomflow.studies.md_tasks import _checked, thermostat_failure


def test_canonical_spread_passes_and_energy_release_fails():
    # canonical ensemble: the kinetic temperature of N atoms spreads by T sqrt(2 / 3N)
    for n_atoms in (8, 54, 230):
        target = 700.0
        std = target * np.sqrt(2.0 / (3 * n_atoms))
        assert thermostat_failure(target * 1.02, std, target) == ""
    # numbers from a Mo2N/WN interface run with limown-pod in which N paired up (N-N 1.11 Å):
    # 600 K target, 1228 K mean, 8104 K spread; and one at 500 K that averaged 814 K
    assert "averaged 1228 K" in thermostat_failure(1228.3, 8104.1, 600.0)
    assert thermostat_failure(814.2, 5191.7, 500.0)
    # a spike that leaves the mean close still fails on the spread
    assert thermostat_failure(640.0, 900.0, 600.0)


def test_task_check_names_the_trajectory():
    md = {"mean_temperature_K": 1228.3, "std_temperature_K": 8104.1, "trajectory": "t/traj.h5"}
    with pytest.raises(ValueError, match=r"not a run at that temperature.*t/traj\.h5"):
        _checked(md, 600.0)
    ok = {"mean_temperature_K": 702.8, "std_temperature_K": 40.9, "trajectory": "t/traj.h5"}
    assert _checked(ok, 700.0) is ok
