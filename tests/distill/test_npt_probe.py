"""NPT and long NVT probes in an active-learning round, run for real with the Li3N eSNAP as
the 'fit'."""

import json

import pytest
from pymatgen.core import Structure

from atomflow.distill import dataset
from atomflow.distill.workflow import Parent, build_parent, distill_probe, load_recipe
from atomflow.potentials import get_potential
from atomflow.resources import data_dir


def probe_round(tmp_path, pair_min: dict, extra: dict) -> dict:
    """One probe round on a 2x2x2 Li3N parent with eSNAP standing in for the fit."""
    parent = Parent(system="li3n", params={"supercell": [2, 2, 2]}, label="li3n")
    path = tmp_path / "parent.json"
    path.write_text(json.dumps(build_parent(parent).as_dict()))
    fit = {"folder": str(get_potential("li3n-esnap").directory), "pair_min_A": pair_min}
    active = {
        "temperatures_K": [300],
        "steps": 100,
        "min_atoms": 32,
        "snapshots": 2,
        "floor_A": 1.0,
        **extra,
    }
    out = distill_probe.func(
        fit, [str(path)], active, 1, 7, [parent.model_dump(mode="json")], workdir=tmp_path
    )
    out["parent_atoms"] = len(Structure.from_file(path))
    return out


def test_a_round_with_npt_probes_labels_frames_spread_over_the_npt_run(tmp_path):
    npt_probes = {"temperatures_K": [300], "steps": 600, "snapshots": 4, "min_atoms": 100}
    out = probe_round(tmp_path, {"Li-Li": 2.0, "Li-N": 1.7, "N-N": 3.0}, {"npt": npt_probes})
    nvt, npt = out["probes"]
    assert "ensemble" not in nvt and npt["ensemble"] == "npt"
    assert npt["n_atoms"] == out["parent_atoms"] * 4 and not npt["crashed"]
    # eSNAP is its own reference: 0.6 ps at 300 K and 1 bar keeps the volume within 3 %
    assert npt["volume_end_A3_atom"] == pytest.approx(npt["volume_start_A3_atom"], rel=0.03)
    frames = dataset.read_frames(tmp_path / "selected.xyz")
    big = [f for f in frames if len(f) == npt["n_atoms"]]
    assert len(big) == 4  # every NPT snapshot, flagged or not
    assert len({round(f.get_volume(), 3) for f in big}) == 4  # from different moments


def test_a_round_with_long_probes_labels_spread_and_flagged_frames(tmp_path):
    long_probes = {"temperatures_K": [600], "steps": 400, "snapshots": 3, "min_atoms": 100}
    # a training minimum above Li3N's Li-N bond (1.94 Å): every frame extrapolates
    out = probe_round(tmp_path, {"Li-Li": 2.0, "Li-N": 2.5, "N-N": 3.0}, {"long": long_probes})
    _, long = out["probes"]
    assert long["long"] and long["temperature_K"] == 600 and not long["crashed"]
    assert long["steps_done"] == 400 and long["flagged_frames"] > 10
    frames = [f for f in dataset.read_frames(tmp_path / "selected.xyz") if len(f) >= 100]
    steps = [f.info["md_step"] for f in frames]
    # 3 spread over the run (the last included) and up to 3 flagged ones (every frame is
    # flagged: some fall between the spread ones), each frame once
    assert 400 in steps and 3 < len(steps) <= 6 and len(set(steps)) == len(steps)


def test_long_probe_parents_must_index_the_parents():
    from atomflow.distill.workflow import DistillPreset

    _, settings = load_recipe(data_dir("workflows") / "potentials" / "li3n-pod.toml", "quick")
    data = settings.model_dump(mode="json")
    data["active"]["long"] = {"temperatures_K": [600], "parents": [len(data["parents"])]}
    with pytest.raises(ValueError, match=r"active\.long\.parents"):
        DistillPreset(**data)


def test_a_long_probe_can_run_at_constant_pressure(tmp_path):
    """limown-pod's WN+Li held at its built lattice and collapsed at the fit's own NPT lattice:
    a long NPT probe goes where a study runs, and says how far the volume moved."""
    long_probes = {
        "temperatures_K": [300],
        "steps": 400,
        "snapshots": 3,
        "min_atoms": 100,
        "ensemble": "npt",
    }
    # training minima below every Li3N contact: no frame is flagged, only spread ones are kept
    out = probe_round(tmp_path, {"Li-Li": 1.0, "Li-N": 1.0, "N-N": 1.0}, {"long": long_probes})
    _, long = out["probes"]
    assert long["long"] and long["ensemble"] == "npt" and not long["crashed"]
    assert long["steps_done"] == 400 and long["n_atoms"] == out["parent_atoms"] * 4
    # eSNAP at its own lattice: the volume moves, but by under 3 %
    assert long["volume_end_A3_atom"] != long["volume_start_A3_atom"]
    assert long["volume_end_A3_atom"] == pytest.approx(long["volume_start_A3_atom"], rel=0.03)
    cells = {
        round(f.get_volume(), 3)
        for f in dataset.read_frames(tmp_path / "selected.xyz")
        if len(f) == long["n_atoms"]
    }
    assert len(cells) == 3  # spread frames from different moments of a changing cell
