"""The potential registry: shipped entries, validation, clear errors."""

import shutil

import pytest

from atomflow.errors import InputError
from atomflow.potentials import available_potentials, get_potential


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
