"""The short-range safety scan flags a pair energy with a hole and passes a repulsive one."""

import numpy as np
import pytest
from ase.build import bulk
from ase.neighborlist import neighbor_list

from atomflow.distill.short_range import pair_scans


def _pair_energy(frames, phi):
    out = []
    for atoms in frames:
        d = neighbor_list("d", atoms, 6.0)
        out.append(0.5 * float(np.sum(phi(d))))
    return out


def _morse(r, r0=2.5):
    return (1 - np.exp(-1.5 * (r - r0))) ** 2 - 1


def test_a_repulsive_pair_energy_passes():
    rocksalt = bulk("NaCl", "rocksalt", a=5.0).repeat(2)
    scans = pair_scans(lambda f: _pair_energy(f, _morse), rocksalt)
    assert set(scans) == {"Cl-Cl", "Cl-Na", "Na-Na"}
    for s in scans.values():
        assert s["ok"]
        assert s["dE_eV"][-1] == 0.0 and s["dE_eV"][0] > 0
    assert scans["Cl-Na"]["r0_A"] == pytest.approx(2.5)


def test_a_hole_below_the_bond_is_flagged():
    def holey(r):  # Morse, but falling to -500 eV below 1.2 Å (what a bad linear fit does)
        return _morse(r) - 500.0 / (1 + np.exp((r - 1.2) / 0.05))

    rocksalt = bulk("NaCl", "rocksalt", a=5.0).repeat(2)
    scans = pair_scans(lambda f: _pair_energy(f, holey), rocksalt)
    assert not scans["Cl-Na"]["ok"]  # 0.35 r0 = 0.875 Å sits in the hole
    assert scans["Cl-Na"]["dE_eV"][0] < 0


def test_fractions_must_end_at_the_bond():
    with pytest.raises(ValueError, match=r"end at 1\.0"):
        pair_scans(lambda f: [0.0] * len(f), bulk("Cu", "fcc", a=3.6), fractions=(0.5, 0.9))


def test_a_dip_the_labeller_shares_is_not_a_hole():
    from atomflow.distill.short_range import follows_labeller

    labeller = [-40.0, -3.0, 0.2, 0.8, 0.5, 0.2, 0.0]  # N-N pulled towards a pernitride bond
    assert follows_labeller([-39.0, -2.5, 0.3, 0.9, 0.5, 0.2, 0.0], labeller)
    assert not follows_labeller([-400.0, -2.5, 0.3, 0.9, 0.5, 0.2, 0.0], labeller)
    assert not follows_labeller([-5.0, 1.0, 1.0, 1.0, 0.5, 0.2, 0.0], [30, 9, 4, 2, 1, 0.3, 0])
