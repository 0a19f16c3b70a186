"""The Li-at-an-interface study (crncn_crn_interface, mo2n_wn) end to end through the CLI.

The recipes' potentials (licrcn-pod, limown-pod) are replaced, so the tiny preset
runs on a stand-in written here: Morse pairs with their minima at the first-shell distances
of Cr2(NCN)3 and CrN, cut after that shell (an elastic network that keeps the ideal cells
and the interface model intact), and long-range Morse pairs for Li. Not physical.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from study_cli import run_cli as _cli
from study_cli import run_twice, with_preset

from atomflow.errors import InputError
from atomflow.resources import data_dir

STANDIN_LICRCN = """
name = "standin-licrcn"
description = "test stand-in: elastic-network Morse pairs for Cr2(NCN)3 / CrN, Morse Li pairs"
elements = ["Li", "Cr", "C", "N"]
pair_style = "morse 5.0"
pair_coeff = [
  "1 1 0.05 1.5 3.0", "1 2 0.05 1.5 2.7", "1 3 0.05 1.5 2.6", "1 4 0.3 1.5 2.1",
  "2 2 0.3 3.0 3.0 3.45", "2 3 0.2 3.0 2.95 3.4", "2 4 1.0 3.0 2.09 2.7",
  "3 3 0.2 3.0 3.06 3.5", "3 4 3.0 3.0 1.23 1.9", "4 4 0.2 1.5 2.9 3.4",
]
citation = "none (test stand-in)"
"""

TINY = """
[presets.tiny]
description = "test-sized"
expected_minutes = 1
potential = "POTENTIAL"
restart_every = 500
bulk_a = { supercell = [1, 1, 1], n_li = 2 }
bulk_b = { supercell = [2, 2, 2], n_li = 2, li_margin = 0.85 }
npt = { temperature_K = 300, equil_steps = 200, steps = 400, sample_every = 20 }
nvt = { temperatures_K = [1200, 1500, 1800], equil_steps = 200, steps = 2000, sample_every = 10 }
analysis = { half_width_A = 3.0 }
[presets.tiny.interface]
builder = "crncn-crn"
n_li = 4
li_window_A = 2.0
params = { substrate_thickness = 2 }

"""
STUDY = "crncn_crn_interface"


def _potential(tmp: Path, text: str, name: str) -> Path:
    folder = tmp / name
    folder.mkdir(exist_ok=True)
    (folder / "potential.toml").write_text(text)
    return folder / "potential.toml"


def _recipe(tmp: Path, recipe: str, potential: Path, tiny: bool = False) -> Path:
    """The shipped recipe with its potential replaced (and a tiny preset added)."""
    text = (data_dir("workflows") / recipe).read_text()
    for name in ("licrcn-pod", "limown-pod"):
        text = text.replace(f'potential = "{name}"', f'potential = "{potential}"')
    if tiny:
        text = with_preset(text, TINY.replace("POTENTIAL", str(potential)))
    path = tmp / f"{Path(recipe).stem}-test.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("interface")
    spec = _recipe(tmp, f"{STUDY}.toml", _potential(tmp, STANDIN_LICRCN, "licrcn"), tiny=True)
    return tmp, run_twice(spec, tmp)


def _report(tmp: Path, store: str = "s1") -> dict:
    return json.loads((tmp / store / "results" / STUDY / "report.json").read_text())


def test_report_schema_lattice_and_regions(two_runs):
    tmp, runs = two_runs
    assert all(r.returncode == 0 for r in runs), runs[0].stderr[-3000:]
    report = json.loads(_cli("results", "--store", "s1", "--json", cwd=tmp).stdout)
    assert {
        "title",
        "potential",
        "phases",
        "lattice",
        "diffusion",
        "arrhenius",
        "findings",
        "paper",
        "definitions",
        "notes",
        "settings",
        "plots",
    } <= set(report)
    # lattice: both phases beside the structures/ catalogue, deviation in %
    lat = report["lattice"]
    assert set(lat) == {"A", "B"}
    assert lat["A"]["phase"] == "Cr2(NCN)3" and lat["B"]["phase"] == "CrN"
    refs = {("A", "a"): 5.30, ("A", "c"): 28.30, ("B", "a"): 4.148, ("B", "c"): 4.148}
    for (phase, q), ref in refs.items():
        v = lat[phase][q]
        assert {"ours", "err", "reference", "deviation_pct"} <= set(v)
        assert v["reference"] == ref and v["err"] > 0
        assert v["deviation_pct"] == pytest.approx(100 * (v["ours"] - ref) / ref)
        assert abs(v["deviation_pct"]) < 10  # the stand-in keeps the cells near the references
    assert lat["A"]["V"]["reference"] == pytest.approx(5.30**2 * 28.30 * math.sqrt(3) / 2)
    # diffusion: every region at every temperature, with the documented keys
    keys = {"region", "T_K", "D_cm2_s", "D_err_cm2_s", "converged", "n_atoms", "direction"}
    assert all(keys <= set(r) for r in report["diffusion"])
    got = {(r["region"], r["T_K"]) for r in report["diffusion"]}
    assert got == {(g, T) for g in ("interface", "bulk_A", "bulk_B") for T in (1200, 1500, 1800)}
    for region in ("interface", "bulk_A", "bulk_B"):
        ds = [r["D_cm2_s"] for r in report["diffusion"] if r["region"] == region]
        assert any(d is not None and math.isfinite(d) for d in ds), region
    assert {r["direction"] for r in report["diffusion"] if r["region"] == "interface"} == {"xy"}
    assert set(report["arrhenius"]) == {"interface", "bulk_A", "bulk_B"}
    assert all({"Ea_eV", "Ea_err_eV"} <= set(a) for a in report["arrhenius"].values())
    assert report["paper"]["source"].startswith("H. Li")
    assert "notes" not in report["paper"] and report["notes"]
    files = {p.name for p in (tmp / "s1" / "results" / STUDY).iterdir()}
    assert {"report.json", "report.md", "msd_regions.png", "arrhenius_regions.png"} <= files
    text = (tmp / "s1" / "results" / STUDY / "report.md").read_text()
    assert "## Lattice parameters" in text and "## Findings" in text


def test_findings_verdict_follows_the_numbers(two_runs):
    from atomflow.studies.numbers import verdict

    tmp, runs = two_runs
    assert runs[0].returncode == 0
    report = _report(tmp)
    by = {(r["region"], r["T_K"]): r for r in report["diffusion"]}
    per_t = [f for f in report["findings"] if f["T_K"] is not None]
    assert len(per_t) == 3
    for f in per_t:
        i = by[("interface", f["T_K"])]
        expect = []
        for bulk in ("bulk_A", "bulk_B"):
            b = by[(bulk, f["T_K"])]
            if i["D_cm2_s"] is None or b["D_cm2_s"] is None:
                expect.append("not computed")
                continue
            err = math.hypot(i["D_err_cm2_s"], b["D_err_cm2_s"])
            expect.append(verdict(i["D_cm2_s"] - b["D_cm2_s"], err, +1))
        assert [f["vs_A"], f["vs_B"]] == expect
        if "not computed" in expect:
            assert f["verdict"] == "not computed"
        elif "no" in expect:
            assert f["verdict"] == "no"
        else:
            assert f["verdict"] == ("yes" if expect == ["yes", "yes"] else "not resolved")
    assert all(
        f["verdict"] in {"yes", "no", "not resolved", "not computed"} for f in report["findings"]
    )


def test_two_fresh_runs_give_identical_numbers(two_runs):
    tmp, runs = two_runs
    assert all(r.returncode == 0 for r in runs)
    a, b = _report(tmp, "s1"), _report(tmp, "s2")
    for key in ("lattice", "diffusion", "arrhenius", "findings"):
        assert a[key] == b[key], key


def test_html_report(two_runs):
    tmp, runs = two_runs
    assert runs[0].returncode == 0
    out = _cli("report", "s1", "--html", cwd=tmp)
    assert out.returncode == 0, out.stderr
    page = (tmp / out.stdout.strip()).read_text()
    assert "<table>" in page and "data:image/png;base64," in page and 'id="report-data"' in page


def test_unshipped_potential_fails_early_and_names_it(monkeypatch):
    """Before a study's own potential ships, the run stops at once and says it is not
    distilled yet (the registry is emptied here, so the test holds whatever ships)."""
    from atomflow.studies import li_interface, systems
    from atomflow.studies.spec import load_spec

    models = {k: v.preset_model for k, v in systems().items()}
    spec = load_spec(data_dir("workflows") / "crncn_crn_interface.toml", "quick", models)
    monkeypatch.setattr(li_interface, "available_potentials", lambda: [])
    with pytest.raises(InputError) as exc:
        li_interface._potential(spec.preset)
    msg = " ".join(str(exc.value).split())
    assert "potential 'licrcn-pod' is not available" in msg
    assert "not been distilled yet" in msg and "C, Cr, Li, N" in msg


def test_misspelt_potential_fails_early_and_says_so(tmp_path):
    text = (data_dir("workflows") / "mo2n_wn.toml").read_text()
    spec = tmp_path / "mo2n_wn-typo.toml"
    spec.write_text(text.replace('potential = "limown-pod"', 'potential = "limown-pdo"'))
    out = _cli("run", str(spec), "--preset", "quick", "--store", "s", cwd=tmp_path)
    assert out.returncode == 2
    msg = " ".join(out.stderr.split())
    assert "potential 'limown-pdo' is not available" in msg and "limown-pod" in msg
    assert "Check its spelling" in msg and "Li, Mo, N, W" in msg
    assert not (tmp_path / "s").exists()


def test_shipped_presets_validate():
    from atomflow.studies import systems
    from atomflow.studies.spec import load_spec

    models = {k: v.preset_model for k, v in systems().items()}
    for recipe in ("crncn_crn_interface", "mo2n_wn"):
        path = data_dir("workflows") / f"{recipe}.toml"
        quick = load_spec(path, "quick", models)
        full = load_spec(path, "full", models)
        assert quick.header.system == "li_interface"
        assert quick.preset.expected_minutes <= 30
        assert len(quick.preset.nvt.temperatures_K) >= 3
        assert full.preset.configs > 1 and full.preset.nvt.steps >= 500_000


def test_bad_presets_name_the_key(tmp_path):
    from atomflow.studies import systems
    from atomflow.studies.spec import load_spec

    models = {k: v.preset_model for k, v in systems().items()}
    base = (data_dir("workflows") / "mo2n_wn.toml").read_text()
    cases = {
        "li_window_A = 2.0": ("li_window_A = 3.0", "0.5 Å narrower than"),
        "film_thickness = 4,": ("film_thikness = 4,", "film_thikness"),
    }
    for old, (new, expect) in cases.items():
        path = tmp_path / "bad.toml"
        path.write_text(base.replace(old, new, 1))
        with pytest.raises(InputError, match=expect) as exc:
            load_spec(path, "quick", models)
        assert "presets.quick" in str(exc.value)


# ---------------------------------------------------------------- pure functions


def test_interface_planes_and_band_membership_are_periodic():
    from atomflow.studies.li_interface_report import band_membership, interface_planes

    h = 20.0
    z = np.array([1.0, 3.0, 5.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0])
    labels = np.array(["substrate"] * 3 + ["film"] * 6)
    planes = interface_planes(z, labels, h)
    assert planes == pytest.approx([6.5, 19.5])
    assert interface_planes(z, labels, h, n_planes=1) == pytest.approx([6.5])
    cell = np.diag([10.0, 10.0, h])
    li = np.array([[[1.0, 1.0, 6.0], [1.0, 1.0, 12.0], [1.0, 1.0, 19.9], [1.0, 1.0, 20.4]]])
    inside = band_membership(li, cell[None], planes, 1.5)
    assert inside.tolist() == [[True, False, True, True]]


def _row(region, T, D, err, converged=True):
    return {"region": region, "T_K": T, "D_cm2_s": D, "D_err_cm2_s": err, "converged": converged}


def test_findings_and_arrhenius_from_synthetic_numbers():
    from atomflow.analysis.arrhenius import KB_EV_K
    from atomflow.studies.li_interface_report import arrhenius_by_region, findings

    phases = {"A": {"label": "X"}, "B": {"label": "Y"}}
    rows = []
    for T in (600.0, 800.0, 1000.0):
        for region, ea in (("interface", 0.3), ("bulk_A", 0.6), ("bulk_B", 0.8)):
            D = 1e-3 * math.exp(-ea / (KB_EV_K * T))
            rows.append(_row(region, T, D, 0.05 * D))
    table, _ = arrhenius_by_region(rows, phases, {})
    assert table["interface"]["Ea_eV"] == pytest.approx(0.3, rel=1e-6)
    assert table["bulk_B"]["Ea_eV"] == pytest.approx(0.8, rel=1e-6)
    out = findings(rows, table, phases, {"claim": "fast"})
    assert out[0]["verdict"] == "yes" and out[0]["T_K"] is None
    assert [f["verdict"] for f in out[1:4]] == ["yes"] * 3
    assert out[-1]["verdict"] == "yes"  # Ea(interface) lower than both
    # within 2σ of bulk A at one temperature; slower than bulk B at another; a missing D
    rows[0] = _row("interface", 600.0, rows[1]["D_cm2_s"] * 1.05, rows[1]["D_err_cm2_s"])
    rows[3] = _row("interface", 800.0, rows[5]["D_cm2_s"] * 0.1, 1e-20)
    rows[6] = _row("interface", 1000.0, None, None, converged=False)
    table, _ = arrhenius_by_region(rows, phases, {})
    assert table["interface"]["Ea_eV"] is None and "needs 3" in table["interface"]["note"]
    out = findings(rows, table, phases, {})
    assert [f["verdict"] for f in out[1:4]] == ["not resolved", "no", "not computed"]
    assert out[0]["verdict"] == "not resolved" and out[-1]["verdict"] == "not computed"
