"""The fast LAMMPS dump reader (issue 4): the streamed pass and the exact block pass agree,
and every case the streamed pass cannot vouch for is handed to the exact pass: frames that
shrink, ids out of order or written as floats, large image flags, misplaced lines, frames
split across batches, an output that outgrows its estimate."""

import gzip
import shutil

import numpy as np
import pytest
from dumpwriter import known_walk, write_dump

import atomflow.trajectory.lammps_dump as ld
from atomflow.errors import InputError
from atomflow.trajectory import read_lammps_dump

CELL = np.diag([8.0, 9.0, 10.0])


def _cells(n):
    return np.broadcast_to(CELL, (n, 3, 3))


def _write(path, n_frames=20, n_atoms=12, columns="id type x y z ix iy iz", **kw):
    truth = known_walk(n_frames=n_frames, n_atoms=n_atoms)
    write_dump(
        path,
        np.arange(n_frames) * 10,
        truth,
        _cells(n_frames),
        [1, 2] * (n_atoms // 2),
        columns,
        **kw,
    )
    return truth


@pytest.fixture
def passes(monkeypatch):
    """Counts which pass produced the result."""
    used = {"blocks": 0}
    real = ld._read_blocks

    def blocks(*a, **k):
        used["blocks"] += 1
        return real(*a, **k)

    monkeypatch.setattr(ld, "_read_blocks", blocks)
    return used


def _exact(path, **kw):
    """The exact block pass alone."""
    state = ld._read_blocks(path, kw.get("types"), kw.get("species"), 1 << 20)
    return state.finish(0.001)


def test_streamed_pass_is_used_and_matches_the_exact_pass(tmp_path, passes):
    truth = _write(tmp_path / "a.dump", shuffle_seed=5)
    fast = read_lammps_dump(tmp_path / "a.dump", 0.001)
    assert passes["blocks"] == 0
    exact = _exact(tmp_path / "a.dump")
    np.testing.assert_allclose(fast.positions, truth, atol=1e-8)
    np.testing.assert_array_equal(fast.positions, exact.positions)
    np.testing.assert_array_equal(fast.steps, exact.steps)
    np.testing.assert_array_equal(fast.cells, exact.cells)


def test_frames_split_across_many_small_batches(tmp_path, passes, monkeypatch):
    monkeypatch.setattr(ld, "_STREAM_BLOCK", 256)  # a frame spans several batches
    monkeypatch.setattr(ld, "_STAGE_ROWS", 5)
    truth = _write(tmp_path / "a.dump", n_frames=15, n_atoms=40, shuffle_seed=1)
    traj = read_lammps_dump(tmp_path / "a.dump", 0.001, chunk_mb=0.001)
    assert passes["blocks"] == 0
    np.testing.assert_allclose(traj.positions, truth, atol=1e-8)


def test_shrinking_frames_fall_back_to_the_exact_pass(tmp_path, passes):
    """Frames whose text is much shorter than the one before defeat the skip-ahead search
    for a frame's end; that must be caught, and the result must still be exact."""
    truth = _write(tmp_path / "a.dump", n_frames=6, n_atoms=10)
    text = (tmp_path / "a.dump").read_text().split("ITEM: TIMESTEP")
    # frame 3 written with 3 decimals instead of 10: far shorter, same values to 1e-3
    short = text[4].split("ITEM: ATOMS id type x y z ix iy iz\n")
    rows = [r.split() for r in short[1].strip().split("\n")]
    body = "".join(
        " ".join([r[0], r[1], *(f"{float(v):.3f}" for v in r[2:5]), *r[5:]]) + "\n" for r in rows
    )
    text[4] = short[0] + "ITEM: ATOMS id type x y z ix iy iz\n" + body
    (tmp_path / "s.dump").write_text("ITEM: TIMESTEP".join(text))
    traj = read_lammps_dump(tmp_path / "s.dump", 0.001)
    assert passes["blocks"] == 1
    np.testing.assert_allclose(traj.positions, truth, atol=1e-3)
    np.testing.assert_allclose(np.delete(traj.positions, 3, 0), np.delete(truth, 3, 0), atol=1e-8)


def test_output_grows_past_its_estimate(tmp_path, monkeypatch):
    """Frame 0 written long and the rest short: the output estimated from frame 0 is too
    small and must grow."""
    truth = _write(tmp_path / "a.dump", n_frames=30, n_atoms=6, fmt="{:.3f}")
    text = (tmp_path / "a.dump").read_text().split("ITEM: TIMESTEP")
    text[1] = text[1].replace("\n1 1 ", "\n1 1 " + "0" * 2000)  # a long first line
    (tmp_path / "g.dump").write_text("ITEM: TIMESTEP".join(text))
    traj = read_lammps_dump(tmp_path / "g.dump", 0.001)
    assert traj.n_frames == 30
    np.testing.assert_allclose(traj.positions, truth, atol=1e-3)


def test_ids_out_of_order_sparse_and_float(tmp_path, passes):
    truth = known_walk(n_frames=8, n_atoms=6)
    write_dump(tmp_path / "a.dump", range(8), truth, _cells(8), [1] * 6, shuffle_seed=2)
    text = (tmp_path / "a.dump").read_text()
    lines = text.split("\n")
    # ids 1..6 → 10**9 + id (sparse: no lookup table) or id.0 (floats: parsed leniently)
    for name, fix in (("sparse", lambda i: str(10**9 + int(i))), ("float", lambda i: i + ".0")):
        out, in_atoms = [], False
        for ln in lines:
            if ln.startswith("ITEM:"):
                in_atoms = ln.startswith("ITEM: ATOMS")
                out.append(ln)
            elif in_atoms and ln:
                first, rest = ln.split(" ", 1)
                out.append(fix(first) + " " + rest)
            else:
                out.append(ln)
        (tmp_path / f"{name}.dump").write_text("\n".join(out))
        traj = read_lammps_dump(tmp_path / f"{name}.dump", 0.001)
        np.testing.assert_allclose(traj.positions, truth, atol=1e-8)


def test_image_flags_beyond_int16(tmp_path):
    truth = known_walk(n_frames=5, n_atoms=4) + np.array([8.0 * 40000, 0, 0])
    write_dump(tmp_path / "a.dump", range(5), truth, _cells(5), [1] * 4)
    assert " 40000 " in (tmp_path / "a.dump").read_text()
    traj = read_lammps_dump(tmp_path / "a.dump", 0.001)
    np.testing.assert_allclose(traj.positions, truth, atol=1e-6)


def test_last_line_without_newline_and_gzip(tmp_path, passes):
    truth = _write(tmp_path / "a.dump", n_frames=7, n_atoms=4)
    text = (tmp_path / "a.dump").read_text().rstrip("\n")
    (tmp_path / "n.dump").write_text(text)
    with gzip.open(tmp_path / "n.dump.gz", "wt") as f:
        f.write(text)
    for name in ("n.dump", "n.dump.gz"):
        traj = read_lammps_dump(tmp_path / name, 0.001)
        np.testing.assert_allclose(traj.positions, truth, atol=1e-8)
    assert passes["blocks"] == 0


def test_misplaced_line_with_ids_names_the_frame(tmp_path):
    """Frame 2 has one line too many and frame 3 one too few: the totals agree, but the
    frames do not."""
    _write(tmp_path / "a.dump", n_frames=6, n_atoms=4)
    parts = (tmp_path / "a.dump").read_text().split("ITEM: TIMESTEP")
    head3, atoms3 = parts[4].split("ix iy iz\n")
    first, rest = atoms3.split("\n", 1)
    parts[3] += first + "\n"
    parts[4] = head3 + "ix iy iz\n" + rest
    (tmp_path / "m.dump").write_text("ITEM: TIMESTEP".join(parts))
    with pytest.raises(InputError, match=r"frame 2 \(TIMESTEP 20\): 5 atom lines but NUMBER OF"):
        read_lammps_dump(tmp_path / "m.dump", 0.001)


def test_line_count_checked_per_frame_without_ids(tmp_path, passes):
    _write(tmp_path / "a.dump", n_frames=5, n_atoms=4, columns="type xu yu zu")
    parts = (tmp_path / "a.dump").read_text().split("ITEM: TIMESTEP")
    parts[2] = parts[2].rstrip("\n").rsplit("\n", 1)[0] + "\n"  # frame 1 loses a line
    parts[3] = parts[3] + "1 0.5 0.5 0.5\n"  # frame 2 gains one
    (tmp_path / "c.dump").write_text("ITEM: TIMESTEP".join(parts))
    with pytest.raises(InputError, match=r"frame 1 \(TIMESTEP 10\): 3 atom lines"):
        read_lammps_dump(tmp_path / "c.dump", 0.001)


def test_file_ending_inside_a_header_warns(tmp_path):
    truth = _write(tmp_path / "a.dump", n_frames=4, n_atoms=4)
    with open(tmp_path / "a.dump", "a") as f:
        f.write("ITEM: TIMESTEP\n40\nITEM: NUMBER OF ATOMS\n")
    with pytest.warns(UserWarning, match="ends inside a frame header"):
        traj = read_lammps_dump(tmp_path / "a.dump", 0.001)
    np.testing.assert_allclose(traj.positions, truth, atol=1e-8)


def test_not_a_dump(tmp_path):
    (tmp_path / "x.dump").write_text("hello\n" * 100)
    with pytest.raises(InputError, match="no 'ITEM: ATOMS' section"):
        read_lammps_dump(tmp_path / "x.dump", 0.001)


def _overhead(path):
    """Peak memory of reading ``path`` in a fresh process, beyond the output array (bytes)."""
    import subprocess
    import sys

    code = (
        "import pyarrow.csv\n"
        "from atomflow.trajectory import read_lammps_dump\n"
        "def kb(f):\n"
        "    for l in open('/proc/self/status'):\n"
        "        if l.startswith(f): return int(l.split()[1]) * 1024\n"
        "base = kb('VmRSS')\n"
        f"t = read_lammps_dump({str(path)!r}, 0.001)\n"
        "print(kb('VmHWM') - base - t.positions.nbytes, t.positions.nbytes)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    extra, nbytes = (int(v) for v in out.stdout.split())
    return extra, nbytes


def test_peak_memory_beyond_the_output_does_not_grow_with_the_file(tmp_path):
    """The reader streams: what it holds beside the output (buffers, a few batches) is a
    fixed ~40 MB (more when a busy machine lets pyarrow read further ahead), not more for a
    3× longer file, so peak/output → 1 for large outputs."""
    rng = np.random.default_rng(0)
    n = 4000
    body = "".join(
        f"{i + 1} {i % 2 + 1} {x:.5f} {y:.5f} {z:.5f} 0 0 0\n"
        for i, (x, y, z) in enumerate(rng.uniform(0, 30, (n, 3)))
    )
    head = "ITEM: NUMBER OF ATOMS\n4000\nITEM: BOX BOUNDS pp pp pp\n0 30\n0 30\n0 30\n"
    extras = []
    for frames in (100, 300):
        path = tmp_path / f"{frames}.dump"
        with open(path, "w") as f:
            for t in range(frames):
                f.write(f"ITEM: TIMESTEP\n{t}\n{head}ITEM: ATOMS id type x y z ix iy iz\n{body}")
        extra, nbytes = _overhead(path)
        assert nbytes == frames * n * 24
        extras.append(extra)
    assert max(extras) < 80e6, extras
    assert extras[1] - extras[0] < 20e6, extras  # the 300-frame file has 31 MB more text


def test_aligned_columns_use_the_exact_pass(tmp_path, passes):
    truth = _write(tmp_path / "a.dump", n_frames=4, n_atoms=4, fmt="{:>16.8f}")
    traj = read_lammps_dump(tmp_path / "a.dump", 0.001)
    assert passes["blocks"] == 1
    np.testing.assert_allclose(traj.positions, truth, atol=1e-7)


def test_copy_of_a_file_reads_the_same(tmp_path):
    truth = _write(tmp_path / "a.dump")
    shutil.copy(tmp_path / "a.dump", tmp_path / "b.dump")
    a = read_lammps_dump(tmp_path / "a.dump", 0.001)
    b = read_lammps_dump(tmp_path / "b.dump", 0.001)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_allclose(a.positions, truth, atol=1e-8)


def test_a_missing_value_is_an_error_naming_the_frames(tmp_path):
    _write(tmp_path / "a.dump", n_frames=5, n_atoms=4)
    parts = (tmp_path / "a.dump").read_text().split("ITEM: TIMESTEP")
    head, atoms = parts[3].split("ix iy iz\n")
    rows = atoms.split("\n")
    cols = rows[1].split(" ")
    cols[3] = ""  # frame 2, second atom: y missing (two spaces in a row)
    rows[1] = " ".join(cols)
    parts[3] = head + "ix iy iz\n" + "\n".join(rows)
    (tmp_path / "e.dump").write_text("ITEM: TIMESTEP".join(parts))
    with pytest.raises(InputError, match=r"frames 0–4: unreadable atom lines"):
        read_lammps_dump(tmp_path / "e.dump", 0.001)
