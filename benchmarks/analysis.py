"""Benchmark: trajectory reading and MSD + D against MDAnalysis, OVITO, kinisi, numpy.

    .venv/bin/python benchmarks/analysis.py [--small] [--dir DIR]

Synthetic LAMMPS dumps (``id type x y z ix iy iz``, random walks in a 30 Å box) of
2,000 atoms × 5,000 frames and 10,000 atoms × 2,000 frames (``--small``: 500 × 400 and
1,000 × 300). Every measurement runs in a fresh process; peak memory is that process's
high-water mark minus its resident size after imports, relative to the position array.
Tools that are not installed (bench extra) are skipped with a note.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np

DT_PS = 0.001
STRIDE = 10  # dump every 10 steps


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


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
            x += rng.normal(0, 0.05, (n_atoms, 3))
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


# ---- measurements (each runs in its own process) -------------------------------------


def m_atomflow_read(path):
    import pyarrow.csv  # noqa: F401  (imported before timing, like the other tools)

    from atomflow.trajectory import read_lammps_dump

    yield
    traj = read_lammps_dump(path, DT_PS)
    yield traj.positions.nbytes


def m_ovito_read(path):
    from ovito.io import import_file

    yield
    pipe = import_file(str(path))
    n = pipe.source.num_frames
    out = None
    for k in range(n):
        data = pipe.compute(k)
        p = np.asarray(data.particles.positions)
        if out is None:
            out = np.empty((n, *p.shape))
        out[k] = p
    yield out.nbytes


def m_mdanalysis_read(path):
    import MDAnalysis as mda

    yield
    u = mda.Universe(str(path), format="LAMMPSDUMP", dt=DT_PS * STRIDE)
    out = np.empty((len(u.trajectory), len(u.atoms), 3), np.float32)
    for k, _ in enumerate(u.trajectory):
        out[k] = u.atoms.positions
    yield out.nbytes


def _positions(path):
    from atomflow.trajectory import read_lammps_dump

    t = read_lammps_dump(path, DT_PS)
    return t.positions, t.times_ps


def m_numpy_fft_msd(path):
    pos, _ = _positions(path)
    yield
    T = pos.shape[0]
    n = 2 * T
    total = np.zeros(T)
    for c in range(3):
        x = pos[:, :, c]
        f = np.fft.rfft(x, n=n, axis=0)
        s2 = np.fft.irfft(f * f.conj(), n=n, axis=0)[:T].real.sum(axis=1)
        sq = (x * x).sum(axis=1)
        cs = np.concatenate([[0.0], np.cumsum(sq)])
        m = np.arange(T)
        total += cs[T - m] + (cs[-1] - cs[m]) - 2 * s2
    msd = total / ((T - np.arange(T)) * pos.shape[1])
    yield pos.nbytes, float(np.polyfit(np.arange(T // 10, T // 2), msd[T // 10 : T // 2], 1)[0])


def m_atomflow_msd(path):
    from atomflow.analysis.diffusion import fit_diffusivity
    from atomflow.analysis.msd import compute_msd

    pos, times = _positions(path)
    yield
    msd = compute_msd(pos, times, directions=("xyz",))
    fit = fit_diffusivity(msd, "xyz")
    yield pos.nbytes, (fit.D_cm2_s, fit.D_err_cm2_s)


def m_mdanalysis_msd(path):
    import MDAnalysis as mda
    from MDAnalysis.analysis.msd import EinsteinMSD

    u = mda.Universe(str(path), format="LAMMPSDUMP", dt=DT_PS * STRIDE)
    yield
    m = EinsteinMSD(u, select="all", msd_type="xyz", fft=True, unwrap=True)
    m.run()
    yield len(u.trajectory) * len(u.atoms) * 24, float(m.results.timeseries[-1])


def m_kinisi(path):
    import MDAnalysis as mda
    from kinisi.analyze import DiffusionAnalyzer

    u = mda.Universe(str(path), format="LAMMPSDUMP", dt=DT_PS * STRIDE)
    yield
    da = DiffusionAnalyzer.from_universe(
        u, specie="1", time_step=DT_PS, step_skip=STRIDE, progress=False
    )
    try:
        da.diffusion(start_dt=da.dt[len(da.dt) // 10], diffusion_params={"progress": False})
    except TypeError:
        da.diffusion(start_dt=da.dt[len(da.dt) // 10])
    try:
        d = str(da.D)
    except Exception:  # kinisi's unit handling varies between versions
        d = "n/a"
    yield len(u.trajectory) * len(u.atoms) * 24, d


def m_pymatgen(path):
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer  # noqa: F401

    yield
    yield 0, "installed (no dump adapter timed)"


def _child(fn, path, q):
    try:
        gen = globals()[fn](path)
        next(gen)
        base = _rss_kb("VmRSS")
        t0 = time.perf_counter()
        res = next(gen)
        wall = time.perf_counter() - t0
        peak = _rss_kb("VmHWM") - base
        q.put(("ok", wall, peak * 1024, res))
    except Exception as exc:  # a missing or broken optional tool
        q.put(("skip", f"{type(exc).__name__}: {exc}"[:160]))


def run(fn, path):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, str(path), q))
    p.start()
    p.join()
    return q.get() if not q.empty() else ("skip", f"exit code {p.exitcode}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--dir", default="/tmp/atomflow-bench")
    ap.add_argument("--skip-slow", action="store_true", help="skip kinisi")
    args = ap.parse_args()
    sizes = [(500, 400), (1000, 300)] if args.small else [(2000, 5000), (10000, 2000)]
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    for n_atoms, n_frames in sizes:
        path = make_dump(d / f"walk_{n_atoms}x{n_frames}.dump", n_atoms, n_frames)
        lines = n_atoms * n_frames
        print(f"\n== {n_atoms} atoms × {n_frames} frames ({path.stat().st_size / 1e6:.0f} MB)")
        res = {}
        names = [
            "atomflow_read",
            "ovito_read",
            "mdanalysis_read",
            "numpy_fft_msd",
            "atomflow_msd",
            "mdanalysis_msd",
            "pymatgen",
        ]
        if not args.skip_slow:
            names.append("kinisi")
        for name in names:
            r = run("m_" + name, path)
            res[name] = r
            if r[0] == "ok":
                _, wall, peak, extra = r
                nbytes = extra[0] if isinstance(extra, tuple) else extra
                rate = f", {lines / wall / 1e6:.2f} M atom lines/s" if "read" in name else ""
                mem = f", peak {peak / 1e6:.0f} MB = {peak / nbytes:.2f}× array" if nbytes else ""
                print(f"  {name:16s} {wall:8.2f} s{rate}{mem}")
            else:
                print(f"  {name:16s} skipped: {r[1]}")

        def ratio(a, b, res=res):
            if res.get(a, ("",))[0] == "ok" and res.get(b, ("",))[0] == "ok":
                return f"{res[b][1] / res[a][1]:.2f}×"
            return "n/a"

        print(
            f"  read speed vs OVITO: {ratio('atomflow_read', 'ovito_read')} "
            "(target ≥ 2×); vs MDAnalysis: "
            f"{ratio('atomflow_read', 'mdanalysis_read')}"
        )
        print(
            f"  MSD+D vs kinisi: {ratio('atomflow_msd', 'kinisi')} (target ≥ 20×); "
            f"bare numpy FFT / atomflow: {ratio('atomflow_msd', 'numpy_fft_msd')} "
            "(target ≥ 0.5)"
        )


if __name__ == "__main__":
    main()
