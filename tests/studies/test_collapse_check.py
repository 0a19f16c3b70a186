"""A run whose host collapsed is kept for inspection but never used: the analysis tasks mark
it invalid, the reports print no D for it and no fit or average takes it in."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from atomflow.studies import li_interface, md_tasks
from atomflow.studies.li_interface import li_diffusion
from atomflow.studies.li_interface_report import combine_runs, findings
from atomflow.studies.md_tasks import tracer_diffusion
from atomflow.studies.numbers import fmt_d
from atomflow.studies.report import arrhenius_table
from atomflow.trajectory.h5md import H5MDWriter


def write_run(
    path,
    collapse_from: int | None,
    n_frames: int = 80,
    seed: int = 1,
    noise_A: float = 0.08,
    rest_frames: int = 0,
) -> dict:
    """Rock-salt W/N with 6 Li hopping at random; from ``collapse_from`` the cell densifies
    by 15 % in length, as WN+Li did with one limown-pod fit (median W-W 2.67 -> 2.10 Å)."""
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.2), ["W", "N"], [[0, 0, 0], [0.5] * 3])
    s.make_supercell([3, 3, 3])
    for k in range(6):
        s.append("Li", [(k + 0.25) / 6, 0.25 / 3, 0.25 / 3])
    rng = np.random.default_rng(seed)
    li = np.array([site.specie.symbol == "Li" for site in s])
    walk = np.cumsum(rng.normal(0, 0.3, (n_frames, int(li.sum()), 3)), axis=0)
    names = ["W", "N", "Li"]
    types = np.array([names.index(site.specie.symbol) + 1 for site in s])
    with H5MDWriter(path, types, names, timestep_ps=0.001) as w:
        for f in range(n_frames):
            # the first rest_frames are the crystal at rest, as where an MD run starts
            pos = s.cart_coords + (f >= rest_frames) * rng.normal(0, noise_A, (len(s), 3))
            pos[li] += walk[f]
            cell = s.lattice.matrix.copy()
            if collapse_from is not None and f >= collapse_from:
                pos, cell = 0.85 * pos, 0.85 * cell
            w.append(100 * f, pos, cell, {"temperature": 800.0})
    return {"trajectory": str(path), "temperature_K": 800.0, "md": {}}


def test_tracer_diffusion_marks_a_collapsed_run_and_no_fit_uses_it(tmp_path):
    out = {}
    for name, start in (("intact", None), ("collapsed", 40)):
        (tmp_path / name).mkdir()
        md = write_run(tmp_path / name / "traj.h5", start)
        out[name] = tracer_diffusion.func(md, "Li", ["xyz"], workdir=tmp_path / name)
    assert out["intact"]["integrity"]["ok"]
    assert not out["intact"]["diffusion"][0]["invalid"]
    bad = out["collapsed"]["diffusion"][0]
    assert bad["invalid"] and not bad["converged"]
    assert bad["note"].startswith("INVALID, the structure collapsed")
    assert {c["pair"] for c in out["collapsed"]["integrity"]["collapsed"]} >= {"N-W", "W-W"}
    assert fmt_d(bad["D_cm2_s"], bad["D_err_cm2_s"], bad["converged"], invalid=True) == (
        "invalid (host collapsed)"
    )
    # the verdict alone decides: the intact run's converged fit, judged collapsed, is dropped
    assert out["intact"]["diffusion"][0]["converged"]
    flagged = {**out["intact"]["integrity"], "ok": False, "reason": "the structure collapsed: X"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(md_tasks, "host_integrity", lambda traj, mobile=(): flagged)
        judged = tracer_diffusion.func(
            write_run(tmp_path / "again.h5", None), "Li", ["xyz"], workdir=tmp_path / "intact"
        )["diffusion"][0]
    assert judged["invalid"] and not judged["converged"]
    # two temperatures, one collapsed: the Arrhenius table has one usable point, so no fit
    good = dict(out["intact"]["diffusion"][0], T_K=700.0, converged=True)
    rows, fits = arrhenius_table([good, bad], "Li")
    assert rows[0]["n_points"] == 1 and not fits


def test_interface_report_drops_a_collapsed_configuration(tmp_path):
    runs = []
    for k, start in enumerate((None, 30)):
        md = write_run(tmp_path / f"c{k}.h5", start, seed=k)
        runs.append(li_diffusion.func(md, "bulk_B", k))
    assert not runs[0].get("invalid") and runs[1]["invalid"]
    assert all(v for key, v in runs[0].items() if key.startswith("converged_"))
    flagged = {**runs[0]["integrity"], "ok": False, "reason": "the structure collapsed: X"}
    with pytest.MonkeyPatch.context() as mp:  # the verdict alone unmarks converged fits
        mp.setattr(li_interface, "host_integrity", lambda traj, mobile=(): flagged)
        judged = li_diffusion.func(write_run(tmp_path / "again.h5", None), "bulk_B", 0)
    assert judged["invalid"] and not any(
        v for key, v in judged.items() if key.startswith("converged_")
    )
    assert not any(v for key, v in runs[1].items() if key.startswith("converged_"))
    phases = {"A": {"label": "Mo2N"}, "B": {"label": "WN"}}
    (row,) = combine_runs(runs, phases)
    assert row["n_collapsed"] == 1 and not row["invalid"]
    assert row["n_configs_fitted"] == 1
    assert row["D_cm2_s"] == pytest.approx(runs[0]["D_xyz_cm2_s"])
    assert "INVALID" in row["note"]
    (only_bad,) = combine_runs(runs[1:], phases)
    assert only_bad["invalid"] and only_bad["D_cm2_s"] is None
    arrhenius = {g: {"Ea_eV": None, "Ea_err_eV": None} for g in ("interface", "bulk_A", "bulk_B")}
    text = findings([only_bad], arrhenius, phases, {})[1]["ours"]
    assert "WN invalid (host collapsed)" in text


def test_analyze_warns_about_a_collapsed_host_of_any_trajectory(tmp_path):
    from atomflow.analysis.analyze import analyze_trajectory

    write_run(tmp_path / "bad.h5", collapse_from=40)
    with pytest.warns(UserWarning, match="the structure collapsed: N-N"):
        out = analyze_trajectory(tmp_path / "bad.h5", ["Li"])
    assert not out["integrity"]["ok"]
    write_run(tmp_path / "good.h5", collapse_from=None)
    assert analyze_trajectory(tmp_path / "good.h5", ["Li"])["integrity"]["ok"]


def test_npt_task_fails_when_its_host_collapses(tmp_path, monkeypatch):
    """The NPT lattice seeds every later stage, so a collapsed NPT run fails the task
    (the MD itself is replaced by a written trajectory; the check is what is tested)."""
    from atomflow.studies import md_tasks

    class Ran:
        def __init__(self, path):
            self.trajectory = str(path)

        def as_dict(self):
            return {
                "trajectory": self.trajectory,
                "mean_temperature_K": 300.0,
                "std_temperature_K": 20.0,
            }

    paths = {}
    for name, start in (("intact", None), ("collapsed", 40)):
        paths[name] = tmp_path / f"{name}.h5"
        write_run(paths[name], start)
    structure = Structure(Lattice.cubic(4.2), ["W", "N"], [[0, 0, 0], [0.5] * 3])
    pot = {"name": "limown-pod"}
    protocol = {"temperature_K": 300, "steps": 100, "sample_every": 10}
    for name in paths:
        monkeypatch.setattr(md_tasks, "run_md", lambda *a, _p=paths[name], **k: Ran(_p))
        if name == "intact":
            out = md_tasks.npt_lattice.func(structure, pot, protocol, [3, 3, 3], ["Li"], tmp_path)
            assert out["md"]["integrity"]["ok"]
            assert out["lattice"]["a"] == pytest.approx(4.2, abs=0.01)
        else:
            with pytest.raises(ValueError, match=r"NPT at 300 K with limown-pod: the struct"):
                md_tasks.npt_lattice.func(structure, pot, protocol, [3, 3, 3], ["Li"], tmp_path)


def test_a_fit_gate_fails_a_run_whose_host_collapsed(tmp_path):
    """The distillation gate judges lost atoms, close pairs and temperature; a host that
    densifies with every pair above the floor passes those, so the validation adds the
    collapse check and the gate's verdict follows it."""
    from atomflow.distill.report import gate_lines
    from atomflow.distill.workflow import gate_integrity

    parents = [
        {"reference": "wn_delta", "label": "WN+Li", "mobile": "Li"},
        {"reference": "wn_delta", "label": "WN", "mobile": "Li"},
        {"reference": "wn_delta", "label": "crashed"},
    ]
    for k, collapse in ((0, 30), (1, None)):
        (tmp_path / f"gate_{k}").mkdir()
        write_run(tmp_path / f"gate_{k}" / "traj.h5", collapse)
    # a gate starts from the crystal at rest: hot contacts are shorter than those at rest
    parents.append({"reference": "wn_delta", "label": "hot", "mobile": "Li"})
    (tmp_path / "gate_3").mkdir()
    hot = write_run(tmp_path / "gate_3" / "traj.h5", None, noise_A=0.12, rest_frames=1)
    from atomflow.analysis.integrity import check_integrity
    from atomflow.trajectory import read_h5md

    assert not check_integrity(read_h5md(hot["trajectory"]), mobile=("Li",)).ok
    passed = {"ok": True, "closest_pair_A": 1.9, "temperature_K": 800.0}
    stable = [{**passed, "parent": p["label"]} for p in parents[:2]]
    stable.append({**passed, "parent": "hot"})
    stable.append({**passed, "parent": "crashed", "ok": False})
    judged = {g["parent"]: g for g in gate_integrity(stable, str(tmp_path), parents)}
    assert not judged["WN+Li"]["ok"] and judged["WN+Li"]["host_intact"] is False
    assert "W-W" in judged["WN+Li"]["host_collapse"]
    assert judged["WN"]["ok"] and judged["WN"]["host_intact"] and not judged["WN"]["host_collapse"]
    assert judged["crashed"]["host_intact"] is None and not judged["crashed"]["ok"]
    # judged from its thermalised part, the hot run is intact
    assert judged["hot"]["ok"] and judged["hot"]["host_intact"]
    # the report's gate table says which run collapsed and why
    row = {"ps": 2.0, "atoms": 132, "lost_atoms_or_crash": False, "mean_temperature_K": 800.0}
    row["temperature_drift_K"] = 3.0
    lines = gate_lines([{**row, **g} for g in judged.values()])
    assert any(s.startswith("| WN+Li |") and "| NO | False |" in s for s in lines)
    assert any(s.startswith("- WN+Li: ") and "W-W" in s for s in lines)
