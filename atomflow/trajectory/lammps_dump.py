"""LAMMPS text dumps (``dump custom``/``dump atom``, plain or gzip) into an unwrapped Trajectory.

What is read: any column order; positions as ``x y z`` (wrapped), ``xs ys zs`` (scaled),
``xu yu zu`` (unwrapped) or ``xsu ysu zsu`` (scaled unwrapped); image flags ``ix iy iz``;
``id`` (frames are sorted by it); ``type`` or ``element`` for the species; orthogonal,
restricted triclinic (``xy xz yz``) and general triclinic (``abc origin``) boxes, which may
change from frame to frame (NPT).

Unwrapping: exact from image flags (r + n·H(t), as LAMMPS defines ``xu``) when present;
otherwise the minimum image between consecutive frames, with a warning when any atom moved
more than a quarter of the box between two frames (then the unwrapping may be wrong: dump
more often).

Speed and memory: one pass over the file. The text is read in blocks (``chunk_mb``) into one
reused buffer; each frame is found with a few ``find`` calls (the search for a frame's end
starts most of the previous frame's length in), its header parsed (once per distinct box:
only the TIMESTEP differs between most frames) and checked, and the atom lines of a block's
whole frames, headers stripped, are parsed by pyarrow's CSV reader in this thread: typed
columns (ids int32, image flags int16, positions float64), only the columns needed. Ids not
in frame 0's order are put back in order by a lookup table (O(N) per frame), then r = x + n·H.
A plain file of 32 MB or more whose frames do not depend on the one before (image flags or
unwrapped positions) is read as its two halves in two threads, each storing its own frames
of the output (pyarrow and numpy release the GIL): about 1.8× faster on two free cores, no
faster when the other core is busy. Anything the fast pass cannot vouch for (a parse error,
a line count or ids that do not add up, aligned columns, ids written as floats, image flags
beyond int16, frames misjudged at the split) sends the whole file to the exact pass
instead: blocks of whole frames, every frame's lines counted, with the errors below. The
output is allocated once, from the file size (pages never written cost no memory), without
transparent huge pages (see :func:`_output`). Measured (``benchmarks/analysis.py``): the
reader holds about 40–50 MB beside the output, 1.1–1.2× the output for 240–480 MB outputs.

Bad input: a truncated last frame is dropped with a warning; a changing atom count, changing
or missing columns, non-increasing timesteps or a mismatched atom-line count give an
:class:`~atomflow.errors.InputError` naming the frame (0-based) and its TIMESTEP.

A dump does not record the integration timestep, so ``timestep_ps`` is required: frame times
are TIMESTEP × timestep_ps.
"""

from __future__ import annotations

import copy
import ctypes
import gzip
import mmap
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atomflow.errors import InputError
from atomflow.trajectory.frames import Trajectory

_ATOMS = b"ITEM: ATOMS"
_ITEM = b"ITEM:"
_TIMESTEP = b"ITEM: TIMESTEP"
_AXES = ("x", "y", "z")
# position column kinds, in order of preference: (suffix, scaled, unwrapped)
_KINDS = (("u", False, True), ("su", True, True), ("", False, False), ("s", True, False))
# the search for a frame's end starts this fraction of the previous frame's atom text in
_SKIP = 0.9
_SPLIT_MIN = 1 << 25  # plain files from this size are read as two halves in two threads


class _Retry(Exception):
    """The fast pass over a block found something it cannot vouch for: re-read it exactly."""


@dataclass(frozen=True)
class _Header:
    timestep: int
    n_atoms: int
    cell: np.ndarray  # (3, 3) rows are the box vectors, Å
    origin: np.ndarray  # (3,) Å
    columns: tuple[str, ...]


def _open(path: Path):
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _text_size(path: Path) -> int:
    """The dump's text size in bytes: the file size, or gzip's ISIZE (mod 2**32) if larger."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        if f.read(2) != b"\x1f\x8b" or size < 18:
            return size
        f.seek(-4, os.SEEK_END)
        return max(size, int.from_bytes(f.read(4), "little"))


class _Text:
    """The dump's text, a block at a time: ``buf[:n]`` holds whole bytes from the file, from
    the start of a frame (what a block left over is moved to the front for the next one)."""

    def __init__(self, f, block: int, stop: int | None = None):
        self.f, self.block = f, block
        self.buf = bytearray(block + block // 2)
        self.n = 0
        self.eof = False
        self.left = None if stop is None else stop - f.tell()  # bytes to read before stop

    def fill(self) -> None:
        if len(self.buf) - self.n < self.block // 2:  # a frame larger than the block: grow
            new = bytearray(self.n + self.block)
            new[: self.n] = self.buf[: self.n]
            self.buf = new
        view = memoryview(self.buf)
        while self.n < len(self.buf) and not self.eof:
            end = len(self.buf) if self.left is None else self.n + self.left
            got = self.f.readinto(view[self.n : end]) or 0
            self.n += got
            self.eof = not got
            if self.left is not None:
                self.left -= got
        del view

    def consume(self, pos: int) -> None:
        """Drop ``buf[:pos]`` (processed frames); keep the rest at the front."""
        rest = self.n - pos
        if rest and pos:
            self.buf[:rest] = self.buf[pos : self.n]
        self.n = rest


def _box(name: str, lines: list[bytes], where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        vals = np.array([[float(v) for v in ln.split()] for ln in lines[:3]])
    except ValueError as exc:
        raise InputError(f"{where}: unreadable BOX BOUNDS values ({exc})") from None
    words = name.split()[2:]  # after "BOX BOUNDS"
    if vals.shape[0] != 3:
        raise InputError(f"{where}: BOX BOUNDS needs 3 lines, found {vals.shape[0]}")
    if "abc" in words:  # general triclinic: "ax ay az ox" per line
        return vals[:, :3].copy(), vals[:, 3].copy()
    if "xy" in words:
        (xlo_b, xhi_b, xy), (ylo_b, yhi_b, xz), (zlo_b, zhi_b, yz) = vals[:, :3]
        xlo = xlo_b - min(0.0, xy, xz, xy + xz)
        xhi = xhi_b - max(0.0, xy, xz, xy + xz)
        ylo, yhi = ylo_b - min(0.0, yz), yhi_b - max(0.0, yz)
        cell = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi_b - zlo_b]])
        return cell, np.array([xlo, ylo, zlo_b])
    lo, hi = vals[:, 0], vals[:, 1]
    return np.diag(hi - lo), lo.copy()


def _parse_header(text: bytes, where: str) -> _Header:
    items: dict[str, list[bytes]] = {}
    for part in text.split(b"ITEM:")[1:]:
        lines = part.strip().split(b"\n")
        items[lines[0].decode().strip()] = lines[1:]
    keys = list(items)
    try:
        timestep = int(items["TIMESTEP"][0].split()[0])
        n_atoms = int(items["NUMBER OF ATOMS"][0].split()[0])
    except (KeyError, IndexError, ValueError):
        raise InputError(
            f"{where}: header lacks a readable TIMESTEP or NUMBER OF ATOMS (items found: {keys})"
        ) from None
    box_key = next((k for k in keys if k.startswith("BOX BOUNDS")), None)
    if box_key is None:
        raise InputError(f"{where}: header has no BOX BOUNDS item (items found: {keys})")
    cell, origin = _box(box_key, items[box_key], where)
    atoms_key = next(k for k in keys if k.startswith("ATOMS"))
    return _Header(timestep, n_atoms, cell, origin, tuple(atoms_key.split()[1:]))


@dataclass(frozen=True)
class _Layout:
    """Which columns hold what; derived once from the first frame."""

    columns: tuple[str, ...]
    pos: tuple[int, int, int]
    scaled: bool
    unwrapped: bool
    image: tuple[int, int, int] | None
    id: int | None
    species: int | None
    element: bool
    charge: int | None


def _layout(columns: tuple[str, ...], where: str) -> _Layout:
    idx = {c: i for i, c in enumerate(columns)}
    for suffix, scaled, unwrapped in _KINDS:  # noqa: B007 (used after the loop)
        names = [a + suffix for a in _AXES]
        if all(n in idx for n in names):
            break
    else:
        raise InputError(
            f"{where} lacks columns for positions (has {list(columns)}); it needs x y z, "
            "xs ys zs, xu yu zu or xsu ysu zsu (e.g. dump custom ... id type xu yu zu)"
        )
    images = [f"i{a}" for a in _AXES]
    has_image = all(n in idx for n in images)
    element = "element" in idx
    species = idx.get("element", idx.get("type"))
    return _Layout(
        columns=columns,
        pos=tuple(idx[n] for n in names),
        scaled=scaled,
        unwrapped=unwrapped,
        image=tuple(idx[n] for n in images) if has_image and not unwrapped else None,
        id=idx.get("id"),
        species=species,
        element=element,
        charge=idx.get("q"),
    )


def _column_types(layout: _Layout, lenient: bool) -> dict[int, str]:
    """The columns a block needs and how to parse them: ids as int32 and image flags as
    int16 (cheaper to parse than floats; LAMMPS writes them as integers), positions float64.
    ``lenient``: everything as float64 (ids written as 1.0, or values out of those ranges)."""
    kinds = {i: "float64" for i in layout.pos}
    if layout.id is not None:
        kinds[layout.id] = "float64" if lenient else "int32"
    for i in layout.image or ():
        kinds[i] = "float64" if lenient else "int16"
    return kinds


def _csv_options(pa, pacsv, kinds: dict[int, str]) -> dict:
    """pyarrow parse and convert options for atom lines: space-separated, no quoting, no
    null markers (an empty value is an error, not a null; this alone saves 15 % of the
    parse), only the columns in ``kinds``, with their types."""
    return {
        "parse_options": pacsv.ParseOptions(
            delimiter=" ", quote_char=False, double_quote=False, escape_char=False
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types={f"c{i}": getattr(pa, k)() for i, k in kinds.items()},
            include_columns=[f"c{i}" for i in sorted(kinds)],
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }


def _parse_columns(data, layout: _Layout, n_rows: int, lenient: bool) -> dict[int, np.ndarray]:
    """The numeric columns a block of atom lines needs: {column index: (n_rows,) array}."""
    kinds = _column_types(layout, lenient)
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow is a dependency; numpy is the fallback
        return _parse_columns_numpy(bytes(data), layout, n_rows, kinds)
    first = bytes(data[:256]).split(b"\n", 1)[0]
    if first.startswith(b" ") or b"  " in first or b"\t" in first:  # aligned columns
        data = re.sub(rb"[ \t]+", b" ", bytes(data))
        data = re.sub(rb"(?m)^ | $", b"", data)
        first = data[: data.find(b"\n")]
    names = [f"c{i}" for i in range(len(layout.columns))]
    if first.endswith(b" "):  # LAMMPS ends each atom line with a space
        names.append("pad")
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(
                column_names=names, block_size=len(data) + 1, use_threads=False
            ),
            **_csv_options(pa, pacsv, kinds),
            memory_pool=pa.system_memory_pool(),  # returns memory at once (peak ≈ output)
        )
    except pa.ArrowInvalid as exc:
        raise InputError(f"unreadable atom lines ({str(exc).splitlines()[0]})") from None
    if table.num_rows != n_rows:
        raise InputError(f"expected {n_rows} atom lines, parsed {table.num_rows}")
    out = {}
    for i, kind in kinds.items():
        parts = []
        for chunk in table.column(f"c{i}").chunks:
            if chunk.null_count:
                raise InputError(f"empty values in column {layout.columns[i]!r}")
            # the value buffer itself, no copy (Array.to_numpy would import pandas)
            vals = np.frombuffer(chunk.buffers()[1], kind, chunk.offset + len(chunk))
            parts.append(vals[chunk.offset :])
        out[i] = parts[0] if len(parts) == 1 else np.concatenate(parts)
        table = table.drop_columns([f"c{i}"])  # frees that column's chunks
    return out


def _parse_columns_numpy(data, layout, n_rows, kinds):  # pragma: no cover - fallback
    n_cols = len(layout.columns)
    if layout.element:
        vals = np.array(data.split(), dtype=object)
        vals[layout.species :: n_cols] = "nan"
        table = vals.astype(np.float64)
    else:
        table = np.fromstring(data, sep=" ")
    if table.size != n_rows * n_cols:
        raise InputError(f"expected {n_rows} atom lines of {n_cols} values, parsed {table.size}")
    table = table.reshape(n_rows, n_cols)
    return {i: table[:, i] for i in kinds}


def read_lammps_dump(
    path: str | os.PathLike,
    timestep_ps: float | None,
    *,
    types: Mapping[str | int, str] | Sequence[str] | None = None,
    species: str | Sequence[str] | None = None,
    chunk_mb: float = 4.0,
) -> Trajectory:
    """Read a LAMMPS text dump (optionally gzip) into a :class:`Trajectory` of unwrapped Å.

    ``timestep_ps`` is the MD integration timestep (ps): frame times are TIMESTEP × it.
    ``types`` maps LAMMPS types to labels (``{"1": "Li", "2": "Cl"}`` or ``["Li", "Cl"]``);
    without it, an ``element`` column or else the type numbers (as strings) label the atoms.
    ``species`` keeps only atoms with those labels. ``chunk_mb`` is the text block size.
    A ``q`` column fills :attr:`Trajectory.charges` (from the first frame).
    """
    path = Path(path)
    if timestep_ps is None:
        raise InputError(
            f"{path}: a LAMMPS dump does not record the MD timestep; pass timestep_ps (the "
            "integration timestep in ps, e.g. 0.001 for 1 fs; CLI --timestep-ps): frame "
            "times are TIMESTEP × timestep_ps"
        )
    if not timestep_ps > 0:
        raise InputError(f"timestep_ps must be positive, got {timestep_ps}")
    if not path.is_file():
        raise FileNotFoundError(f"trajectory {path} does not exist")
    block = max(64, int(chunk_mb * 2**20))
    try:
        state = _read_fast(path, types, species, block)
    except _Retry:
        state = None
    if state is None:  # unusual files, or anything the fast pass could not vouch for
        state = _read_blocks(path, types, species, block)
    for note in state.notes:
        warnings.warn(note, stacklevel=2)
    traj = state.finish(timestep_ps)
    del state
    _release_free_memory()
    return traj


def _first_state(path: Path, text: _Text, types, species) -> _ReadState:
    size = _text_size(path)
    while True:
        text.fill()
        state = _ReadState.start(path, text, size, types, species)
        if state is not None:
            return state


def _read_fast(path: Path, types, species, block: int) -> _ReadState | None:
    """The fast pass: blocks of whole frames, the search for each frame's end starting most
    of the previous frame's length in, lines counted only without ids (the ids check the
    frames); a large plain file is read as two halves in two threads (:func:`_halves`).
    Raises :class:`_Retry` on anything unexpected; None for aligned columns."""
    with _open(path) as f:
        text = _Text(f, block)
        state = _first_state(path, text, types, species)
        first = state.first_line
        if first.startswith(b" ") or b"  " in first or b"\t" in first:
            return None  # aligned columns: the exact pass squeezes the whitespace
        split = _split(path, f, state)
        if split is None:
            state.read_text(text, exact=False)
            return state
    del text  # its buffer
    _halves(path, state, block // 2, *split)
    return state


def _read_blocks(path: Path, types, species, block: int) -> _ReadState:
    """The exact pass: blocks of whole frames, every frame's lines counted, parsed a block
    at a time (whitespace squeezed for aligned columns, floats where ints do not fit)."""
    with _open(path) as f:
        text = _Text(f, block)
        state = _first_state(path, text, types, species)
        state.read_text(text, exact=True)
    return state


def _split(path: Path, f, state: _ReadState) -> tuple[int, int] | None:
    """Where a large plain file is split for two threads: the first frame start past its
    middle, found as the fast pass finds frames (so the same frames fall on each side), and
    how many frames come before it. None for gzip, small files, one core, or minimum-image
    unwrapping (each frame depends on the one before)."""
    lay = state.layout
    size = path.stat().st_size
    if (
        isinstance(f, gzip.GzipFile)
        or size < _SPLIT_MIN
        or (os.cpu_count() or 1) < 2
        or not (lay.unwrapped or lay.image is not None)
    ):
        return None
    fd, pos, frames, skip = f.fileno(), 0, 0, 0
    while pos < size // 2:
        a = _find(fd, _ATOMS, pos)
        start = _find(fd, b"\n", a) + 1 if a >= 0 else 0
        end = _find(fd, _ITEM, start + skip, max(4096, skip // 8)) if start else -1
        if end < 0:
            return None
        pos, frames, skip = end, frames + 1, int(_SKIP * (end - start))
    return pos, frames


def _find(fd: int, what: bytes, pos: int, piece: int = 4096) -> int:
    """Where ``what`` first occurs in the file at or after ``pos`` (-1: nowhere), read a
    ``piece`` at a time (a memory map would count the pages it touches as the reader's)."""
    while True:
        got = os.pread(fd, piece + len(what) - 1, pos)
        if (i := got.find(what)) >= 0:
            return pos + i
        if len(got) < piece + len(what) - 1:
            return -1
        pos += piece


def _halves(path: Path, state: _ReadState, block: int, split: int, k: int) -> None:
    """The fast pass over a plain file's two halves in two threads: frames 0…k-1 (bytes up
    to ``split``) in this one, the rest in the other, each into its own frames of the one
    output (pyarrow and numpy release the GIL)."""
    second = state.part(k)
    with open(path, "rb") as f, open(path, "rb") as g, ThreadPoolExecutor(1) as pool:
        g.seek(split)
        later = pool.submit(second.read_text, _Text(g, block), exact=False)
        state.read_text(_Text(f, block, stop=split), exact=False)
        later.result()
    if state.frame != k or (second.frame > k and second.steps[k] <= state.last_step):
        raise _Retry  # frames misjudged at the split, or not in order: the exact pass says
    state.frame, state.end = second.frame, None
    state.last_step = second.last_step if second.frame > k else state.last_step
    state.notes += second.notes


class _ReadState:
    """Output arrays and what the first frame fixed (columns, ids, labels, box)."""

    def __init__(self, path, header, capacity, type_names, species):
        self.path = path
        self.header0 = header
        self.layout = _layout(header.columns, f"{path}: frame 0")
        self.n_atoms = header.n_atoms
        self.type_names = type_names
        self.species_wanted = species
        self.capacity = capacity
        self.steps = np.empty(capacity, np.int64)
        self.cells = np.empty((capacity, 3, 3))
        self.frame = 0  # frames stored so far
        self.end: int | None = None  # the frame to stop before where another thread goes on
        self.last_step: int | None = None
        self.skip = 0  # where the fast pass starts its search for a frame's end
        self.prev_wrapped: np.ndarray | None = None  # for minimum-image unwrapping
        self.big_jumps = 0
        self.lenient = False  # parse every column as float64
        self.lookup: np.ndarray | None = None  # atom id → row in frame 0's sorted order
        self.notes: list[str] = []  # warnings, given once the read has succeeded
        self._headers: dict[bytes, tuple] = {}
        self._pack = bytearray()

    @classmethod
    def start(cls, path, text: _Text, size: int, type_names, species) -> _ReadState | None:
        """From frame 0 at the front of ``text``; None while it is not complete there."""
        buf, n = text.buf, text.n
        a = buf.find(_ATOMS, 0, n)
        start = buf.find(b"\n", a, n) + 1 if a >= 0 else 0
        end = buf.find(_ITEM, start, n) if start else -1
        if a < 0 and (text.eof or buf.find(_ITEM, 0, min(n, 1 << 16)) < 0):
            raise InputError(f"{path}: no 'ITEM: ATOMS' section found; is this a LAMMPS text dump?")
        if start == 0 or end < 0:
            if not text.eof:
                return None
            end = n
        h = _parse_header(bytes(buf[:start]), f"{path}: frame 0")
        # the whole output, from the file size and frame 0's size (pages never written cost
        # no memory; the array is trimmed at the end and grown if the estimate falls short)
        capacity = max(1, int(size / max(1, end) * 1.25) + 2)
        state = cls(path, h, capacity, type_names, species)
        state.first_line = bytes(buf[start : buf.find(b"\n", start, end) if end > start else end])
        state.first_labels(bytes(buf[start:end]), h)
        return state

    def part(self, k: int) -> _ReadState:
        """A state for another thread that stores frames k… into the same output (up to its
        capacity: no growing); this one then stores frames before k only."""
        other = copy.copy(self)
        other.frame, other.end, other.last_step, other.skip = k, self.capacity, None, 0
        other._headers, other.notes, other._pack = {}, [], bytearray()
        self.end = k
        return other

    def first_labels(self, data: bytes, h: _Header) -> None:
        lay = self.layout
        where = f"{self.path}: frame 0"
        if lay.species is None:
            raise InputError(
                f"{where}: no 'type' or 'element' column among {list(h.columns)}; "
                "add one to the dump command"
            )
        lines = data.split(b"\n", h.n_atoms)[: h.n_atoms]
        rows = [ln.split() for ln in lines]
        if len(rows) < h.n_atoms or any(len(r) < len(h.columns) for r in rows):
            raise InputError(
                f"{where}: fewer complete atom lines than NUMBER OF ATOMS ({h.n_atoms})"
            )
        ids = (
            np.array([int(float(r[lay.id])) for r in rows])
            if lay.id is not None
            else np.arange(1, h.n_atoms + 1)
        )
        raw = [r[lay.species].decode() for r in rows]
        labels = np.array(
            raw if lay.element else [_type_label(t, self.type_names, where) for t in raw]
        )
        order = np.argsort(ids, kind="stable")
        self.charges = None
        if lay.charge is not None:
            self.charges = np.array([float(r[lay.charge]) for r in rows])[order]
        self.ids = ids[order]
        if len(np.unique(self.ids)) != len(self.ids):
            raise InputError(f"{where}: atom ids are not unique")
        if self.ids[0] >= 0 and self.ids[-1] < 4 * len(self.ids) + 1024:
            self.lookup = np.full(self.ids[-1] + 1, -1, np.int64)
            self.lookup[self.ids] = np.arange(len(self.ids))
        self.labels = labels[order]
        if self.species_wanted is None:
            self.keep = None
        else:
            wanted = (
                [self.species_wanted]
                if isinstance(self.species_wanted, str)
                else list(self.species_wanted)
            )
            self.keep = np.flatnonzero(np.isin(self.labels, wanted))
            if self.keep.size == 0:
                have = ", ".join(sorted(set(self.labels.tolist())))
                raise InputError(f"{self.path}: no atoms of species {wanted}; the dump has {have}")
            self.labels = self.labels[self.keep]
            if self.charges is not None:
                self.charges = self.charges[self.keep]
        self.positions = _output((self.capacity, len(self.labels), 3))

    # ---- frames in the text ------------------------------------------------------------

    def scan(self, buf, n, eof, pos, index, prev, count_lines):
        """The next frame in ``buf[pos:n]`` as (header, start, end) of its atom lines; None
        when there is no complete one there (yet); (None, note) for a truncated last frame.
        ``index`` is its frame number, ``prev`` the previous TIMESTEP. The search for the
        frame's end may start ``self.skip`` bytes in (a frame found wrong that way does not
        parse, and the file is then read again exactly). Raises InputError naming the
        frame."""
        a = buf.find(_ATOMS, pos, n)
        if a < 0:
            return None
        start = buf.find(b"\n", a, n) + 1
        if start == 0:
            return None  # header line not complete yet
        end = buf.find(_ITEM, min(start + self.skip, n), n)
        if end < 0:
            if not eof:
                return None
            end = n
        where = f"{self.path}: frame {index}"
        last = eof and end == n
        try:
            h = self.header(bytes(buf[pos:start]), where)
        except InputError:
            if last:
                return None, f"{where} has a truncated header; dropped"
            raise
        if last and not self.complete(buf, start, end, h):
            return None, (
                f"{self.path}: the last frame (frame {index}) is truncated (TIMESTEP "
                f"{h.timestep}: {_n_lines(buf, start, end)} of {h.n_atoms} atom lines, the "
                "last one possibly incomplete); it was dropped"
            )
        where += f" (TIMESTEP {h.timestep})"
        self.check(h, where, index, prev)
        if count_lines and (k := _n_lines(buf, start, end)) != h.n_atoms:
            raise InputError(f"{where}: {k} atom lines but NUMBER OF ATOMS is {h.n_atoms}")
        return h, start, end

    def leftover(self, buf, pos: int, n: int, notes: list[str]) -> None:
        if n > pos and bytes(buf[pos:n]).strip():
            notes.append(
                f"{self.path}: the file ends inside a frame header ({n - pos} bytes after the "
                "last complete frame); that partial frame was dropped"
            )

    # ---- a block at a time ---------------------------------------------------------------

    def read_text(self, text: _Text, exact: bool) -> None:
        """Store every frame in ``text``, a block at a time. The fast pass (not ``exact``)
        raises :class:`_Retry` where the exact one raises an InputError naming the frame."""
        try:
            while True:
                text.consume(self.read_block(text, exact))
                if text.eof:
                    break
                text.fill()
        except InputError:
            if exact:
                raise
            raise _Retry from None
        self.leftover(text.buf, 0, text.n, self.notes)

    def read_block(self, text: _Text, exact: bool) -> int:
        """Store the complete frames in ``text``; return how many bytes they took. Exact:
        every frame's lines counted; fast: only without ids, and each search for a frame's
        end starts most of the previous frame's length in."""
        buf, n, eof = text.buf, text.n, text.eof
        heads: list[_Header] = []
        spans: list[tuple[int, int]] = []
        pos, f0, prev = 0, self.frame, self.last_step
        count = exact or self.layout.id is None
        while (got := self.scan(buf, n, eof, pos, f0 + len(heads), prev, count)) is not None:
            if got[0] is None:
                self.notes.append(got[1])
                pos = n
                break
            h, start, end = got
            prev = h.timestep
            heads.append(h)
            spans.append((start, end))
            pos = end
            self.skip = 0 if exact else int(_SKIP * (end - start))
        if heads:
            self.add_block(heads, self.pack(buf, spans), f0, exact)
        return pos

    def header(self, raw: bytes, where: str) -> _Header:
        """The header of a frame; parsed once per distinct text apart from the TIMESTEP."""
        i = raw.find(_TIMESTEP)
        j = raw.find(b"\n", i) + 1 if i >= 0 else 0
        k = raw.find(b"\n", j) if j else -1
        key = raw[:j] + raw[k:] if k > j else None
        if key is not None and (hit := self._headers.get(key)) is not None:
            try:
                return _Header(int(raw[j:k]), *hit)
            except ValueError:
                pass
        h = _parse_header(raw, where)
        if key is not None:
            if len(self._headers) > 256:  # a changing box: do not hoard
                self._headers.clear()
            self._headers[key] = (h.n_atoms, h.cell, h.origin, h.columns)
        return h

    def complete(self, buf, start: int, end: int, h: _Header) -> bool:
        if h.columns != self.header0.columns or h.n_atoms != self.n_atoms:
            return True  # not a truncation: check() names the real problem
        if _n_lines(buf, start, end) < h.n_atoms:
            return False
        if end > start and buf[end - 1] != 10:
            last = buf[buf.rfind(b"\n", start, end) + 1 : end]
            return len(last.split()) >= len(h.columns)
        return True

    def check(self, h: _Header, where: str, index: int, prev: int | None) -> None:
        if h.n_atoms != self.n_atoms:
            raise InputError(
                f"{where} has {h.n_atoms} atoms, frame 0 had {self.n_atoms}; "
                "the atom count must not change (split the file there)"
            )
        if h.columns != self.header0.columns:
            raise InputError(
                f"{where}: columns {list(h.columns)} differ from frame 0's "
                f"{list(self.header0.columns)}"
            )
        if prev is not None and h.timestep <= prev:
            raise InputError(
                f"{self.path}: frame {index} has TIMESTEP {h.timestep}, not after "
                f"the previous {prev}; remove repeated frames (e.g. from a restart) or split "
                "the file"
            )

    def pack(self, buf: bytearray, spans: list[tuple[int, int]]) -> memoryview:
        """The atom lines of ``spans``, one after another, each ending in a newline."""
        src = memoryview(buf)
        if len(spans) == 1 and buf[spans[0][1] - 1] == 10:
            return src[spans[0][0] : spans[0][1]]  # one frame: no copy
        total = sum(e - s for s, e in spans) + len(spans)
        if len(self._pack) < total:
            self._pack = bytearray(int(total * 1.1))
        out = memoryview(self._pack)
        w = 0
        for s, e in spans:
            out[w : w + e - s] = src[s:e]
            w += e - s
            if buf[e - 1] != 10:
                out[w] = 10
                w += 1
        return out[:w]

    def add_block(self, headers: list[_Header], data, f0: int, exact: bool) -> None:
        F, N, lay = len(headers), self.n_atoms, self.layout
        try:
            try:
                cols = _parse_columns(data, lay, F * N, self.lenient)
            except InputError:
                if self.lenient or not exact:
                    raise
                cols = _parse_columns(data, lay, F * N, True)  # ids as 1.0, huge images
                self.lenient = True
        except InputError as exc:
            raise InputError(f"{self.path}: frames {f0}–{f0 + F - 1}: {exc}") from None
        del data
        self.store(cols, headers, f0)

    def store(self, cols: dict[int, np.ndarray], headers: list[_Header], f0: int) -> None:
        """Frames ``f0…`` from their parsed columns (flat, frame after frame)."""
        F, N, lay = len(headers), self.n_atoms, self.layout
        order = self.order(cols, F, f0)
        if order is not None and self.keep is not None:
            order = order[:, self.keep]

        def column(i: int) -> np.ndarray:
            a = cols.pop(i).reshape(F, N)
            if order is not None:
                return np.take_along_axis(a, order, axis=1)
            return a if self.keep is None else a[:, self.keep]

        if f0 + F > (self.capacity if self.end is None else self.end):
            if self.end is not None:
                raise _Retry  # more frames than counted before the split, or than estimated
            self.grow(f0 + F)
        cells = np.stack([h.cell for h in headers])
        origins = np.stack([h.origin for h in headers])
        out = self.positions[f0 : f0 + F]
        # the cell entries H[j, k] that are not zero in some frame of the block
        used = np.any(cells != 0, axis=0)
        terms = [[j for j in range(3) if used[j, k]] for k in range(3)]
        if lay.scaled:  # r = origin + (s + n)·H
            frac = [column(lay.pos[j]) for j in range(3)]
            if lay.image is not None:
                for j in range(3):
                    frac[j] = np.add(frac[j], column(lay.image[j]), dtype=np.float64)
            tmp = np.empty(out.shape[:2])
            for k in range(3):
                out[:, :, k] = origins[:, k, None]
                for j in terms[k]:
                    np.multiply(frac[j], cells[:, j, k, None], out=tmp)
                    out[:, :, k] += tmp
        elif lay.image is None:  # r = x
            for k in range(3):
                out[:, :, k] = column(lay.pos[k])
        else:  # r = x + n·H
            images = [column(lay.image[j]) for j in range(3)]
            tmp = np.empty(out.shape[:2])
            for k in range(3):
                x = column(lay.pos[k])
                for m, j in enumerate(terms[k]):
                    np.multiply(images[j], cells[:, j, k, None], out=tmp)
                    np.add(x if m == 0 else out[:, :, k], tmp, out=out[:, :, k])
                if not terms[k]:
                    out[:, :, k] = x
                del x
        if not lay.unwrapped and lay.image is None:
            self._minimum_image(out, cells)
        self.steps[f0 : f0 + F] = [h.timestep for h in headers]
        self.cells[f0 : f0 + F] = cells
        self.last_step = headers[-1].timestep
        self.frame = f0 + F

    def order(self, cols: dict[int, np.ndarray], F: int, f0: int) -> np.ndarray | None:
        """Per frame, the rows that put its atoms in frame 0's (sorted) order; None if they
        are in that order already."""
        if self.layout.id is None:
            return None
        N = self.n_atoms
        ids = cols.pop(self.layout.id).reshape(F, N)
        if np.array_equal(ids, np.broadcast_to(self.ids, ids.shape)):
            return None
        rows = np.arange(F)[:, None]
        if self.lookup is not None and ids.dtype.kind == "i":
            ok = (ids >= 0) & (ids < len(self.lookup))
            where = self.lookup[np.where(ok, ids, 0)]
            where[~ok] = -1
            seen = np.zeros((F, N), bool)
            seen[rows, np.maximum(where, 0)] = True
            bad = np.flatnonzero(np.any(where < 0, axis=1) | ~seen.all(axis=1))
            if not bad.size:
                order = np.empty((F, N), np.intp)
                order[rows, where] = np.arange(N)
                return order
        else:
            order = np.argsort(ids, axis=1, kind="stable")
            bad = np.flatnonzero(np.any(ids[rows, order] != self.ids, axis=1))
            if not bad.size:
                return order
        raise InputError(f"{self.path}: frame {f0 + bad[0]} holds other atom ids than frame 0")

    def grow(self, need: int) -> None:
        """The file has more frames than estimated: a larger output (a copy, rare)."""
        cap = max(need, int(self.capacity * 1.5) + 1)
        for name in ("positions", "steps", "cells"):
            old = getattr(self, name)
            new = _output((cap, *old.shape[1:]), old.dtype)
            new[: self.frame] = old[: self.frame]
            setattr(self, name, new)
        self.capacity = cap

    def _minimum_image(self, r: np.ndarray, cells: np.ndarray) -> None:
        """Unwrap wrapped positions ``r`` in place by the minimum image between consecutive
        frames (fractional coordinates of each frame's cell), carried across blocks."""
        for i in range(len(r)):
            wrapped = r[i].copy()
            if self.prev_wrapped is not None:
                frac = (wrapped - self.prev_wrapped) @ np.linalg.inv(cells[i])
                frac -= np.round(frac)
                self.big_jumps += int(np.count_nonzero(np.abs(frac) > 0.25))
                r[i] = self.prev_unwrapped + frac @ cells[i]
            self.prev_wrapped, self.prev_unwrapped = wrapped, r[i].copy()

    def finish(self, timestep_ps: float) -> Trajectory:
        if self.big_jumps:
            warnings.warn(
                f"{self.path}: no image flags, so positions were unwrapped by the minimum "
                f"image, but {self.big_jumps} atom steps between frames exceed a quarter of "
                "the box: the minimum image is ambiguous, so the unwrapped paths may be wrong "
                "(dump more often, or add ix iy iz)",
                stacklevel=3,
            )
        n = self.frame
        steps = self.steps[:n]
        return Trajectory(
            positions=self.positions[:n],  # the unused tail was never touched: no memory
            times_ps=steps * float(timestep_ps),
            steps=steps,
            cells=self.cells[:n].copy(),
            species=self.labels,
            charges=self.charges,
        )


def _output(shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    """An uninitialised array whose pages are allocated as they are first written.

    Large ones are an anonymous memory map rather than ``np.empty``: numpy asks for
    transparent huge pages on large arrays, and where the kernel compacts memory to provide
    them on first touch (``defrag=madvise``, a busy machine), writing a fresh output array
    was measured to cost 0.25–0.5 s per 240 MB, as much as a third of the whole read. Pages
    never written (beyond the last frame) are never allocated."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if nbytes < 1 << 22:
        return np.empty(shape, dtype)
    private = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS  # not shared with forked processes
    return np.frombuffer(mmap.mmap(-1, nbytes, flags=private), dtype).reshape(shape)


def _release_free_memory() -> None:
    """Hand the reading buffers' freed memory back to the OS now. glibc keeps freed blocks
    below its (self-raising) mmap threshold in its heaps, which would add some 30 MB to the
    peak of whatever runs next (the MSD); elsewhere this does nothing."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def _n_lines(buf, start: int, end: int) -> int:
    n = buf.count(b"\n", start, end)
    return n + (1 if end > start and buf[end - 1] != 10 else 0)


def _type_label(raw: str, type_names, where: str) -> str:
    if type_names is None:
        return raw
    t = int(float(raw))
    try:
        if isinstance(type_names, Mapping):
            return type_names[str(t)] if str(t) in type_names else type_names[t]
        return type_names[t - 1]
    except (KeyError, IndexError):
        raise InputError(
            f"{where}: type {t} has no name in {type_names!r}; give every type "
            "a name (CLI --types 1=Li,2=Cl)"
        ) from None
