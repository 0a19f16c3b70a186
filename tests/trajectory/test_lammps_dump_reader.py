"""The LAMMPS dump reader: exact unwrapping from known displacements, every column kind,
triclinic and changing boxes, gzip, shuffled ids, and bad input named by frame."""

import gzip
import shutil
import warnings

import numpy as np
import pytest
from dumpwriter import known_walk, write_dump

from atomflow.errors import InputError
from atomflow.trajectory import read_lammps_dump, read_trajectory

ORTHO = np.diag([8.0, 9.0, 10.0])
TRICLINIC = np.array([[8.0, 0, 0], [2.5, 9.0, 0], [-1.5, 2.0, 10.0]])


pytestmark = pytest.mark.usefixtures("threads")  # one and two threads


def _cells(cell, n, breathe=0.0):
    scale = 1 + breathe * np.sin(np.arange(n))[:, None, None]
    return np.broadcast_to(cell, (n, 3, 3)) * scale


@pytest.mark.parametrize(
    "columns",
    [
        "id type x y z ix iy iz",
        "type xs ys zs id iz iy ix",
        "id xu yu zu type",
        "xsu ysu zsu type id",
    ],
)
@pytest.mark.parametrize("cell", [ORTHO, TRICLINIC], ids=["ortho", "triclinic"])
def test_unwraps_exactly(tmp_path, columns, cell):
    """Large steps (1.5 Å, many box crossings) come back as the known unwrapped path, with
    the box breathing ±3 % from frame to frame (NPT)."""
    truth = known_walk(n_frames=25, n_atoms=10)
    cells = _cells(cell, 25, 0.03)
    # keep the unwrapped path consistent with LAMMPS's definition: r = f·cell(t) + n·cell(t)
    types = [1, 2] * 5
    write_dump(
        tmp_path / "a.dump", np.arange(25) * 10, truth, cells, types, columns, shuffle_seed=3
    )
    traj = read_lammps_dump(tmp_path / "a.dump", timestep_ps=0.002)
    assert np.allclose(traj.positions, truth, atol=1e-8)
    assert np.allclose(traj.cells, cells, atol=1e-9)
    assert np.array_equal(traj.steps, np.arange(25) * 10)
    assert np.allclose(traj.times_ps, np.arange(25) * 0.02)
    assert traj.species.tolist() == ["1", "2"] * 5


def test_minimum_image_without_flags_and_quarter_box_warning(tmp_path):
    truth = known_walk(n_frames=20, n_atoms=6, step=0.4)
    write_dump(
        tmp_path / "w.dump", range(20), truth, _cells(TRICLINIC, 20), [1] * 6, "id type x y z"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = read_lammps_dump(tmp_path / "w.dump", 0.001)
    assert np.allclose(traj.positions - traj.positions[0], truth - truth[0], atol=1e-8)
    big = known_walk(n_frames=20, n_atoms=6, step=3.0)
    write_dump(tmp_path / "b.dump", range(20), big, _cells(ORTHO, 20), [1] * 6, "id type x y z")
    with pytest.warns(UserWarning, match="minimum image is ambiguous"):
        read_lammps_dump(tmp_path / "b.dump", 0.001)


def test_gzip_types_element_and_charges(tmp_path):
    truth = known_walk(n_frames=8, n_atoms=4)
    write_dump(
        tmp_path / "a.dump", range(8), truth, _cells(ORTHO, 8), [1, 2, 2, 1], "id type q xu yu zu"
    )
    with open(tmp_path / "a.dump", "rb") as src, gzip.open(tmp_path / "a.dump.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    traj = read_trajectory(tmp_path / "a.dump.gz", timestep_ps=0.001, types={"1": "Li", "2": "Cl"})
    assert traj.species.tolist() == ["Li", "Cl", "Cl", "Li"]
    assert traj.charges.tolist() == [1.0, -1.0, -1.0, 1.0]
    assert np.allclose(traj.positions, truth, atol=1e-8)


def test_aligned_columns_use_the_whitespace_fallback(tmp_path):
    truth = known_walk(n_frames=5, n_atoms=4)
    write_dump(
        tmp_path / "a.dump",
        range(5),
        truth,
        _cells(ORTHO, 5),
        [1] * 4,
        "id type xu yu zu",
        fmt="{:>16.8f}",
    )
    traj = read_lammps_dump(tmp_path / "a.dump", 0.001)
    assert np.allclose(traj.positions, truth, atol=1e-7)


def test_small_chunks_stream_the_same_frames(tmp_path):
    truth = known_walk(n_frames=40, n_atoms=9)
    write_dump(
        tmp_path / "a.dump",
        range(40),
        truth,
        _cells(TRICLINIC, 40, 0.02),
        [1] * 9,
        "id type x y z ix iy iz",
    )
    a = read_lammps_dump(tmp_path / "a.dump", 0.001, chunk_mb=0.001)
    assert np.allclose(a.positions, truth, atol=1e-8)
    assert a.n_frames == 40


def _frames(tmp_path, n=6, atoms=4, columns="id type x y z ix iy iz"):
    write_dump(
        tmp_path / "a.dump",
        np.arange(n) * 5,
        known_walk(n, atoms),
        _cells(ORTHO, n),
        [1] * atoms,
        columns,
    )
    return (tmp_path / "a.dump").read_text()


def test_truncated_last_frame_is_dropped_with_warning(tmp_path):
    text = _frames(tmp_path)
    (tmp_path / "t.dump").write_text(text[: len(text) - 30])
    with pytest.warns(UserWarning, match=r"last frame \(frame 5\) is truncated"):
        traj = read_lammps_dump(tmp_path / "t.dump", 0.001)
    assert traj.n_frames == 5


def test_changing_atom_count_names_the_frame(tmp_path):
    text = _frames(tmp_path)
    parts = text.split("ITEM: TIMESTEP")
    bad = parts[3].replace("ITEM: NUMBER OF ATOMS\n4", "ITEM: NUMBER OF ATOMS\n3")
    bad = bad[: bad.rstrip("\n").rfind("\n") + 1]
    (tmp_path / "c.dump").write_text("ITEM: TIMESTEP".join([*parts[:3], bad, *parts[4:]]))
    with pytest.raises(InputError, match=r"frame 2 \(TIMESTEP 10\) has 3 atoms"):
        read_lammps_dump(tmp_path / "c.dump", 0.001)


def test_non_monotonic_timestep_names_the_frame(tmp_path):
    text = _frames(tmp_path).replace("ITEM: TIMESTEP\n15\n", "ITEM: TIMESTEP\n5\n")
    (tmp_path / "m.dump").write_text(text)
    with pytest.raises(InputError, match="frame 3 has TIMESTEP 5, not after the previous 10"):
        read_lammps_dump(tmp_path / "m.dump", 0.001)


def test_missing_columns_and_missing_timestep(tmp_path):
    _frames(tmp_path, columns="id type vx vy vz")
    with pytest.raises(InputError, match="lacks columns"):
        read_lammps_dump(tmp_path / "a.dump", 0.001)
    with pytest.raises(InputError, match="--timestep-ps"):
        read_lammps_dump(tmp_path / "a.dump", None)
    with pytest.raises(InputError, match="--types"):
        _frames(tmp_path)
        read_lammps_dump(tmp_path / "a.dump", 0.001, types={"2": "Li"})


def test_extxyz_through_ase_is_unwrapped(tmp_path):
    from ase import Atoms
    from ase.io import write

    truth = known_walk(n_frames=10, n_atoms=5, step=0.5)
    frames = []
    for k in range(10):
        at = Atoms("Li5", positions=truth[k], cell=TRICLINIC, pbc=True)
        at.wrap()
        frames.append(at)
    write(tmp_path / "t.extxyz", frames)
    traj = read_trajectory(tmp_path / "t.extxyz", timestep_ps=0.1)
    assert np.allclose(traj.positions - traj.positions[0], truth - truth[0], atol=1e-6)
    assert np.allclose(traj.times_ps, np.arange(10) * 0.1)
