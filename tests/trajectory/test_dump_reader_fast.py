"""The fast LAMMPS dump reader (issue 4): the fast pass (one thread, or two threads over a
file's two halves) and the exact block pass agree, and every case the fast pass cannot vouch
for is handed to the exact pass: frames that shrink, ids out of order or written as floats,
large image flags, misplaced lines, frames larger than the block, an output that outgrows
its estimate, frames out of order at the split."""

import gzip
import shutil

import numpy as np
import pytest
from dumpwriter import known_walk, write_dump

import atomflow.trajectory.lammps_dump as ld
from atomflow.errors import InputError
from atomflow.trajectory import read_lammps_dump

CELL = np.diag([8.0, 9.0, 10.0])


pytestmark = pytest.mark.usefixtures("threads")  # one and two threads


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


def _same_as_exact(fast, path, truth):
    """``fast`` holds the true positions and is bit-identical to the exact pass."""
    exact = _exact(path)
    np.testing.assert_allclose(fast.positions, truth, atol=1e-8)
    np.testing.assert_array_equal(fast.positions, exact.positions)
    np.testing.assert_array_equal(fast.steps, exact.steps)
    np.testing.assert_array_equal(fast.cells, exact.cells)


def test_fast_pass_is_used_and_matches_the_exact_pass(tmp_path, passes):
    truth = _write(tmp_path / "a.dump", shuffle_seed=5)
    fast = read_lammps_dump(tmp_path / "a.dump", 0.001)
    assert passes["blocks"] == 0
    _same_as_exact(fast, tmp_path / "a.dump", truth)


def test_frames_larger_than_the_block(tmp_path, passes):
    truth = _write(tmp_path / "a.dump", n_frames=15, n_atoms=40, shuffle_seed=1)
    traj = read_lammps_dump(tmp_path / "a.dump", 0.001, chunk_mb=0.001)
    assert passes["blocks"] == 0
    np.testing.assert_allclose(traj.positions, truth, atol=1e-8)


def test_shrinking_frames_fall_back_to_the_exact_pass(tmp_path, passes):
    """Frames whose text is much shorter than the one before defeat the skip-ahead search
    for a frame's end; that must be caught, and the result must still be exact."""
    truth = _write(tmp_path / "a.dump", n_frames=6, n_atoms=10)
    text = (tmp_path / "a.dump").read_text().split("ITEM: TIMESTEP")
    # frame 4 written with 3 decimals instead of 10: far shorter, same values to 1e-3 (frame 4,
    # not 3: with two threads the second half starts at frame 3, with no skip-ahead)
    short = text[5].split("ITEM: ATOMS id type x y z ix iy iz\n")
    rows = [r.split() for r in short[1].strip().split("\n")]
    body = "".join(
        " ".join([r[0], r[1], *(f"{float(v):.3f}" for v in r[2:5]), *r[5:]]) + "\n" for r in rows
    )
    text[5] = short[0] + "ITEM: ATOMS id type x y z ix iy iz\n" + body
    (tmp_path / "s.dump").write_text("ITEM: TIMESTEP".join(text))
    traj = read_lammps_dump(tmp_path / "s.dump", 0.001)
    assert passes["blocks"] == 1
    np.testing.assert_allclose(traj.positions, truth, atol=1e-3)
    np.testing.assert_allclose(np.delete(traj.positions, 4, 0), np.delete(truth, 4, 0), atol=1e-8)


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


@pytest.mark.parametrize(
    "columns", ["id type x y z ix iy iz", "type xs ys zs id iz iy ix", "xu yu zu type"]
)
def test_two_halves_in_two_threads_match_the_exact_pass(tmp_path, passes, monkeypatch, columns):
    """Shuffled ids, a breathing triclinic box, no ids at all: the same as the exact pass."""
    monkeypatch.setattr(ld, "_SPLIT_MIN", 0)
    halves = []
    real = ld._halves
    monkeypatch.setattr(ld, "_halves", lambda *a: halves.append(a[-2:]) or real(*a))
    truth = known_walk(n_frames=21, n_atoms=8)
    tri = np.array([[8.0, 0, 0], [2.5, 9.0, 0], [-1.5, 2.0, 10.0]])
    cells = tri * (1 + 0.03 * np.sin(np.arange(21)))[:, None, None]
    seed = 7 if "id" in columns else None  # atoms shuffled where ids put them back in order
    write_dump(tmp_path / "a.dump", np.arange(21) * 10, truth, cells, [1, 2] * 4, columns, seed)
    fast = read_lammps_dump(tmp_path / "a.dump", 0.001, chunk_mb=0.001)
    assert passes["blocks"] == 0 and len(halves) == 1 and 0 < halves[0][1] < 21
    _same_as_exact(fast, tmp_path / "a.dump", truth)


def test_two_halves_name_frames_by_their_number_in_the_file(tmp_path, monkeypatch):
    """The second thread's frames keep their numbers: a repeated TIMESTEP where the second
    half starts and a truncated last frame are named as with one thread."""
    monkeypatch.setattr(ld, "_SPLIT_MIN", 0)
    _write(tmp_path / "a.dump", n_frames=10, n_atoms=6)
    text = (tmp_path / "a.dump").read_text()
    (tmp_path / "t.dump").write_text(text[:-30])
    with pytest.warns(UserWarning, match=r"last frame \(frame 9\) is truncated"):
        assert read_lammps_dump(tmp_path / "t.dump", 0.001).n_frames == 9
    parts = text.split("ITEM: TIMESTEP")
    k = next(i for i in range(10) if len("ITEM: TIMESTEP".join(parts[: i + 1])) >= len(text) // 2)
    parts[k + 1] = parts[k + 1].replace(f"\n{10 * k}\n", f"\n{10 * k - 10}\n", 1)
    (tmp_path / "r.dump").write_text("ITEM: TIMESTEP".join(parts))
    with pytest.raises(InputError, match=f"frame {k} has TIMESTEP {10 * k - 10}, not after"):
        read_lammps_dump(tmp_path / "r.dump", 0.001)


def test_gzip_and_minimum_image_files_are_read_in_one_thread(tmp_path, monkeypatch):
    monkeypatch.setattr(ld, "_SPLIT_MIN", 0)
    monkeypatch.setattr(ld, "_halves", None)  # fails if called
    truth = known_walk(n_frames=8, n_atoms=4, step=0.4)
    write_dump(tmp_path / "a.dump", range(8), truth, _cells(8), [1] * 4, "id type x y z")
    r = read_lammps_dump(tmp_path / "a.dump", 0.001).positions
    np.testing.assert_allclose(r - r[0], truth - truth[0], atol=1e-8)
    _write(tmp_path / "b.dump", n_frames=8, n_atoms=4)
    with open(tmp_path / "b.dump", "rb") as f, gzip.open(tmp_path / "b.dump.gz", "wb") as g:
        shutil.copyfileobj(f, g)
    assert read_lammps_dump(tmp_path / "b.dump.gz", 0.001).n_frames == 8
