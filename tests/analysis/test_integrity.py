"""Host-collapse check: typical contacts match a brute-force count, and each failure mode
(host contraction, atoms pairing up) is caught while thermal noise and diffusion are not."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from atomflow.analysis.integrity import check_integrity
from atomflow.trajectory.frames import Trajectory


def rocksalt(n_frames: int, noise_A: float = 0.08, seed: int = 0) -> Trajectory:
    """3x3x3 rock-salt W/N (a = 4.2 Å, W–N 2.1 Å) with Gaussian thermal noise per frame,
    plus two dilute Li on far-apart interstitial sites."""
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.2), ["W", "N"], [[0, 0, 0], [0.5] * 3])
    s.make_supercell([3, 3, 3])
    s.append("Li", [0.25, 0.25, 0.25])
    s.append("Li", [0.75, 0.75, 0.75])
    rng = np.random.default_rng(seed)
    base = s.cart_coords
    pos = base[None] + rng.normal(0, noise_A, (n_frames, len(s), 3))
    cells = np.repeat(s.lattice.matrix[None], n_frames, axis=0)
    species = np.array([site.specie.symbol for site in s])
    t = np.arange(n_frames) * 0.1
    return Trajectory(pos, t, np.arange(n_frames) * 100, cells, species)


def test_contacts_agree_with_a_brute_force_distance_matrix():
    traj = rocksalt(3)
    got = check_integrity(traj, mobile=["Li"]).contact_A
    frame0 = Structure(
        traj.cells[0], list(traj.species), traj.positions[0], coords_are_cartesian=True
    )
    dm = frame0.distance_matrix  # minimum image, pymatgen's own implementation
    np.fill_diagonal(dm, np.inf)
    sp = traj.species
    for pair in ("N-W", "N-N", "W-W"):
        a, b = pair.split("-")
        med_a = np.median(dm[np.ix_(sp == a, sp == b)].min(axis=1))
        med_b = np.median(dm[np.ix_(sp == b, sp == a)].min(axis=1))
        assert got[pair] == pytest.approx(min(med_a, med_b), abs=1e-9)
    # the mobile Li and its pairs are not checked
    assert set(got) == {"N-N", "N-W", "W-W"}
    # the nearest of six noisy 2.1 Å bonds: a little shorter than the bond itself
    assert 1.85 < got["N-W"] < 2.1


def test_thermal_noise_and_dilute_species_meeting_are_not_collapse():
    traj = rocksalt(100, noise_A=0.12)
    # the two Li walk together until they sit 1.2 Å apart: diffusion, not collapse
    pos = traj.positions.copy()
    li = np.flatnonzero(traj.species == "Li")
    target = pos[:, li[0]] + np.array([1.2, 0, 0])
    pos[50:, li[1]] = target[50:]
    walked = Trajectory(pos, traj.times_ps, traj.steps, traj.cells, traj.species)
    res = check_integrity(walked, mobile=["Li"])
    assert res.ok, res.reason()
    assert res.reason() == ""
    # without "mobile", Li pairs are checked only where they were neighbours at the start:
    # Li-N (1.8 Å on the tetrahedral site), not the two Li 10.9 Å apart
    assert set(check_integrity(walked).contact_A) == {"Li-N", "Li-W", "N-N", "N-W", "W-W"}


def test_a_contracting_host_collapses():
    traj = rocksalt(100)
    pos, cells = traj.positions.copy(), traj.cells.copy()
    pos[60:] *= 0.85  # from frame 60 the whole cell densifies by 15 % in length
    cells[60:] *= 0.85
    res = check_integrity(Trajectory(pos, traj.times_ps, traj.steps, cells, traj.species))
    assert not res.ok
    pairs = {c.pair: c for c in res.collapsed}
    assert {"N-W", "N-N", "W-W"} <= set(pairs)
    w = pairs["W-W"]
    assert w.frames_fraction == pytest.approx(40 / 99, abs=0.02)
    assert w.first_time_ps == pytest.approx(6.0)
    assert w.smallest_median_A < 0.9 * w.contact_A
    assert "W-W median contact" in res.reason()


def test_two_atoms_pairing_up_collapse_once_they_persist():
    traj = rocksalt(100)
    w = np.flatnonzero(traj.species == "W")[:2]
    contact = check_integrity(traj).contact_A["W-W"]

    def paired(frames: slice) -> Trajectory:
        pos = traj.positions.copy()
        pos[frames, w[1]] = pos[frames, w[0]] + np.array([0.5 * contact, 0, 0])
        return Trajectory(pos, traj.times_ps, traj.steps, traj.cells, traj.species)

    brief = check_integrity(paired(slice(50, 51)))  # one frame of 99: under 2 %
    assert brief.ok
    lasting = check_integrity(paired(slice(50, None)))
    assert not lasting.ok
    (ww,) = [c for c in lasting.collapsed if c.pair == "W-W"]
    assert ww.max_pairs_per_frame == 1
    assert ww.closest_A == pytest.approx(0.5 * contact, abs=1e-6)


def test_bad_settings_are_refused():
    traj = rocksalt(2)
    with pytest.raises(ValueError, match="ratio"):
        check_integrity(traj, ratio=1.2)
    with pytest.raises(ValueError, match="min_fraction"):
        check_integrity(traj, min_fraction=0)
    one = Trajectory(
        traj.positions[:1], traj.times_ps[:1], traj.steps[:1], traj.cells[:1], traj.species
    )
    with pytest.raises(ValueError, match="at least two"):
        check_integrity(one)
