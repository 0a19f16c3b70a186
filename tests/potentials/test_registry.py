"""The potential registry: shipped entries, validation, clear errors, plain-LAMMPS export."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from atomflow.errors import InputError
from atomflow.potentials import Potential, available_potentials, get_potential
from atomflow.structures.li3n import build_li3n


def test_li3n_esnap_is_shipped_with_citation_and_published_coefficients():
    assert "li3n-esnap" in available_potentials()
    pot = get_potential("li3n-esnap")
    assert pot.elements == ("Li", "N")
    assert "10.1038/s41524-019-0212-1" in pot.citation
    assert pot.charges == {"Li": 0.239, "N": -0.717}
    # 3 Li + 1 N is neutral with these charges
    assert 3 * pot.charges["Li"] + pot.charges["N"] == pytest.approx(0, abs=1e-12)
    coeff = (pot.directory / "Li3N.snapcoeff").read_text().split("\n")
    assert coeff[1].split() == ["2", "31"]
    assert "diagonalstyle" not in (pot.directory / "Li3N.snapparam").read_text()
    lines = pot.lammps_commands()
    assert lines[0] == "pair_style hybrid/overlay snap coul/long 8.0"
    assert lines[-1].startswith("kspace_style ewald")


def test_unknown_potential_lists_the_shipped_ones():
    with pytest.raises(InputError, match=r"unknown potential 'nope'; shipped: .*li3n-esnap"):
        get_potential("nope")


def test_missing_parameter_file_is_a_clear_error(tmp_path):
    src = get_potential("li3n-esnap").directory
    dst = tmp_path / "mine"
    shutil.copytree(src, dst)
    (dst / "Li3N.snapcoeff").unlink()
    with pytest.raises(InputError, match=r"parameter file Li3N\.snapcoeff is missing"):
        get_potential(str(dst / "potential.toml"))


def test_unknown_key_in_potential_file(tmp_path):
    src = get_potential("li3n-esnap").directory
    dst = tmp_path / "mine"
    shutil.copytree(src, dst)
    text = (dst / "potential.toml").read_text()
    (dst / "potential.toml").write_text('colour = "blue"\n' + text)
    with pytest.raises(InputError, match="unknown keys colour"):
        get_potential(str(dst))


def test_file_digest_changes_when_a_file_is_edited(tmp_path):
    src = get_potential("li3n-esnap").directory
    dst = tmp_path / "mine"
    shutil.copytree(src, dst)
    before = get_potential(str(dst)).files_digest()
    with open(dst / "Li3N.snapparam", "a") as fh:
        fh.write("\n")
    assert get_potential(str(dst)).files_digest() != before


# --- validity, report, plain-LAMMPS export, element checks, CLI ------------------------------


def _copy(tmp_path, edit=None, name: str = "mine"):
    """A copy of li3n-esnap under ``tmp_path/name``; ``edit`` rewrites its potential.toml."""
    dst = tmp_path / name
    shutil.copytree(get_potential("li3n-esnap").directory, dst)
    if edit is not None:
        toml = dst / "potential.toml"
        toml.write_text(edit(toml.read_text()))
    return dst


def test_li3n_esnap_states_its_validity_range():
    v = get_potential("li3n-esnap").validity
    assert v["temperatures_K"] == [300, 900]
    assert v["structures"] == ["Li3N alpha P6/mmm bulk, with Li vacancies"]
    assert "bulk, defects and surfaces" in v["notes"]
    assert get_potential("li3n-esnap").report is None


def test_unknown_key_in_validity_names_the_file(tmp_path):
    dst = _copy(tmp_path, lambda t: t.replace("[validity]\n", "[validity]\npressures = [0, 1]\n"))
    with pytest.raises(InputError) as info:
        get_potential(str(dst))
    msg = str(info.value)
    assert str(dst / "potential.toml") in msg
    assert "unknown keys in [validity]: pressures" in msg
    assert "allowed: temperatures_K, structures, notes" in msg


def test_unknown_top_level_key_names_the_file_and_the_allowed_keys(tmp_path):
    dst = _copy(tmp_path, lambda t: 'colour = "blue"\n' + t)
    with pytest.raises(
        InputError, match=r"potential\.toml: unknown keys colour; allowed: .*validity"
    ):
        get_potential(str(dst))


@pytest.mark.parametrize("temps", ["[900, 300]", "[300]", "[-1, 300]", '["a", "b"]'])
def test_bad_temperature_range_is_rejected(tmp_path, temps):
    dst = _copy(
        tmp_path, lambda t: t.replace("temperatures_K = [300, 900]", f"temperatures_K = {temps}")
    )
    with pytest.raises(
        InputError, match=r"potential\.toml: .*validity\.temperatures_K must be \[low, high\]"
    ):
        get_potential(str(dst))


def test_report_is_checked_and_exported_as_an_absolute_path(tmp_path, monkeypatch):
    dst = _copy(tmp_path, lambda t: 'report = "report.md"\n' + t)
    with pytest.raises(
        InputError, match=r"potential\.toml: .*report 'report\.md' is not a file in"
    ):
        get_potential(str(dst))
    (dst / "report.md").write_text("# fit report\n")
    monkeypatch.chdir(tmp_path)
    pot = get_potential("mine")  # a relative folder: exported paths are still absolute
    assert pot.report == "report.md"
    assert pot.to_lammps_dict()["report"] == str((dst / "report.md").resolve())


def test_validity_is_checked_for_programmatic_potentials_too():
    base = get_potential("li3n-esnap")
    with pytest.raises(InputError, match=r"potential 'x': unknown keys in \[validity\]: T"):
        Potential(
            name="x",
            elements=("Li", "N"),
            pair_style="zero 4.0",
            pair_coeff=("* *",),
            directory=base.directory,
            validity={"T": [1, 2]},
        )


def test_to_lammps_dict_schema(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _copy(tmp_path)
    d = get_potential("mine").to_lammps_dict()  # relative folder
    assert json.loads(json.dumps(d)) == d
    assert set(d) == {
        "name", "description", "elements", "masses", "units", "atom_style", "pair_style",
        "pair_coeff", "kspace_style", "charges", "timestep_fs", "files", "report", "citation",
        "provenance", "validity",
    }  # fmt: skip
    assert d["elements"] == ["Li", "N"] and d["units"] == "metal" and d["atom_style"] == "charge"
    assert d["pair_style"] == "hybrid/overlay snap coul/long 8.0"
    assert d["kspace_style"] == "ewald 1.0e-6"
    assert d["charges"] == {"Li": 0.239, "N": -0.717}
    assert d["masses"]["Li"] == pytest.approx(6.94, abs=0.01)
    assert d["report"] is None and d["timestep_fs"] == 1.0
    folder = (tmp_path / "mine").resolve()
    assert d["files"] == [str(folder / "Li3N.snapcoeff"), str(folder / "Li3N.snapparam")]
    assert d["pair_coeff"] == [
        f"* * snap {folder}/Li3N.snapcoeff {folder}/Li3N.snapparam Li N",
        "* * coul/long",
    ]
    for line in d["pair_coeff"]:
        assert not line.startswith("pair_coeff") and "{" not in line
    assert d["validity"]["temperatures_K"] == [300, 900]
    assert "maml" in d["provenance"]["source"] and "10.1038" in d["citation"]


def test_exported_potential_runs_in_plain_lammps_with_the_same_energy(tmp_path):
    """Only to_lammps_dict() and a LAMMPS data file: the energy equals atomflow's own setup."""
    from ase.io import write

    from atomflow.md.minimize import single_point
    from atomflow.md.session import open_lammps

    pot = get_potential("li3n-esnap")
    s = build_li3n((2, 2, 2), li_vacancies=1, seed=1)
    rng = np.random.default_rng(0)
    s = s.copy()
    for i in range(len(s)):
        s.translate_sites([i], rng.normal(0, 0.05, 3), frac_coords=False)
    expected, _ = single_point(s, pot)

    d = json.loads(json.dumps(pot.to_lammps_dict()))
    data = tmp_path / "li3n.data"
    atoms = s.to_ase_atoms()
    write(data, atoms, format="lammps-data", atom_style=d["atom_style"], specorder=d["elements"])
    lmp = open_lammps()
    try:
        lmp.commands_list([f"units {d['units']}", f"atom_style {d['atom_style']}"])
        lmp.command(f"read_data {data}")
        for i, el in enumerate(d["elements"], start=1):
            lmp.command(f"mass {i} {d['masses'][el]}")
            if el in d["charges"]:
                lmp.command(f"set type {i} charge {d['charges'][el]}")
        lmp.command(f"pair_style {d['pair_style']}")
        for args in d["pair_coeff"]:
            lmp.command(f"pair_coeff {args}")
        if d["kspace_style"]:
            lmp.command(f"kspace_style {d['kspace_style']}")
        lmp.command("run 0")
        energy = float(lmp.get_thermo("pe"))
        assert int(lmp.get_natoms()) == len(s)
    finally:
        lmp.close()
    assert np.isfinite(energy) and energy < 0
    assert energy == pytest.approx(expected, rel=1e-9, abs=1e-6)


def _with_zr():
    s = build_li3n((2, 2, 2))
    s.replace(0, "Zr")
    return s


def test_element_outside_the_potential_is_rejected_naming_it(tmp_path, monkeypatch):
    from atomflow.md import runner
    from atomflow.md.minimize import relax, single_point
    from atomflow.md.protocols import MDProtocol

    pot = get_potential("li3n-esnap")
    s = _with_zr()
    fix = r"Zr, which potential 'li3n-esnap' does not cover .*choose a potential that covers Zr"
    with pytest.raises(InputError, match=fix):
        pot.check_elements(el.symbol for el in s.composition.elements)
    with pytest.raises(InputError, match=fix):
        single_point(s, pot)
    with pytest.raises(InputError, match=fix):
        relax(s, pot)

    def no_lammps(*args, **kwargs):
        raise AssertionError("LAMMPS was started for a structure the potential cannot run")

    monkeypatch.setattr(runner, "open_lammps", no_lammps)
    p = MDProtocol(ensemble="nvt", temperature_K=600, steps=10, sample_every=10, restart_every=10)
    with pytest.raises(InputError, match=fix):
        runner.run_md(s, pot, p, tmp_path / "md")


def _cli(*args: str):
    from atomflow.cli.main import app

    return CliRunner().invoke(app, ["potentials", *args])


def test_cli_list_and_show():
    res = _cli("list")
    assert res.exit_code == 0, res.output
    assert "li3n-esnap" in res.output and "300-900 K" in res.output
    res = _cli("list", "--json")
    assert res.exit_code == 0, res.output
    assert [e["name"] for e in json.loads(res.output)] == available_potentials()
    res = _cli("show", "li3n-esnap")
    assert res.exit_code == 0, res.output
    for text in ("10.1038/s41524-019-0212-1", "valid for: 300-900 K", "pair_coeff * * coul/long"):
        assert text in res.output
    res = _cli("show", "li3n-esnap", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == get_potential("li3n-esnap").to_lammps_dict()


def test_cli_show_accepts_a_path(tmp_path):
    dst = _copy(tmp_path)
    for arg in (str(dst), str(dst / "potential.toml")):
        res = _cli("show", arg, "--json")
        assert res.exit_code == 0, res.output
        assert json.loads(res.output)["files"][0] == str((dst / "Li3N.snapcoeff").resolve())


def test_cli_show_unknown_or_broken_is_one_line_exit_2(tmp_path):
    res = _cli("show", "nope")
    assert res.exit_code == 2
    assert "unknown potential 'nope'" in res.output and "Traceback" not in res.output
    dst = _copy(tmp_path, lambda t: t.replace("[validity]\n", "[validity]\ncolour = 1\n"))
    res = _cli("show", str(dst))
    assert res.exit_code == 2
    assert "unknown keys in [validity]: colour" in res.output
