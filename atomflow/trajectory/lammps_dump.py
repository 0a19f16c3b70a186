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

Speed and memory: a first pass counts frames so the output is allocated once; a second pass
reads blocks of text (``block_mb``) ending at frame boundaries and parses each block in one
call (pyarrow's CSV reader, multithreaded, with numpy's text parser as fallback). Peak memory
is the output array plus a few blocks.

Bad input: a truncated last frame is dropped with a warning; a changing atom count, changing
or missing columns, non-increasing timesteps or a mismatched atom-line count give an
:class:`~atomflow.errors.InputError` naming the frame (0-based) and its TIMESTEP.

A dump does not record the integration timestep, so ``timestep_ps`` is required: frame times
are TIMESTEP × timestep_ps.
"""

from __future__ import annotations

import gzip
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atomflow.errors import InputError
from atomflow.trajectory.frames import Trajectory

_ATOMS = b"ITEM: ATOMS"
_AXES = ("x", "y", "z")
# position column kinds, in order of preference: (suffix, scaled, unwrapped)
_KINDS = (("u", False, True), ("su", True, True), ("", False, False), ("s", True, False))


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


def _count_frames(path: Path, block: int) -> int:
    n, tail = 0, b""
    with _open(path) as f:
        while chunk := f.read(block):
            data = tail + chunk
            n += data.count(_ATOMS)
            # keep a tail that cannot hold a whole match, so no match is counted twice
            tail = data[-(len(_ATOMS) - 1) :]
    return n


class _Span:
    """The atom lines of one frame: a slice of the block buffer, never copied."""

    __slots__ = ("buf", "end", "start")

    def __init__(self, buf: bytes, start: int, end: int):
        self.buf, self.start, self.end = buf, start, end

    def ends_newline(self) -> bool:
        return self.end > self.start and self.buf[self.end - 1] == 10

    def n_lines(self) -> int:
        n = self.buf.count(b"\n", self.start, self.end)
        return n + (1 if self.end > self.start and not self.ends_newline() else 0)

    def last_line(self) -> bytes:
        return self.buf[self.buf.rfind(b"\n", self.start, self.end) + 1 : self.end]

    def view(self) -> memoryview:
        return memoryview(self.buf)[self.start : self.end]


def _sections(path: Path, block: int) -> Iterator[tuple[list[tuple[bytes, _Span]], bool]]:
    """Yield ([(header, atom_lines)], at_eof) in blocks; the last section may be truncated."""
    buf = b""
    with _open(path) as f:
        eof = False
        while not eof:
            chunk = f.read(block)
            eof = not chunk
            buf = buf + chunk if buf else chunk
            frames, pos = [], 0
            while True:
                a = buf.find(_ATOMS, pos)
                if a < 0:
                    break
                start = buf.find(b"\n", a) + 1
                if start == 0:
                    break  # header line not complete yet
                end = buf.find(b"ITEM:", start)
                if end < 0:
                    if not eof:
                        break
                    end = len(buf)
                frames.append((buf[pos:start], _Span(buf, start, end)))
                pos = end
            buf = buf[pos:]
            if frames or eof:
                yield frames, eof
    if buf.strip():
        warnings.warn(
            f"{path}: the file ends inside a frame header ({len(buf)} bytes after the last "
            "complete frame); that partial frame was dropped",
            stacklevel=3,
        )


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


def _parse_columns(data: bytes, layout: _Layout, n_rows: int) -> dict[int, np.ndarray]:
    """The numeric columns a block of atom lines needs: {column index: (n_rows,) float64}."""
    keep = {
        c for c in (layout.id, layout.species, *layout.pos, *(layout.image or ())) if c is not None
    }
    if layout.element:
        keep.discard(layout.species)
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow is a dependency; numpy is the fallback
        return _parse_columns_numpy(data, layout, n_rows, keep)
    first = data[: data.find(b"\n")]
    if first.startswith(b" ") or b"  " in first or b"\t" in first:  # aligned columns
        data = re.sub(rb"[ \t]+", b" ", data)
        data = re.sub(rb"(?m)^ | $", b"", data)
        first = data[: data.find(b"\n")]
    names = [f"c{i}" for i in range(len(layout.columns))]
    if first.endswith(b" "):
        names.append("pad")
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(
                column_names=names, block_size=max(1 << 16, len(data) // 4 + 1)
            ),
            parse_options=pacsv.ParseOptions(delimiter=" "),
            convert_options=pacsv.ConvertOptions(
                column_types={f"c{i}": pa.float64() for i in keep},
                include_columns=[f"c{i}" for i in sorted(keep)],
            ),
            memory_pool=pa.system_memory_pool(),  # returns memory at once (peak ≈ output)
        )
    except pa.ArrowInvalid as exc:
        raise InputError(f"unreadable atom lines ({str(exc).splitlines()[0]})") from None
    if table.num_rows != n_rows:
        raise InputError(f"expected {n_rows} atom lines, parsed {table.num_rows}")
    out = {}
    for i in keep:
        parts = []
        for chunk in table.column(f"c{i}").chunks:
            if chunk.null_count:
                raise InputError(f"empty values in column {layout.columns[i]!r}")
            # the float64 buffer itself, no copy (Array.to_numpy would import pandas)
            vals = np.frombuffer(chunk.buffers()[1], np.float64)
            parts.append(vals[chunk.offset : chunk.offset + len(chunk)])
        out[i] = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return out


def _parse_columns_numpy(data, layout, n_rows, keep):  # pragma: no cover - fallback
    n_cols = len(layout.columns)
    if layout.element:
        vals = np.array(data.split(), dtype=object)
        vals[layout.species :: n_cols] = "nan"
        table = vals.astype(np.float64).reshape(n_rows, n_cols)
    else:
        table = np.fromstring(data, sep=" ").reshape(n_rows, n_cols)
    return {i: table[:, i] for i in keep}


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
    n_total = _count_frames(path, block)
    if n_total == 0:
        raise InputError(f"{path}: no 'ITEM: ATOMS' section found; is this a LAMMPS text dump?")

    state: _ReadState | None = None
    frame = 0
    for sections, eof in _sections(path, block):
        headers: list[_Header] = []
        datas: list[memoryview | bytes] = []
        for k, (head, data) in enumerate(sections):
            where = f"{path}: frame {frame + len(headers)}"
            last = eof and k == len(sections) - 1
            try:
                h = _parse_header(head, where)
            except InputError:
                if last:
                    warnings.warn(f"{where} has a truncated header; dropped", stacklevel=2)
                    break
                raise
            if state is None:
                state = _ReadState.start(path, h, n_total, types, species)
                state.first_labels(data, h)
            where += f" (TIMESTEP {h.timestep})"
            if last and not state.complete(data, h):
                warnings.warn(
                    f"{path}: the last frame (frame {frame + len(headers)}) is truncated "
                    f"(TIMESTEP {h.timestep}: {data.n_lines()} of {h.n_atoms} atom lines, the "
                    "last one possibly incomplete); it was dropped",
                    stacklevel=2,
                )
                break
            state.check(h, data, headers, where, frame + len(headers))
            headers.append(h)
            datas.append(data.view() if data.ends_newline() else bytes(data.view()) + b"\n")
        if headers:
            state.add_block(headers, b"".join(datas), frame)
            frame += len(headers)
    assert state is not None
    return state.finish(frame, timestep_ps)


class _ReadState:
    """Output arrays and what the first frame fixed (columns, ids, labels, box)."""

    def __init__(self, path, header, n_total, type_names, species):
        self.path = path
        self.header0 = header
        self.layout = _layout(header.columns, f"{path}: frame 0")
        self.n_atoms = header.n_atoms
        self.type_names = type_names
        self.species_wanted = species
        self.steps = np.empty(n_total, np.int64)
        self.cells = np.empty((n_total, 3, 3))
        self.last_step: int | None = None
        self.prev_wrapped: np.ndarray | None = None  # for minimum-image unwrapping
        self.big_jumps = 0
        self.n_total = n_total

    @classmethod
    def start(cls, path, header, n_total, type_names, species) -> _ReadState:
        return cls(path, header, n_total, type_names, species)

    def first_labels(self, data: _Span, h: _Header) -> None:
        lay = self.layout
        where = f"{self.path}: frame 0"
        if lay.species is None:
            raise InputError(
                f"{where}: no 'type' or 'element' column among {list(h.columns)}; "
                "add one to the dump command"
            )
        lines = bytes(data.view()).split(b"\n", h.n_atoms)[: h.n_atoms]
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
        self.positions = np.empty((self.n_total, len(self.labels), 3))

    def complete(self, data: _Span, h: _Header) -> bool:
        if h.columns != self.header0.columns or h.n_atoms != self.n_atoms:
            return True  # not a truncation: check() names the real problem
        if data.n_lines() < h.n_atoms:
            return False
        if not data.ends_newline():
            return len(data.last_line().split()) >= len(h.columns)
        return True

    def check(self, h: _Header, data: _Span, done: list[_Header], where: str, index: int) -> None:
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
        n = data.n_lines()
        if n != h.n_atoms:
            raise InputError(f"{where}: {n} atom lines but NUMBER OF ATOMS is {h.n_atoms}")
        prev = done[-1].timestep if done else self.last_step
        if prev is not None and h.timestep <= prev:
            raise InputError(
                f"{self.path}: frame {index} has TIMESTEP {h.timestep}, not after "
                f"the previous {prev}; remove repeated frames (e.g. from a restart) or split "
                "the file"
            )

    def add_block(self, headers: list[_Header], data: bytes, f0: int) -> None:
        F, N, lay = len(headers), self.n_atoms, self.layout
        try:
            cols = _parse_columns(data, lay, F * N)
        except InputError as exc:
            raise InputError(f"{self.path}: frames {f0}–{f0 + F - 1}: {exc}") from None
        order = None
        if lay.id is not None:
            ids = cols[lay.id].reshape(F, N)
            if not np.array_equal(ids, np.broadcast_to(self.ids, ids.shape)):
                order = np.argsort(ids, axis=1, kind="stable")
                bad = np.flatnonzero(
                    np.any(np.take_along_axis(ids, order, axis=1) != self.ids, axis=1)
                )
                if bad.size:
                    raise InputError(
                        f"{self.path}: frame {f0 + bad[0]} holds other atom ids than frame 0"
                    )
        if order is not None and self.keep is not None:
            order = order[:, self.keep]

        def column(i: int) -> np.ndarray:
            a = cols[i].reshape(F, N)
            if order is not None:
                return np.take_along_axis(a, order, axis=1)
            return a if self.keep is None else a[:, self.keep]

        cells = np.stack([h.cell for h in headers])
        origins = np.stack([h.origin for h in headers])
        out = self.positions[f0 : f0 + F]
        if lay.scaled:  # r = origin + (s + n)·H
            frac = [column(lay.pos[j]) for j in range(3)]
            if lay.image is not None:
                frac = [frac[j] + column(lay.image[j]) for j in range(3)]
            for k in range(3):
                out[:, :, k] = origins[:, k, None]
                for j in range(3):
                    if np.any(cells[:, j, k]):
                        out[:, :, k] += frac[j] * cells[:, j, k, None]
        else:  # r = x + n·H
            for k in range(3):
                out[:, :, k] = column(lay.pos[k])
            if lay.image is not None:
                for j in range(3):
                    n = column(lay.image[j])
                    for k in range(3):
                        if np.any(cells[:, j, k]):
                            out[:, :, k] += n * cells[:, j, k, None]
        if not lay.unwrapped and lay.image is None:
            self._minimum_image(out, cells)
        self.steps[f0 : f0 + F] = [h.timestep for h in headers]
        self.cells[f0 : f0 + F] = cells
        self.last_step = headers[-1].timestep

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

    def finish(self, n: int, timestep_ps: float) -> Trajectory:
        if self.big_jumps:
            warnings.warn(
                f"{self.path}: no image flags, so positions were unwrapped by the minimum "
                f"image, but {self.big_jumps} atom steps between frames exceed a quarter of "
                "the box: the minimum image is ambiguous, so the unwrapped paths may be wrong "
                "(dump more often, or add ix iy iz)",
                stacklevel=3,
            )
        steps = self.steps[:n]
        return Trajectory(
            positions=self.positions[:n],
            times_ps=steps * float(timestep_ps),
            steps=steps,
            cells=self.cells[:n],
            species=self.labels,
            charges=self.charges,
        )


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
