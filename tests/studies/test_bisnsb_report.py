"""The K-into-BiSnSb report's arithmetic on synthetic trajectories (no MD)."""

import json
import math

import numpy as np
import pytest

from atomflow.studies.bisnsb_report import (
    analyse_model,
    area_fraction,
    contiguous_offsets,
    core_cylinders,
    core_occupancy,
    density_profile,
    findings,
    front_series,
    gibbs_surface,
    penetration_depth,
    region_diffusion,
    region_masks,
    slab_depths,
    write_bisnsb_report,
)

SETTINGS = {
    "t_report_ps": 100.0,
    "window_ps": 5.0,
    "front_quantile": 0.95,
    "profile_times_ps": [0.0, 50.0, 100.0],
    "snapshot_times_ps": [0.0, 50.0, 100.0],
    "profile_bin_A": 1.0,
    "core_radius_A": 3.0,
    "region_min_depth_A": 2.0,
    "hardly_A": 3.0,
}
L = 20.0  # box edge in x and y (Å)
LZ = 60.0
CORES = [{"x": 5.0, "y": 5.0, "burgers_vector": [4.4, 0, 0]}]


def _alloy(spacing=2.0, top=15.0):
    g = np.arange(0, L, spacing) + spacing / 2
    z = np.arange(1.0, top + 1e-9, spacing)
    pts = np.array([(x, y, zz) for x in g for y in g for zz in z])
    species = np.array(["Bi", "Sn", "Sb"] * (len(pts) // 3) + ["Bi"] * (len(pts) % 3))
    return pts, species


def _slab_traj(k_depth_of_t, n_k=100, n_frames=101, dt=1.0, seed=1, drift=0.0, core_k=0):
    """Static alloy (top layer at z = 15) under a K film; ``core_k`` K atoms walk down the core
    line at (5, 5) to ``k_depth_of_t(t)`` below the surface; the others stay in the film."""
    rng = np.random.default_rng(seed)
    alloy, sp_alloy = _alloy()
    k0 = np.column_stack(
        [rng.uniform(0, L, n_k), rng.uniform(0, L, n_k), rng.uniform(17.0, 25.0, n_k)]
    )
    k0[:core_k, 0] = 5.0 + rng.normal(0, 0.3, core_k)
    k0[:core_k, 1] = 5.0 + rng.normal(0, 0.3, core_k)
    times = np.arange(n_frames) * dt
    pos = np.empty((n_frames, len(alloy) + n_k, 3))
    surface = gibbs_surface(alloy[:, 2], L * L)
    for f, t in enumerate(times):
        k = k0.copy()
        k[:core_k, 2] = surface - k_depth_of_t(t) - np.linspace(0, 1.0, core_k)
        pos[f] = np.vstack([alloy, k]) + np.array([0.0, 0.0, drift * t])
    species = np.concatenate([sp_alloy, ["K"] * n_k])
    cells = np.repeat(np.diag([L, L, LZ])[None], n_frames, axis=0)
    return pos, times, cells, species


def test_gibbs_surface_of_a_uniform_slab_is_its_top():
    rng = np.random.default_rng(0)
    z = rng.uniform(3.0, 13.0, 20000)
    assert gibbs_surface(z, 100.0) == pytest.approx(13.0, abs=0.1)


def test_contiguous_offsets_join_a_slab_split_by_the_boundary():
    z = np.array([55.0, 58.0, 1.0, 4.0, 7.0])  # slab 55 … 67 wrapped at 60
    zc = z + contiguous_offsets(z, 60.0)
    assert np.ptp(zc) == pytest.approx(12.0)
    assert np.all(np.diff(zc) > 0)


def test_front_advance_of_a_known_front():
    v = 0.08  # Å/ps: the core K atoms go 8 Å deeper in 100 ps
    pos, t, cells, sp = _slab_traj(lambda t: 1.0 + v * t, n_k=100, core_k=10)
    sd = slab_depths(pos, sp, cells)
    front, err = front_series(sd["depth_mobile"], 0.95)
    # the deepest 5 % are 5 of the 10 walkers: depth 1 + v t + (0 … 1 Å spread)
    pen = penetration_depth(t, front, err, 100.0, 5.0)
    assert pen["depth_A"] == pytest.approx(v * (100 - 2.5), abs=0.3)
    # bootstrap over K atoms: resamples with fewer than 5 walkers put the front in the film
    assert 0 < pen["depth_err_A"] < pen["depth_A"] / 2
    assert pen["front_start_A"] == pytest.approx(1.5, abs=0.3)


def test_front_ignores_a_drift_of_the_whole_slab_and_the_periodic_cut():
    args = (lambda t: 1.0 + 0.05 * t,)
    a = _slab_traj(*args, core_k=10)
    b = _slab_traj(*args, core_k=10, drift=0.03)
    pos_c = a[0] + np.array([0, 0, 50.0])  # slab now crosses z = 60 in the first frame
    pos_c[0, :, 2] %= LZ
    pos_c[1:] = pos_c[0] + (a[0][1:] - a[0][0])  # unwrapped continuation
    fronts = []
    for pos, _t, cells, sp in (a, b, (pos_c, *a[1:])):
        sd = slab_depths(pos, sp, cells)
        fronts.append(front_series(sd["depth_mobile"], 0.95)[0])
    assert np.allclose(fronts[0], fronts[1], atol=1e-6)
    assert np.allclose(fronts[0], fronts[2], atol=1e-6)


def test_penetration_depth_refuses_a_report_time_past_the_run():
    t = np.arange(11.0)
    with pytest.raises(Exception, match="past the end"):
        penetration_depth(t, np.zeros(11), np.zeros(11), 100.0)


def test_density_profile_integrates_to_the_atom_count():
    rng = np.random.default_rng(3)
    d = rng.uniform(-5, 5, (3, 400))
    prof = density_profile(d, np.array([0.0, 50.0, 100.0]), [0, 50, 100], 25.0, 0.5, 1.0)
    for rho in prof["density_A3"]:
        assert np.sum(rho) * 25.0 * 0.5 == pytest.approx(400)


def test_area_fraction_of_one_cylinder():
    cyl = core_cylinders(CORES, 3.0)
    frac = area_fraction(np.diag([L, L, LZ]), cyl)
    assert frac == pytest.approx(math.pi * 9 / L**2, rel=0.02)
    # a core near the corner wraps around (minimum image): same area
    corner = core_cylinders([{"x": 0.5, "y": 19.5}], 3.0)
    assert area_fraction(np.diag([L, L, LZ]), corner) == pytest.approx(frac, rel=0.02)


def _walk(D_A2_ps, n, n_frames, dt, rng):
    steps = rng.normal(0.0, math.sqrt(2 * D_A2_ps * dt), (n_frames, n, 3))
    steps[0] = 0.0
    return np.cumsum(steps, axis=0)


def test_region_diffusion_recovers_known_random_walks():
    rng = np.random.default_rng(7)
    n_frames, dt = 400, 0.5
    fast, slow = _walk(0.5, 30, n_frames, dt, rng), _walk(0.05, 30, n_frames, dt, rng)
    pos = np.concatenate([fast, slow], axis=1)
    t = np.arange(n_frames) * dt
    masks = {
        "fast": np.repeat(np.r_[np.ones(30, bool), np.zeros(30, bool)][None], n_frames, 0),
        "slow": np.repeat(np.r_[np.zeros(30, bool), np.ones(30, bool)][None], n_frames, 0),
        "empty": np.zeros((n_frames, 60), bool),
    }
    recs = {r["region"]: r for r in region_diffusion(pos, t, masks)}
    for name, D in (("fast", 0.5e-4), ("slow", 0.05e-4)):  # Å²/ps → cm²/s
        r = recs[name]
        assert abs(r["D_cm2_s"] - D) < 3 * r["D_err_cm2_s"] + 0.1 * D, (name, r)
        assert r["D_z_cm2_s"] == pytest.approx(D, rel=0.35)
    assert recs["empty"]["D_cm2_s"] is None and "no K atom" in recs["empty"]["note"]


def test_region_masks_split_core_alloy_and_film():
    cyl = core_cylinders(CORES, 3.0)
    pos = np.array([[[5.5, 5.0, 0.0], [15.0, 15.0, 0.0], [5.0, 5.0, 0.0], [15.0, 15.0, 0.0]]])
    depths = np.array([[5.0, 5.0, -1.0, 1.0]])
    m = region_masks(pos, np.diag([L, L, LZ])[None], depths, cyl, 2.0, 14.0)
    assert m["core"][0].tolist() == [True, False, False, False]
    assert m["alloy"][0].tolist() == [False, True, False, False]
    assert m["film"][0].tolist() == [False, False, True, False]


def test_core_occupancy_binomial():
    occ = core_occupancy(
        np.array([5.0, 5.0, 5.0, 5.0, 0.0]), np.array([1, 1, 1, 0, 1], bool), 2.0, 0.2
    )
    assert occ["n_K_below"] == 4 and occ["n_K_in_core"] == 3
    assert occ["fraction_in_core"] == 0.75
    p = 4 / 6  # Agresti–Coull: (k + 1) / (n + 2)
    assert occ["fraction_err"] == pytest.approx(math.sqrt(p * (1 - p) / 6))
    assert core_occupancy(np.zeros(3), np.zeros(3, bool), 2.0, 0.2)["fraction_err"] is None


def _analysis(model, depth_of_t, core_k, seed):
    pos, t, cells, sp = _slab_traj(depth_of_t, n_k=100, core_k=core_k, seed=seed)
    a = analyse_model(pos, t, cells, sp, CORES, SETTINGS)
    return {
        **a,
        "model": model,
        "config": 0,
        "seed": seed,
        "geometry": "edge",
        "dislocation": "edge" if model == "edge" else "none",
        "n_atoms": len(sp),
        "temperature_K": 450.0,
        "md": {},
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    edge = _analysis("edge", lambda t: 0.1 * t, 12, 1)  # 12 K down the core to 10 Å
    control = _analysis("control", lambda t: 0.0, 0, 1)  # K stays on top
    npt = {
        "temperature_K": 300.0,
        "lattice": {"a": 4.45, "a_err": 0.01, "c": 11.6, "c_err": 0.03, "V": 199.0, "V_err": 0.5},
    }
    reference = {
        "source": "test",
        "lattice": {
            "M": {"a": 4.4073, "c": 11.7094, "label": "M"},
            "S": {"a": 4.5327, "c": 11.7903, "label": "S"},
        },
        "notes": ["a note"],
    }
    settings = {"potential": "kbisnsb-pod", "md": {"temperature_K": 450.0}, "analysis": SETTINGS}
    tmp = tmp_path_factory.mktemp("bisnsb")
    return tmp, write_bisnsb_report(
        tmp, npt=npt, analyses=[edge, control], reference=reference, settings=settings
    )


def test_report_schema(report):
    tmp, _ = report
    data = json.loads((tmp / "report.json").read_text())
    assert {"a", "a_err", "c", "c_err"} <= set(data["lattice"])
    for key in ("with_dislocation", "without_dislocation"):
        assert {"depth_A", "depth_err_A"} <= set(data["penetration"][key])
    assert data["paper"]["lattice"]["M"]["a"] == 4.4073
    assert data["paper"]["lattice"]["S"]["c"] == 11.7903
    cmp = {(c["phase"], c["quantity"]): c for c in data["lattice_comparison"]}
    assert cmp[("M", "a (Å)")]["deviation_pct"] == pytest.approx(100 * (4.45 / 4.4073 - 1))
    assert all(f["reproduced"] in {"yes", "no", "not resolved"} for f in data["findings"])
    assert {"k_front.png", "k_profiles.png", "k_region_msd.png"} <= set(data["plots"])
    assert all((tmp / p).is_file() for p in data["plots"])
    md = (tmp / "report.md").read_text()
    assert "| edge |" in md and "| control |" in md and "a note" in md


def test_report_finds_the_synthetic_core_path(report):
    _, rep = report
    pen = rep["penetration"]
    # the core walkers end 10 Å below the surface; the front starts in the film
    assert pen["with_dislocation"]["depth_A"] > 5.0
    assert abs(pen["without_dislocation"]["depth_A"]) < 0.5
    assert all(m["n_K_vapour_max"] == 0 for m in rep["models"])
    verdicts = {f["finding"].split(" (")[0]: f["reproduced"] for f in rep["findings"]}
    assert verdicts["K penetrates deeper with the edge dislocation than without"] == "yes"
    assert verdicts["K inside the alloy sits along the edge dislocation core"] == "yes"
    assert verdicts["K hardly enters the perfect crystal"] == "yes"


def test_findings_not_resolved_within_two_sigma():
    rows = [
        {
            "model": "edge",
            "depth_A": 2.0,
            "depth_err_A": 1.0,
            "t_report_ps": 100.0,
            "core_fraction": None,
            "area_fraction": 0.3,
        },
        {
            "model": "control",
            "depth_A": 1.0,
            "depth_err_A": 1.0,
            "t_report_ps": 100.0,
            "core_fraction": None,
            "area_fraction": 0.3,
        },
    ]
    out = {f["finding"].split(" (")[0]: f["reproduced"] for f in findings(rows, 3.0)}
    assert out["K penetrates deeper with the edge dislocation than without"] == "not resolved"
    assert out["K hardly enters the perfect crystal"] == "not resolved"


def test_presets_validate_and_reject_short_runs():
    from pydantic import ValidationError

    from atomflow.resources import data_dir
    from atomflow.studies.bisnsb_k import BiSnSbKPreset
    from atomflow.studies.spec import load_spec

    path = data_dir("workflows") / "bisnsb_dislocation.toml"
    systems = {"bisnsb_k": BiSnSbKPreset}
    quick = load_spec(path, "quick", systems).preset
    full = load_spec(path, "full", systems).preset
    for p in (quick, full):
        assert p.md.steps * p.timestep_fs / 1000 >= 100
        assert p.analysis.t_report_ps == 100 and p.expected_minutes > 0
        assert p.potential == "kbisnsb-pod"
    assert quick.expected_minutes <= 30
    assert set(full.models) >= {"edge", "control", "screw"}
    with pytest.raises(ValidationError, match="shorter than the analysis times"):
        BiSnSbKPreset.model_validate({"md": {"steps": 1000}})
    with pytest.raises(ValidationError, match="distinct"):
        BiSnSbKPreset.model_validate({"md": {"steps": 60000}, "models": ["edge", "edge"]})


def test_collapsed_contacts_are_named():
    from pymatgen.core import Lattice, Structure

    from atomflow.studies.bisnsb_k import _contacts_message

    pair = Structure(Lattice.cubic(10), ["K", "K", "Bi"], [[0, 0, 0], [0.18, 0, 0], [0.5] * 3])
    assert _contacts_message(pair).startswith("K-K 1.80 Å")
    apart = Structure(Lattice.cubic(10), ["K", "K", "Bi"], [[0, 0, 0], [0.45, 0, 0], [0.5] * 3])
    assert _contacts_message(apart) is None


def test_configurations_are_averaged_per_model():
    from atomflow.studies.bisnsb_report import combine_models

    runs = [
        {**_analysis("edge", lambda t, v=v: v * t, 12, seed), "config": k}
        for k, (v, seed) in enumerate(((0.05, 1), (0.1, 2)))
    ]
    (row,) = combine_models(runs)
    depths = [r["penetration"]["depth_A"] for r in runs]
    assert row["n_configs"] == 2 and row["key"] == "with_dislocation"
    assert row["depth_A"] == pytest.approx(np.mean(depths))
    assert row["depth_err_A"] >= np.std(depths, ddof=1) / math.sqrt(2) - 1e-12
    assert row["n_K_below"] == sum(r["core_occupancy"]["n_K_below"] for r in runs)


def test_a_collapsed_configuration_is_left_out_and_its_verdicts_not_computed():
    from atomflow.studies.bisnsb_report import combine_models, markdown
    from atomflow.studies.md_tasks import collapse_note

    bad = {"ok": False, "reason": "host collapsed: Bi-Sn median contact 0.78 of its start"}
    intact = {**_analysis("edge", lambda t: 0.05 * t, 12, 1), "integrity": {"ok": True}}
    broken = {
        **_analysis("edge", lambda t: 0.3 * t, 12, 2),
        "config": 1,
        "integrity": bad,
        "integrity_note": collapse_note(bad),
    }
    (row,) = combine_models([intact, broken])
    assert row["depth_A"] == pytest.approx(intact["penetration"]["depth_A"])  # broken left out
    assert row["n_configs"] == 1 and row["n_collapsed"] == 1 and not row["invalid"]
    assert row["n_K_below"] == intact["core_occupancy"]["n_K_below"]
    # every control configuration collapsed: the row is invalid, and so is each verdict on it
    control = {**_analysis("control", lambda t: 0.0, 0, 3), "integrity": bad}
    rows = combine_models([intact, broken, control])
    for r in rows:
        r["core_radius_A"] = SETTINGS["core_radius_A"]
    ctrl = next(r for r in rows if r["model"] == "control")
    assert ctrl["invalid"] and ctrl["n_collapsed"] == 1
    verdicts = {f["finding"].split(" (")[0]: f for f in findings(rows, 3.0)}
    for name in (
        "K penetrates deeper with the edge dislocation than without",
        "K hardly enters the perfect crystal",
    ):
        assert verdicts[name]["reproduced"] == "not computed"
        assert verdicts[name]["ours"].startswith("invalid (host collapsed in control)")
    core = verdicts["K inside the alloy sits along the edge dislocation core"]
    assert core["reproduced"] == "yes"  # only the intact edge run is needed
    report = {
        "title": "t",
        "potential": "p",
        "temperature_K": 450.0,
        "paper": {"source": "s"},
        "lattice": {"T_K": 300.0},
        "lattice_comparison": [],
        "models": rows,
        "findings": findings(rows, 3.0),
        "definitions": {},
        "notes": [],
        "plots": [],
    }
    md = markdown(report)
    line = next(s for s in md.splitlines() if s.startswith("| control |"))
    assert "| invalid (host collapsed) |" in line  # no depth from the collapsed host
    assert ctrl["depth_A"] is None and ctrl["core_fraction"] is None
    # nor a region D: every region row of the collapsed model says so, with no number
    region_lines = [s for s in md.splitlines() if s.startswith("| control | ")][1:]
    assert len(region_lines) == 3
    for s in region_lines:
        assert s.count("invalid (host collapsed)") == 2 and "e-0" not in s
    line = next(s for s in md.splitlines() if s.startswith("| edge |"))
    assert "1 collapsed configuration(s) left out" in line
    assert "excluded from every fit and average" in collapse_note(bad)


def test_slab_nvt_names_contacts_and_keeps_requeue(tmp_path, monkeypatch):
    from atomflow.md.runner import MDInterrupted
    from atomflow.studies import bisnsb_k

    def boom(*a, **k):
        raise bisnsb_k.InputError("ERROR: Lost atoms")

    monkeypatch.setattr(bisnsb_k.nvt_md, "func", boom)
    with pytest.raises(RuntimeError, match="NVT of the edge slab with p failed: ERROR: Lost"):
        bisnsb_k.slab_nvt.func(None, {"name": "p"}, {}, "edge slab", workdir=tmp_path)

    def stop(*a, **k):
        raise MDInterrupted("stopped by signal 10")

    monkeypatch.setattr(bisnsb_k.nvt_md, "func", stop)
    with pytest.raises(MDInterrupted):
        bisnsb_k.slab_nvt.func(None, {"name": "p"}, {}, "edge slab", workdir=tmp_path)
