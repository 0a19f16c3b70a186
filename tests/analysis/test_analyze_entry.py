"""analyze_trajectory, the CLI, transport (σ, NE, Haven) and regions on synthetic data."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "trajectory"))
from dumpwriter import write_dump

from atomflow.analysis.analyze import analyze_trajectory
from atomflow.analysis.regions import Cylinder, PlaneBand, Slab, penetration_profile
from atomflow.analysis.transport import (
    einstein_helfand,
    haven_ratio,
    nernst_einstein,
)
from atomflow.trajectory import Trajectory

L = 20.0


def _ions(n_frames=400, n_each=24, D=0.05, dt=1.0, seed=0):
    """Independent Gaussian walkers: cations (1) and anions (2), Δt = dt ps."""
    rng = np.random.default_rng(seed)
    n = 2 * n_each
    start = rng.uniform(0, L, (1, n, 3))
    pos = start + np.cumsum(rng.normal(0, np.sqrt(2 * D * dt), (n_frames, n, 3)), axis=0)
    pos[0] = start[0]
    types = np.array([1] * n_each + [2] * n_each)
    return pos, types


def test_file_and_library_give_the_same_numbers(tmp_path):
    pos, types = _ions()
    cells = np.broadcast_to(np.eye(3) * L, (len(pos), 3, 3))
    write_dump(
        tmp_path / "ions.dump",
        np.arange(len(pos)) * 500,
        pos,
        cells,
        types,
        "id type x y z ix iy iz",
    )
    from_file = analyze_trajectory(
        tmp_path / "ions.dump", timestep_ps=0.002, types={"1": "Li", "2": "Cl"}
    )
    traj = Trajectory(
        positions=pos,
        times_ps=np.arange(len(pos)) * 1.0,
        steps=np.arange(len(pos)) * 500,
        cells=np.array(cells),
        species=np.where(types == 1, "Li", "Cl"),
    )
    from_array = analyze_trajectory(traj, plot_dir=tmp_path / "plots")
    assert [Path(p).name for p in from_array["plots"]] == ["msd_Cl.png", "msd_Li.png"]
    assert (tmp_path / "plots" / "msd_Li.png").read_bytes()[:4] == b"\x89PNG"
    for s in ("Li", "Cl"):
        a, b = from_file["species"][s], from_array["species"][s]
        assert a["D_cm2_s"] == pytest.approx(b["D_cm2_s"], rel=1e-8)
        assert a["D_err_cm2_s"] == pytest.approx(b["D_err_cm2_s"], rel=1e-6)
        assert a["fit_start_ps"] == b["fit_start_ps"] and a["converged"]
        assert a["D_cm2_s"] == pytest.approx(0.05e-4, abs=4 * a["D_err_cm2_s"])


def test_cli_json_matches_library_and_requires_timestep(tmp_path):
    from typer.testing import CliRunner

    from atomflow.cli.analyze_cmd import analyze_app

    pos, types = _ions(n_frames=200)
    cells = np.broadcast_to(np.eye(3) * L, (len(pos), 3, 3))
    write_dump(
        tmp_path / "ions.dump", np.arange(len(pos)) * 10, pos, cells, types, "id type xu yu zu"
    )
    runner = CliRunner()
    res = runner.invoke(
        analyze_app,
        [str(tmp_path / "ions.dump"), "--timestep-ps", "0.1", "--types", "1=Li,2=Cl", "--json"],
    )
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout[res.stdout.index("{") :])
    lib = analyze_trajectory(tmp_path / "ions.dump", timestep_ps=0.1, types={"1": "Li", "2": "Cl"})
    assert got["species"]["Li"]["D_cm2_s"] == pytest.approx(lib["species"]["Li"]["D_cm2_s"])
    res = runner.invoke(analyze_app, [str(tmp_path / "ions.dump")])
    assert res.exit_code == 2 and "--timestep-ps" in res.output


def test_uncorrelated_ions_have_haven_ratio_one():
    """For independent ions σ_EH = σ_NE on average: over 12 runs the Haven ratios scatter
    around 1 consistently with their error bars (|mean − 1| < 3 SEM, z spread ≈ 1)."""
    h, herr = [], []
    for seed in range(12):
        pos, types = _ions(n_frames=300, n_each=32, seed=seed)
        q = np.where(types == 1, 1.0, -1.0)
        eh = einstein_helfand(pos, np.arange(300) * 1.0, q, L**3, 600.0)
        Ds, Derr = {}, {}
        from atomflow.analysis.diffusion import fit_diffusivity
        from atomflow.analysis.msd import compute_msd

        for s, sel in (("+", types == 1), ("-", types == 2)):
            f = fit_diffusivity(
                compute_msd(pos[:, sel], np.arange(300) * 1.0, directions=("xyz",)), "xyz"
            )
            Ds[s], Derr[s] = f.D_cm2_s, f.D_err_cm2_s
        ne = nernst_einstein(Ds, Derr, {"+": 32, "-": 32}, {"+": 1, "-": -1}, L**3, 600.0)
        hr, hr_err = haven_ratio(ne, eh)
        h.append(hr)
        herr.append(hr_err)
    h, herr = np.array(h), np.array(herr)
    assert abs(h.mean() - 1) < 3 * h.std(ddof=1) / np.sqrt(len(h))
    assert 0.5 < np.std((h - 1) / herr) < 2.0


def test_nernst_einstein_units_by_hand():
    """1 cation + 1 anion of D = 1e-5 cm²/s in 1000 Å³ at 300 K: σ = 2 e² n D / kT."""
    ne = nernst_einstein(
        {"a": 1e-5, "b": 1e-5}, {}, {"a": 1, "b": 1}, {"a": 1, "b": -1}, 1000.0, 300.0
    )
    e, kb = 1.602176634e-19, 1.380649e-23
    hand = 2 * e**2 * (1 / 1e-27) * 1e-9 / (kb * 300) * 10  # S/m → mS/cm
    assert ne.sigma_mS_cm == pytest.approx(hand, rel=1e-12)


def test_large_relative_error_warns():
    pos, types = _ions(n_frames=10, n_each=4)
    q = np.where(types == 1, 1.0, -1.0)
    with pytest.warns(UserWarning, match="> 30 %"):
        eh = einstein_helfand(pos, np.arange(10) * 1.0, q, L**3, 300.0)
    assert not eh.converged


def test_negative_conductivity_is_not_converged():
    """A cation rattling in a cage has no dc conductivity: its charge MSD rises and falls, the
    fitted slope comes out negative, and σ_EH is flagged as not converged, not reported."""
    t = np.arange(400) * 1.0
    pos = np.zeros((400, 2, 3))
    pos[:, 1] = 5.0
    pos[:, 0, 0] = 3 * np.cos(2 * np.pi * t / 200)
    with pytest.warns(UserWarning, match="falls over the fit window"):
        eh = einstein_helfand(pos, t, np.array([1.0, -1.0]), 1000.0, 300.0)
    assert eh.sigma_mS_cm < 0
    assert not eh.converged
    assert "not converged" in eh.note


def test_region_membership_and_slab_diffusion():
    """Atoms in the lower half diffuse 10× faster than in the upper half (z-dependent walk,
    reflecting z): each slab's D comes out as its own."""
    rng = np.random.default_rng(3)
    T, N = 600, 60
    z0 = np.where(np.arange(N) < N // 2, 5.0, 15.0)
    D = np.where(z0 < 10, 0.1, 0.01)
    xy = np.cumsum(rng.normal(0, 1, (T, N, 2)) * np.sqrt(2 * D)[None, :, None], axis=0)
    pos = np.concatenate([xy, np.broadcast_to(z0[None, :, None], (T, N, 1))], axis=2)
    traj = Trajectory(
        positions=pos,
        times_ps=np.arange(T) * 1.0,
        steps=np.arange(T),
        cells=np.broadcast_to(np.eye(3) * L, (T, 3, 3)).copy(),
        species=np.array(["Li"] * N),
    )
    out = analyze_trajectory(
        traj, directions=("xy", "xyz"), regions=["slab:z:0:10", Slab(2, 10.0, 20.0)]
    )
    lo = out["regions"]["slab:z:0:10"]["Li"]
    hi = next(v for k, v in out["regions"].items() if k != "slab:z:0:10")["Li"]
    # xyz D of a walk confined to xy is 2/3 of the xy D
    assert lo["D_cm2_s"] * 1e4 == pytest.approx(0.1 * 2 / 3, rel=0.15)
    assert hi["D_cm2_s"] * 1e4 == pytest.approx(0.01 * 2 / 3, rel=0.15)
    assert lo["mean_atoms_inside"] == N // 2


def test_region_shapes_and_penetration_profile():
    cell = np.eye(3) * 10.0
    p = np.array([[1.0, 1.0, 1.0], [9.5, 5.0, 5.0], [5.0, 5.0, 5.0], [12.0, 1.0, 3.0]])
    assert Slab(0, 0.0, 2.5).inside(p, cell).tolist() == [True, False, False, True]
    cyl = Cylinder((0.0, 0.0, 0.0), (0, 0, 1), 1.5)
    assert cyl.inside(p, cell).tolist() == [True, False, False, False]
    band = PlaneBand((0, 0, 4.0), (0, 0, 1), 0.0, 2.0)
    assert band.inside(p, cell).tolist() == [False, True, True, False]
    T = 3
    pos = np.zeros((T, 4, 3)) + np.array([[0.5, 0, 0], [0.5, 0, 0], [1.5, 0, 0], [3.5, 0, 0]])
    traj = Trajectory(
        positions=pos,
        times_ps=np.arange(T) * 1.0,
        steps=np.arange(T),
        cells=np.broadcast_to(np.diag([4.0, 2.0, 5.0]), (T, 3, 3)).copy(),
        species=np.array(["Li", "Li", "Li", "N"]),
    )
    prof = penetration_profile(traj, "Li", "x", [0.0, 2.0], n_bins=4)
    assert np.allclose(prof.depth_A, [0.5, 1.5, 2.5, 3.5])
    assert np.allclose(prof.density_A3[0], np.array([2, 1, 0, 0]) / 10.0)
