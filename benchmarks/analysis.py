"""Benchmark: reading LAMMPS text dumps, and MSD + D, against OVITO, MDAnalysis, ASE, kinisi,
pymatgen and a bare numpy FFT, all in one run (issue 4).

    .venv/bin/python benchmarks/analysis.py [--small] [--repeat N] [--kinisi-frames F1,F2]
                                            [--pymatgen-frames F] [--skip-slow] [--dir DIR]

Synthetic dumps (``id type x y z ix iy iz``, ``%.5f`` coordinates, random walks with 0.05 Å
steps per axis per frame in a 30 Å box, frames every 10 steps of 1 fs; known
D = 0.05² / (2 · 0.01 ps) = 1.25e-5 cm²/s) of 2,000 atoms × 5,000 frames and
10,000 atoms × 2,000 frames (``--small``: 500 × 400 and 1,000 × 300). The bench extra
installs the other tools (``pip install -e .[bench]``); a tool that is missing is skipped
with a note, never silently.

Every measurement runs in a fresh process: its setup (imports, building inputs) is not
timed; then the timed part runs, and peak memory is that process's high-water mark (VmHWM)
minus its resident size before the timed part, divided by the array the part produces or
consumes. Timings are the best of ``--repeat`` runs, taken in turns (atomflow, OVITO,
atomflow, OVITO, ...) so that both see the same machine load; the load average is printed
before and after each size. The slow tools (MDAnalysis, ASE, kinisi, pymatgen) run once.

What is timed:

* readers — the whole file into an (n_frames, n_atoms, 3) array of unwrapped positions:
  atomflow ``read_lammps_dump``; OVITO ``import_file`` + ``compute(frame)`` for every frame,
  unwrapped with its periodic images; MDAnalysis ``Universe(..., unwrap_images=True)``
  iterated; ASE ``ase.io.read(..., format="lammps-dump-text")`` on the first
  ``--ase-frames`` frames only (it is slow; lines/s is what is compared). All output arrays
  are allocated the same way (pages on first write, no transparent huge pages; see
  ``atomflow.trajectory.lammps_dump._output``), so only the readers differ.
* MSD + D of type-1 atoms (half of them) from positions already in memory: atomflow
  ``compute_msd`` (xyz, FFT over all origins) + ``fit_diffusivity`` (GLS, calibrated error);
  a bare numpy FFT MSD (the same sums, no error model, an OLS slope); kinisi
  ``DiffusionAnalyzer.from_universe`` (an in-memory MDAnalysis universe, so its reader is
  not timed) + ``diffusion``; pymatgen ``DiffusionAnalyzer`` (displacements of all atoms
  given, type 2 as the framework it needs; memory relative to the type-1 part). kinisi
  runs on the first ``--kinisi-frames`` frames (default 1,000 and 500 for the two sizes:
  its time grows about as frames², 180 s for 1,000 atoms × 1,000 frames on 2 busy cores)
  and pymatgen on the first ``--pymatgen-frames`` (default all); where that is fewer frames
  than the file has, atomflow is timed again at exactly that size for the like-for-like
  ratio.
* end to end, dump to D: atomflow ``read_lammps_dump(species="1")`` + MSD + D (its peak
  memory against the position array is the pipeline target; ``compute_msd`` with a 32 MB
  FFT workspace, and once more with its default 64 MB, which costs about 0.3× the
  position array more at 2,000 × 5,000 and is no faster) and MDAnalysis
  ``Universe`` + ``EinsteinMSD(select="type 1", fft=True)``.
"""

from __future__ import annotations

import argparse
import mmap
import multiprocessing as mp
import os
import resource
import time
import warnings
from pathlib import Path

import numpy as np

DT_PS = 0.001  # MD timestep
STRIDE = 10  # dump every 10 steps
STEP_A = 0.05  # random-walk step per axis per frame, Å
D_TRUE = STEP_A**2 / (2 * DT_PS * STRIDE) * 1e-4  # cm²/s


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def _alloc(shape, dtype=np.float64) -> np.ndarray:
    """An output array allocated like atomflow's reader allocates its own (anonymous map)."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer(mmap.mmap(-1, max(nbytes, 1)), dtype, int(np.prod(shape))).reshape(shape)


def make_dump(path: Path, n_atoms: int, n_frames: int, seed: int = 0) -> Path:
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    L = 30.0
    x = rng.uniform(0, L, (n_atoms, 3))
    ids = np.arange(1, n_atoms + 1)
    types = 1 + (ids % 2)
    tmp = path.with_suffix(".part")
    with open(tmp, "w") as f:
        for t in range(n_frames):
            x += rng.normal(0, STEP_A, (n_atoms, 3))
            img = np.floor(x / L)
            w = x - img * L
            f.write(
                f"ITEM: TIMESTEP\n{t * STRIDE}\nITEM: NUMBER OF ATOMS\n{n_atoms}\n"
                f"ITEM: BOX BOUNDS pp pp pp\n0 {L}\n0 {L}\n0 {L}\n"
                "ITEM: ATOMS id type x y z ix iy iz\n"
            )
            block = np.column_stack([ids, types, w, img])
            np.savetxt(f, block, fmt="%d %d %.5f %.5f %.5f %d %d %d")
    tmp.rename(path)
    return path


def head_dump(src: Path, n_frames: int) -> Path:
    """The first ``n_frames`` frames of a dump, as a file of its own."""
    dst = src.with_name(f"{src.stem}_first{n_frames}.dump")
    if dst.exists():
        return dst
    tmp = dst.with_suffix(".part")
    k = 0
    with open(src, "rb") as f, open(tmp, "wb") as g:
        for line in f:
            if line.startswith(b"ITEM: TIMESTEP"):
                k += 1
                if k > n_frames:
                    break
            g.write(line)
    tmp.rename(dst)
    return dst


# ---- measurements: generators that set up, yield, run the timed part, yield its result ---
# the result is (bytes of the array the measure is relative to, extra information)


def m_atomflow_read(path, frames):
    import pyarrow.csv  # noqa: F401  (imported before timing, like the other tools)

    from atomflow.trajectory import read_lammps_dump

    yield
    traj = read_lammps_dump(path, DT_PS)
    yield traj.positions.nbytes, f"{traj.n_frames} frames"


def m_ovito_read(path, frames):
    from ovito.io import import_file

    yield
    pipe = import_file(str(path))
    n = pipe.source.num_frames
    out = None
    for k in range(n):
        data = pipe.compute(k)
        p = np.asarray(data.particles.positions)
        img = np.asarray(data.particles["Periodic Image"])
        cell = np.asarray(data.cell)[:, :3]  # columns are the cell vectors
        if out is None:
            out = _alloc((n, *p.shape))
        out[k] = p + img @ cell.T
    yield out.nbytes, f"{n} frames"


def m_mdanalysis_read(path, frames):
    import MDAnalysis as mda

    warnings.filterwarnings("ignore")
    yield
    u = mda.Universe(str(path), format="LAMMPSDUMP", dt=DT_PS * STRIDE, unwrap_images=True)
    out = _alloc((len(u.trajectory), len(u.atoms), 3))
    for k, _ in enumerate(u.trajectory):
        out[k] = u.atoms.positions
    yield out.nbytes, f"{len(out)} frames"


def m_ase_read(path, frames):
    import ase.io

    yield
    images = ase.io.read(str(path), index=":", format="lammps-dump-text")
    out = _alloc((len(images), len(images[0]), 3))
    for k, at in enumerate(images):
        out[k] = at.get_positions()  # wrapped: ASE drops the image flags
    yield out.nbytes, f"{len(out)} frames (wrapped)"


def _li_positions(path, frames):
    """Type-1 positions (unwrapped) and times, read by atomflow, first ``frames`` frames."""
    from atomflow.trajectory import read_lammps_dump

    t = read_lammps_dump(path, DT_PS, species="1")
    n = frames or t.n_frames
    return np.ascontiguousarray(t.positions[:n]), t.times_ps[:n], t.cells[0]


def m_numpy_fft_msd(path, frames):
    pos, times, _ = _li_positions(path, frames)
    yield
    T, N = pos.shape[:2]
    n = 2 * T
    total = np.zeros(T)
    for c in range(3):
        x = pos[:, :, c]
        f = np.fft.rfft(x, n=n, axis=0)
        s2 = np.fft.irfft(f * f.conj(), n=n, axis=0)[:T].sum(axis=1)
        sq = (x * x).sum(axis=1)
        cs = np.concatenate([[0.0], np.cumsum(sq)])
        m = np.arange(T)
        total += cs[T - m] + (cs[-1] - cs[m]) - 2 * s2
    msd = total / ((T - np.arange(T)) * N)
    window = slice(T // 10, T // 2)
    slope = np.polyfit(times[window] - times[0], msd[window], 1)[0]
    yield pos.nbytes, f"D = {slope / 6 * 1e-4:.3e} cm²/s (OLS, no error)"


def m_atomflow_msd(path, frames):
    from atomflow.analysis.diffusion import fit_diffusivity
    from atomflow.analysis.msd import compute_msd

    pos, times, _ = _li_positions(path, frames)
    yield
    msd = compute_msd(pos, times, directions=("xyz",))
    fit = fit_diffusivity(msd, "xyz")
    yield pos.nbytes, f"D = {fit.D_cm2_s:.3e} ± {fit.D_err_cm2_s:.1e} cm²/s"


def m_atomflow_pipeline(path, frames, memory_mb=32.0):
    import pyarrow.csv  # noqa: F401

    from atomflow.analysis.diffusion import fit_diffusivity
    from atomflow.analysis.msd import compute_msd
    from atomflow.trajectory import read_lammps_dump

    yield
    traj = read_lammps_dump(path, DT_PS, species="1")
    msd = compute_msd(traj.positions, traj.times_ps, directions=("xyz",), memory_mb=memory_mb)
    fit = fit_diffusivity(msd, "xyz")
    yield (
        traj.positions.nbytes,
        f"D = {fit.D_cm2_s:.3e} ± {fit.D_err_cm2_s:.1e} cm²/s (MSD workspace {memory_mb:g} MB)",
    )


def m_atomflow_pipeline_default(path, frames):
    """As above with compute_msd's default workspace (64 MB)."""
    yield from m_atomflow_pipeline(path, frames, memory_mb=64.0)


def m_mdanalysis_msd(path, frames):
    import MDAnalysis as mda
    from MDAnalysis.analysis.msd import EinsteinMSD

    warnings.filterwarnings("ignore")
    yield
    u = mda.Universe(str(path), format="LAMMPSDUMP", dt=DT_PS * STRIDE, unwrap_images=True)
    m = EinsteinMSD(u, select="type 1", msd_type="xyz", fft=True)
    m.run()
    msd = m.results.timeseries
    T = len(msd)
    lag = np.arange(T) * DT_PS * STRIDE
    window = slice(T // 10, T // 2)
    slope = np.polyfit(lag[window], msd[window], 1)[0]
    n_li = len(u.select_atoms("type 1"))
    yield T * n_li * 24, f"D = {slope / 6 * 1e-4:.3e} cm²/s (OLS, no error)"


def m_kinisi(path, frames):
    import MDAnalysis as mda
    import scipp as sc
    from kinisi.analyze import DiffusionAnalyzer
    from MDAnalysis.coordinates.memory import MemoryReader

    warnings.filterwarnings("ignore")
    pos, _, cell = _li_positions(path, frames)
    # an in-memory universe of the type-1 atoms (kinisi unwraps by the minimum image itself)
    u = mda.Universe.empty(pos.shape[1], trajectory=True)
    u.add_TopologyAttr("type", ["1"] * pos.shape[1])
    wrapped = (pos - np.floor(pos / np.diag(cell)) * np.diag(cell)).astype(np.float32)
    dims = np.tile([*np.diag(cell), 90.0, 90.0, 90.0], (len(pos), 1))
    u.load_new(wrapped, format=MemoryReader, dimensions=dims, dt=DT_PS * STRIDE)
    del wrapped
    yield
    da = DiffusionAnalyzer.from_universe(
        u,
        specie="1",
        time_step=sc.scalar(DT_PS, unit="ps"),
        step_skip=sc.scalar(STRIDE, unit=sc.units.dimensionless),
        progress=False,
    )
    da.diffusion(start_dt=da.dt[len(da.dt) // 10], progress=False)
    d = da.D
    yield (
        pos.nbytes,
        f"D = {float(sc.mean(d).value):.3e} ± {float(sc.std(d, ddof=1).value):.1e} cm²/s",
    )


def m_pymatgen(path, frames):
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
    from pymatgen.core import Lattice, Structure

    from atomflow.trajectory import read_lammps_dump

    warnings.filterwarnings("ignore")
    # pymatgen needs framework atoms (for its drift correction): type 2 plays that part
    t = read_lammps_dump(path, DT_PS, types={"1": "Li", "2": "Cl"})
    pos = t.positions[: frames or t.n_frames]
    structure = Structure(Lattice(t.cells[0]), list(t.species), pos[0], coords_are_cartesian=True)
    disp = np.ascontiguousarray((pos - pos[0]).transpose(1, 0, 2))
    del t, pos
    yield
    da = DiffusionAnalyzer(
        structure, disp, "Li", temperature=300, time_step=DT_PS * 1000, step_skip=STRIDE
    )
    li = disp[: len(structure)][np.array([s.specie.symbol == "Li" for s in structure])]
    yield li.nbytes, f"D = {da.diffusivity:.3e} ± {da.diffusivity_std_dev:.1e} cm²/s"


# ---- running them -----------------------------------------------------------------------


def _child(fn, path, frames, q):
    try:
        gen = globals()[fn](path, frames)
        next(gen)
        base = _rss_kb("VmRSS")
        c0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        nbytes, info = next(gen)
        wall = time.perf_counter() - t0
        c1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime  # all threads
        peak = (_rss_kb("VmHWM") - base) * 1024
        q.put(("ok", wall, peak, nbytes, info, cpu))
    except Exception as exc:  # a missing or broken optional tool
        q.put(("skip", f"{type(exc).__name__}: {exc}"[:200]))


def run(fn: str, path: Path, frames: int | None = None, timeout: float = 3600) -> tuple:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, str(path), frames, q))
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.kill()
        p.join()
        return ("skip", f"killed after {timeout:.0f} s")
    return q.get() if not q.empty() else ("skip", f"exit code {p.exitcode}")


def best_of(names: list[str], path: Path, repeat: int, frames=None) -> dict[str, tuple]:
    """Each measure ``repeat`` times, in turns; the fastest run of each (and its peak)."""
    res: dict[str, tuple] = {}
    for _ in range(repeat):
        for name in names:
            r = run(name, path, frames)
            if r[0] != "ok":
                res.setdefault(name, r)
                continue
            if res.get(name, ("",))[0] != "ok" or r[1] < res[name][1]:
                res[name] = r
    return res


def _load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def show(name: str, r: tuple, lines: int | None = None) -> None:
    if r[0] != "ok":
        print(f"  {name:24s} skipped: {r[1]}")
        return
    _, wall, peak, nbytes, info, cpu = r
    rate = f"{lines / wall / 1e6:6.2f} M atom lines/s  " if lines else ""
    mem = f"peak {peak / 1e6:6.0f} MB = {peak / nbytes:4.2f}× array" if nbytes else ""
    print(f"  {name:24s} {wall:8.2f} s (cpu {cpu:7.2f} s)  {rate}{mem}  {info}")


def ratio(res: dict, fast: str, slow: str, cpu: bool = False) -> str:
    a, b = res.get(fast, ("",)), res.get(slow, ("",))
    if a[0] == "ok" and b[0] == "ok":
        k = 5 if cpu else 1
        return f"{b[k] / a[k]:.2f}×"
    return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="tiny sizes, to try the script")
    ap.add_argument("--dir", default="/tmp/atomflow-bench")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each fast measure")
    ap.add_argument(
        "--kinisi-frames",
        default="1000,500",
        help="kinisi runs on the first F frames, one F per size (its time grows about as "
        "frames²: 180 s for 1,000 atoms × 1,000 frames on 2 busy cores)",
    )
    ap.add_argument("--pymatgen-frames", type=int, default=0, help="0: all frames")
    ap.add_argument("--ase-frames", type=int, default=200)
    ap.add_argument("--skip-slow", action="store_true", help="skip MDAnalysis, ASE, kinisi")
    ap.add_argument("--sizes", default=None, help="e.g. 2000x5000,10000x2000")
    args = ap.parse_args()
    if args.sizes:
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    else:
        sizes = [(500, 400), (1000, 300)] if args.small else [(2000, 5000), (10000, 2000)]
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')}, {os.cpu_count()} CPUs, {_load()}")
    print(f"known D = {D_TRUE:.3e} cm²/s; best of {args.repeat} for atomflow, OVITO, numpy")
    kinisi_frames = [int(v) for v in args.kinisi_frames.split(",")]
    for k_size, (n_atoms, n_frames) in enumerate(sizes):
        path = make_dump(d / f"walk_{n_atoms}x{n_frames}.dump", n_atoms, n_frames)
        lines = n_atoms * n_frames
        print(
            f"\n== {n_atoms} atoms × {n_frames} frames: {lines / 1e6:.0f} M atom lines, "
            f"{path.stat().st_size / 1e6:.0f} MB ({_load()})"
        )
        print(" reading the dump into unwrapped positions (all atoms):")
        res = best_of(["m_atomflow_read", "m_ovito_read"], path, args.repeat)
        show("atomflow", res["m_atomflow_read"], lines)
        show("OVITO", res["m_ovito_read"], lines)
        if not args.skip_slow:
            res["m_mdanalysis_read"] = run("m_mdanalysis_read", path)
            show("MDAnalysis", res["m_mdanalysis_read"], lines)
            head = head_dump(path, min(args.ase_frames, n_frames))
            n_head = min(args.ase_frames, n_frames)
            res["m_ase_read"] = run("m_ase_read", head)
            show(f"ASE ({n_head} frames)", res["m_ase_read"], n_atoms * n_head)
        print(
            f"  -> atomflow vs OVITO: {ratio(res, 'm_atomflow_read', 'm_ovito_read')} "
            f"(target ≥ 2×; in CPU time {ratio(res, 'm_atomflow_read', 'm_ovito_read', True)})"
            f"; vs MDAnalysis: {ratio(res, 'm_atomflow_read', 'm_mdanalysis_read')}"
        )

        print(f" MSD + D of type-1 atoms ({n_atoms // 2}), positions in memory:")
        res.update(best_of(["m_atomflow_msd", "m_numpy_fft_msd"], path, args.repeat))
        show("atomflow MSD + D (GLS)", res["m_atomflow_msd"])
        show("numpy FFT MSD (bare)", res["m_numpy_fft_msd"])
        print(
            "  -> atomflow time / numpy FFT time: "
            + (
                f"{res['m_atomflow_msd'][1] / res['m_numpy_fft_msd'][1]:.2f}"
                if res["m_atomflow_msd"][0] == res["m_numpy_fft_msd"][0] == "ok"
                else "n/a"
            )
            + " (target ≤ 2)"
        )
        for tool, fn, cap in (
            ("kinisi", "m_kinisi", kinisi_frames[min(k_size, len(kinisi_frames) - 1)]),
            ("pymatgen", "m_pymatgen", args.pymatgen_frames),
        ):
            if tool == "kinisi" and args.skip_slow:
                continue
            frames = cap if cap and cap < n_frames else None
            size = f"{frames or n_frames} frames"
            r_tool = run(fn, path, frames)
            r_af = (
                res["m_atomflow_msd"]
                if frames is None
                else best_of(["m_atomflow_msd"], path, args.repeat, frames)["m_atomflow_msd"]
            )
            show(f"{tool} ({size})", r_tool)
            if frames is not None:
                show(f"atomflow ({size})", r_af)
            both = {"a": r_af, "b": r_tool}
            target = " (target ≥ 20×)" if tool == "kinisi" else ""
            print(f"  -> atomflow vs {tool} at {size}: {ratio(both, 'a', 'b')} faster{target}")

        print(" end to end, dump → D of type-1 atoms:")
        res.update(best_of(["m_atomflow_pipeline"], path, args.repeat))
        show("atomflow read+MSD+D", res["m_atomflow_pipeline"])
        show("  same, MSD default 64 MB", run("m_atomflow_pipeline_default", path))
        if not args.skip_slow:
            res["m_mdanalysis_msd"] = run("m_mdanalysis_msd", path)
            show("MDAnalysis+EinsteinMSD", res["m_mdanalysis_msd"])
            print(
                "  -> atomflow vs MDAnalysis: "
                f"{ratio(res, 'm_atomflow_pipeline', 'm_mdanalysis_msd')} faster; "
                "atomflow peak target ≤ 1.5× the position array"
            )
        print(f" ({_load()})")


if __name__ == "__main__":
    main()
