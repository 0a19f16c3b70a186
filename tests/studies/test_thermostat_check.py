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


def test_nvt_task_refuses_a_run_that_releases_energy_and_keeps_a_calm_one(tmp_path):
    """Real LAMMPS: Li3N (eSNAP) rattled by 0.35 Å releases far more heat than a weak
    thermostat (10 ps) removes in 0.5 ps at 100 K, so the task fails and names the file. The
    unrattled crystal under that thermostat stays near 50 K (equipartition halves the start
    temperature), which fails too; with the default 0.1 ps damping it is a run at 100 K."""
    from atomflow.structures import build_system
    from atomflow.studies.md_tasks import nvt_md, potential_input

    crystal = build_system("li3n", supercell=[2, 2, 2])[0].structure
    hot = crystal.copy()
    rng = np.random.default_rng(3)
    for i in range(len(hot)):
        hot.translate_sites([i], rng.normal(0, 0.35, 3), frac_coords=False)
    protocol = {"temperature_K": 100, "steps": 500, "sample_every": 50, "tdamp_ps": 10.0}
    pot = potential_input("li3n-esnap")
    with pytest.raises(ValueError, match=r"the run at 100 K averaged .*energy hole.*traj"):
        nvt_md.func(hot, pot, protocol, workdir=tmp_path / "hot")
    with pytest.raises(ValueError, match=r"stayed below its target.*tdamp_ps"):
        nvt_md.func(crystal, pot, protocol, workdir=tmp_path / "cold")
    protocol.update(tdamp_ps=0.1, steps=1000)
    calm = nvt_md.func(crystal, pot, protocol, workdir=tmp_path / "calm")
    assert abs(calm["md"]["mean_temperature_K"] - 100) < 25
