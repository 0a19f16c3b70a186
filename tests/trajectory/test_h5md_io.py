"""H5MD writer/reader: layout, round trip, resume, and surviving kill -9 between frames."""

import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from atomflow.errors import InputError
from atomflow.trajectory.h5md import H5MDWriter, read_h5md

SPECIES = np.array([1, 1, 2, 1, 2], dtype=np.int32)
NAMES = ["Li", "N"]


def _frame(k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(k)
    cell = np.array([[10.0 + 0.01 * k, 0, 0], [1.0, 9.0, 0], [0.5, 0.2, 8.0]])
    return rng.normal(0, 5, (len(SPECIES), 3)), cell


def _write(path, steps, **kw):
    with H5MDWriter(path, SPECIES, NAMES, 0.002, **kw) as w:
        for s in steps:
            pos, cell = _frame(s)
            w.append(s, pos, cell, {"temperature": 300.0 + s, "pressure": -s})
            w.flush()
        return w.last_step


def test_layout_follows_h5md_1_1(tmp_path):
    path = tmp_path / "t.h5"
    _write(path, [0, 10, 20])
    with h5py.File(path, "r") as f:
        assert list(f["h5md"].attrs["version"]) == [1, 1]
        assert f["h5md/creator"].attrs["name"] == "atomflow"
        assert "name" in f["h5md/author"].attrs
        pos = f["particles/all/position"]
        assert pos["value"].shape == (3, 5, 3) and pos["value"].maxshape[0] is None
        assert pos["value"].attrs["unit"] == "Angstrom" and pos["time"].attrs["unit"] == "ps"
        assert pos["step"].dtype == np.int64
        box = f["particles/all/box"]
        assert box.attrs["dimension"] == 3
        assert [b.decode() if isinstance(b, bytes) else b for b in box.attrs["boundary"]] == [
            "periodic"
        ] * 3
        assert box["edges/value"].shape == (3, 3, 3)
        sp = f["particles/all/species"]
        assert sp.dtype == np.int32 and list(sp[()]) == SPECIES.tolist()
        assert [n.decode() if isinstance(n, bytes) else n for n in sp.attrs["type_names"]] == NAMES
        assert f["observables/temperature/value"][()].tolist() == [300.0, 310.0, 320.0]
        assert f["parameters/atomflow"].attrs["timestep_ps"] == 0.002


def test_round_trip_and_species_selection(tmp_path):
    path = tmp_path / "t.h5"
    assert _write(path, [0, 10, 20, 30]) == 30
    traj = read_h5md(path)
    assert traj.positions.shape == (4, 5, 3)
    for i, s in enumerate([0, 10, 20, 30]):
        pos, cell = _frame(s)
        np.testing.assert_array_equal(traj.positions[i], pos)
        np.testing.assert_array_equal(traj.cells[i], cell)
    np.testing.assert_allclose(traj.times_ps, [0, 0.02, 0.04, 0.06])
    assert traj.species.tolist() == ["Li", "Li", "N", "Li", "N"]
    np.testing.assert_array_equal(traj.observables["pressure"], [0, -10, -20, -30])
    assert np.isnan(traj.observables["volume"]).all()  # declared but never given

    li = read_h5md(path, species="Li", frames=slice(1, None, 2))
    np.testing.assert_array_equal(li.steps, [10, 30])
    np.testing.assert_array_equal(li.positions[1], _frame(30)[0][[0, 1, 3]])
    assert li.species.tolist() == ["Li"] * 3
    np.testing.assert_array_equal(traj.select("N"), [2, 4])
    # slicing in memory gives what slicing on read gives
    late, read_late = traj.frames(slice(1, None, 2)), read_h5md(path, frames=slice(1, None, 2))
    for name in ("positions", "times_ps", "steps", "cells"):
        np.testing.assert_array_equal(getattr(late, name), getattr(read_late, name))
    np.testing.assert_array_equal(late.observables["pressure"], [-10, -30])
    with pytest.raises(InputError, match="Cl"):
        read_h5md(path, species="Cl")


def test_resume_truncates_then_appends(tmp_path):
    path = tmp_path / "t.h5"
    _write(path, range(0, 100, 10))
    with H5MDWriter(path, SPECIES, NAMES, 0.002, append=True) as w:
        assert w.last_step == 90
        assert w.truncate_after(55) == 6  # restart written at step 55: frames 60..90 go
        assert w.last_step == 50
        pos, cell = _frame(60)
        w.append(60, pos, cell)
        with pytest.raises(ValueError, match="does not follow"):
            w.append(60, pos, cell)
    traj = read_h5md(path)
    np.testing.assert_array_equal(traj.steps, [0, 10, 20, 30, 40, 50, 60])
    np.testing.assert_array_equal(traj.positions[-1], _frame(60)[0])
    assert len(traj.observables["temperature"]) == 7


def test_resume_refuses_other_system_and_keeps_file(tmp_path):
    path = tmp_path / "t.h5"
    _write(path, [0, 10])
    with pytest.raises(InputError, match="another system"):
        H5MDWriter(path, SPECIES[:3], NAMES, 0.002, append=True)
    assert read_h5md(path).n_frames == 2


def test_undeclared_observable_is_an_error(tmp_path):
    with H5MDWriter(tmp_path / "t.h5", SPECIES, NAMES, 0.002) as w:
        pos, cell = _frame(0)
        with pytest.raises(InputError, match="enthalpy"):
            w.append(0, pos, cell, {"enthalpy": 1.0})


def test_kill_9_between_frames_leaves_flushed_frames(tmp_path):
    path = tmp_path / "killed.h5"
    script = textwrap.dedent(
        f"""
        import os
        import numpy as np
        from atomflow.trajectory.h5md import H5MDWriter
        w = H5MDWriter({str(path)!r}, np.array({SPECIES.tolist()}), {NAMES!r}, 0.002)
        rng = np.random.default_rng(0)
        for step in range(0, 50, 10):
            w.append(step, np.full(({len(SPECIES)}, 3), float(step)), np.eye(3) * 10)
            w.flush()
        for step in range(50, 80, 10):  # appended but never flushed
            w.append(step, np.full(({len(SPECIES)}, 3), float(step)), np.eye(3) * 10)
        os.kill(os.getpid(), 9)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    traj = read_h5md(path)
    assert 5 <= traj.n_frames <= 8
    np.testing.assert_array_equal(traj.steps, np.arange(traj.n_frames) * 10)
    np.testing.assert_array_equal(traj.positions[:, 0, 0], traj.steps.astype(float))
    # and the run can resume into it
    with H5MDWriter(path, SPECIES, NAMES, 0.002, append=True) as w:
        assert w.truncate_after(40) == 5
        w.append(50, np.zeros((5, 3)), np.eye(3) * 10)
    assert read_h5md(path).steps.tolist() == [0, 10, 20, 30, 40, 50]


def test_mdanalysis_reads_our_file(tmp_path):
    pytest.importorskip("MDAnalysis")
    from MDAnalysis.coordinates.H5MD import H5MDReader

    path = tmp_path / "t.h5"
    _write(path, [0, 10, 20])
    reader = H5MDReader(str(path))
    assert reader.n_frames == 3
    ts = reader[2]
    np.testing.assert_allclose(ts.positions, _frame(20)[0], atol=1e-5)
    assert ts.time == pytest.approx(0.04)
    reader.close()


def test_unreadable_file_is_moved_aside_on_resume(tmp_path):
    path = tmp_path / "t.h5"
    path.write_bytes(b"\x89HDF killed while creating")
    with pytest.warns(UserWarning, match="unreadable"):
        _write(path, [0], append=True)
    assert (tmp_path / "t.h5.unreadable").exists()
    assert read_h5md(path).steps.tolist() == [0]


def test_a_file_killed_before_its_first_flush_gets_a_clear_error(tmp_path):
    """The writer's first open leaves HDF5's 'open for writing' flag set; a kill before the
    first flush leaves a file h5py refuses, which the reader explains instead of passing on."""
    path = tmp_path / "t.h5"
    script = textwrap.dedent(
        f"""
        import os
        import numpy as np
        from atomflow.trajectory.h5md import H5MDWriter
        w = H5MDWriter({str(path)!r}, np.array({SPECIES.tolist()}), {NAMES!r}, 0.002)
        os.kill(os.getpid(), 9)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    with pytest.raises(InputError, match="killed before it flushed its first frame"):
        read_h5md(path)
    # and resuming into it starts afresh, as the message says
    with pytest.warns(UserWarning):
        _write(path, [0], append=True)
    assert read_h5md(path).steps.tolist() == [0]
