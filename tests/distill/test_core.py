"""The fitted repulsive core: zero where the fit was trained, smooth, and it turns a pair
energy with a hole into one that rises at every step; LAMMPS reads it as tabulated."""

import json

import numpy as np
import pytest
from ase.build import bulk
from ase.neighborlist import neighbor_list

from atomflow.distill.core import (
    CoreSettings,
    add_core,
    closing_paths,
    core_energy_force,
    fit_core,
    onsets,
)


def _pair_energy(frames, phi):
    return [0.5 * float(np.sum(phi(neighbor_list("d", a, 6.0)))) for a in frames]


def _holey(r):
    """Morse around 2.5 Å, falling by 300 eV below 1.5 Å: a linear fit's energy hole."""
    return (1 - np.exp(-1.5 * (r - 2.5))) ** 2 - 1 - 300.0 / (1 + np.exp((r - 1.5) / 0.08))


def _core_sum(frames, cores):
    out = []
    for atoms in frames:
        i, j, d = neighbor_list("ijd", atoms, 6.0)
        sym = np.array(atoms.get_chemical_symbols())
        total = 0.0
        for pair, c in cores.items():
            a, b = pair.split("-")
            m = (sym[i] == a) & (sym[j] == b)
            total += 0.5 * float(np.sum(core_energy_force(d[m], c)[0])) * (2 if a != b else 1)
        out.append(total)
    return out


def test_core_is_zero_above_onset_and_its_force_is_minus_the_slope():
    core = {
        "r_on_A": 2.0,
        "A_min_eV": 160.0,
        "grid_A": [2.0, 1.8, 1.6, 1.4],
        "rises_eV": [0.0, 5.0, 40.0],
    }
    r = np.linspace(0.5, 2.5, 2001)
    e, f = core_energy_force(r, core)
    assert np.all(e[r >= 2.0] == 0) and np.all(f[r >= 2.0] == 0)
    assert np.all(np.diff(e) <= 1e-12)  # rises inward, never falls
    assert np.allclose(f[1:-1], -np.gradient(e, r)[1:-1], rtol=1e-3, atol=0.1)  # FD error
    fine = core_energy_force(np.linspace(0.5, 2.5, 4001), core)[1]
    assert np.max(np.abs(np.diff(fine))) < 0.6 * np.max(np.abs(np.diff(f)))  # no jumps
    assert e[np.searchsorted(r, 1.4)] == pytest.approx(45.0 + 160 * 0.3**3, rel=1e-3)


def test_fitted_core_fills_the_hole_on_every_closing_path():
    rocksalt = bulk("NaCl", "rocksalt", a=5.0).repeat(2)
    trained = {"Cl-Na": 1.9, "Na-Na": 2.2, "Cl-Cl": 2.2}  # closest approaches in "training"
    settings = CoreSettings()
    cores = fit_core(lambda f: _pair_energy(f, _holey), [rocksalt], ["Na", "Cl"], trained, settings)
    assert set(cores) == {"Cl-Na", "Cl-Cl", "Na-Na"}
    assert cores["Cl-Na"]["r_on_A"] == 1.9 and cores["Cl-Na"]["paths"] == settings.contacts
    assert sum(cores["Cl-Na"]["rises_eV"]) > 300  # the hole is 300 eV deep
    r_on = onsets(["Na", "Cl"], trained, settings)
    for frames in closing_paths(rocksalt, "Cl-Na", r_on, settings):
        bare = np.array(_pair_energy(frames, _holey))
        total = bare + np.array(_core_sum(frames, cores))
        assert bare.min() < bare[0] - 50  # the fit alone falls into the hole
        assert np.all(np.diff(total) > 0)  # fit + core rises at every step inward
    # no configuration without a pair inside its onset feels the core
    assert _core_sum([rocksalt], cores) == [0.0]


def test_pairs_never_seen_in_training_get_a_covalent_onset():
    r_on = onsets(["Li", "N"], {"Li-N": 1.4}, CoreSettings(unknown_onset=0.75))
    assert r_on["Li-N"] == 1.4
    assert r_on["N-N"] == pytest.approx(0.75 * 2 * 0.71)
    assert r_on["Li-Li"] == pytest.approx(0.75 * 2 * 1.28)
    lifted = onsets(["Li", "N"], {"Li-N": 1.4, "N-N": 1.3}, CoreSettings(onset_min_A={"N-N": 2.5}))
    assert lifted["N-N"] == 2.5 and lifted["Li-N"] == 1.4  # only where asked, never lowered


def test_lammps_reads_the_core_table(tmp_path):
    """A ZBL 'fit' with a core: LAMMPS energy and force of a dimer = ZBL + U(r), -dU/dr."""
    from pymatgen.core import Lattice, Structure

    from atomflow.md.batch import BatchEvaluator
    from atomflow.potentials.registry import load_potential_file

    zbl = ["1 1 zbl 3 3", "1 2 zbl 3 7", "2 2 zbl 7 7"]
    for name, style, coeff in (
        ("bare", "zbl 1.0 1.7", [c.replace(" zbl", "") for c in zbl]),
        ("core", "hybrid/overlay zbl 1.0 1.7", zbl),  # a core overlays a hybrid/overlay
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "potential.toml").write_text(
            f'name = "t"\nelements = ["Li", "N"]\npair_style = "{style}"\n'
            f'pair_coeff = {json.dumps(coeff)}\nfiles = []\ncitation = "test"\n'
        )
    core = {
        "r_on_A": 1.6,
        "A_min_eV": 160.0,
        "grid_A": [1.6, 1.4, 1.2],
        "rises_eV": [3.0, 30.0],
    }
    cores = {"Li-Li": {**core, "r_on_A": 2.0, "grid_A": [2.0, 1.5]}, "Li-N": core}
    cores["Li-Li"]["rises_eV"] = [0.0]
    cores["N-N"] = {**cores["Li-Li"]}
    add_core(tmp_path / "core", cores)
    bare = load_potential_file(tmp_path / "bare" / "potential.toml")
    cored = load_potential_file(tmp_path / "core" / "potential.toml")
    assert "core.table" in cored.files and "table" in cored.pair_style
    for r in (1.0, 1.3, 1.55, 1.7):
        dimer = Structure(Lattice.cubic(20.0), ["Li", "N"], [[0, 0, 0], [r / 20.0, 0, 0]])
        with BatchEvaluator(dimer, bare) as ev:
            r0 = ev.evaluate()
        with BatchEvaluator(dimer, cored) as ev:
            r1 = ev.evaluate()
        e0, f0, e1, f1 = r0.energy_eV, r0.forces_eV_A, r1.energy_eV, r1.forces_eV_A
        u, fu = core_energy_force(r, core)
        assert e1 - e0 == pytest.approx(float(u), abs=1e-3 * max(1.0, float(u)))
        assert f1[1, 0] - f0[1, 0] == pytest.approx(float(fu), abs=1e-2 * max(1.0, float(fu)))


def test_closing_paths_end_before_the_moving_atom_runs_into_a_bystander():
    """Two N of one linear N=C=N unit (C-N 1.23 Å, N-N 2.46 Å): closing N on N drives it
    into the C. With ``bystander_ratio`` the path ends once C-N is under 0.8 of its bond,
    so the C-N fall is not charged to N-N; without it the path runs on into the C."""
    from ase import Atoms

    ncn = Atoms("NCN", positions=[[0, 0, 0], [1.23, 0, 0], [2.46, 0, 0]], cell=[12, 12, 12])
    ncn.pbc = True
    r_on = {"N-N": 2.0, "C-N": 0.6, "C-C": 2.0}
    loose = closing_paths(ncn, "N-N", r_on, CoreSettings(contacts=1))
    assert loose and min(f.get_distance(0, 1, mic=True) for f in loose[0]) < 0.98
    assert closing_paths(ncn, "N-N", r_on, CoreSettings(contacts=1, bystander_ratio=0.8)) == []
    # the cut applies to the listed pairs only: Li-Li keeps its paths past bystanders
    only_li = CoreSettings(contacts=1, bystander_ratio=0.8, bystander_pairs=["Li-Li"])
    assert len(closing_paths(ncn, "N-N", r_on, only_li)) == 1
    # a clear path is not cut: N approaching a lone N in the same box
    nn = Atoms("NN", positions=[[0, 0, 0], [2.46, 0, 0]], cell=[12, 12, 12], pbc=True)
    assert len(closing_paths(nn, "N-N", r_on, CoreSettings(contacts=1, bystander_ratio=0.8))) == 1
