"""``atomflow build`` mounted as a sub-app or as a command; bad input says what is allowed."""

import json

import pytest
import typer
from typer.testing import CliRunner

from atomflow.cli.build_cmd import build, build_app


def _as_subapp():
    app = typer.Typer()
    app.add_typer(build_app, name="build")

    @app.command()
    def other() -> None:  # a second command so that "build" is a real subcommand
        pass

    return app


def _as_command():
    app = typer.Typer()
    app.command("build")(build)

    @app.command()
    def other() -> None:
        pass

    return app


@pytest.mark.parametrize("make", [_as_subapp, _as_command])
def test_build_json_and_file(tmp_path, make):
    out = tmp_path / "li3n.data"
    res = CliRunner().invoke(
        make(), ["build", "li3n", "--supercell", "2x2x2", "-o", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert set(doc) >= {"formula", "natoms", "cell", "checks", "metadata"}
    assert doc["natoms"] == 32 and doc["formula"] == "Li24N8"
    assert out.read_text().startswith("atomflow: type map Li=1 N=2")


def test_li2zrcl6_ensemble_writes_numbered_files(tmp_path):
    out = tmp_path / "lzc.cif"
    res = CliRunner().invoke(
        _as_subapp(),
        [
            "build",
            "li2zrcl6",
            "--x",
            "0.25",
            "--n-configs",
            "2",
            "--ewald-samples",
            "4",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lzc_000.cif", "lzc_001.cif"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["li2zrcl6", "--x", "0.3"], "0 <= x <= 0.25"),
        (["nacl"], "unknown system 'nacl'; choose one of li2zrcl6"),
        (["bisnsb", "--ratio", "0.5:0.3:0.3"], "must sum to 1"),
        (["bisnsb-slab", "--gap", "-1"], "gap=-1.0 Å must be >= 0"),
        (["bisnsb", "--x", "0.1"], "--x does not apply to bisnsb"),
        (["li3n", "--supercell", "2x2"], "give 3 integers"),
    ],
)
def test_bad_parameters_are_rejected_with_what_is_allowed(tmp_path, args, message):
    res = CliRunner().invoke(_as_subapp(), ["build", *args, "-o", str(tmp_path / "x.cif")])
    assert res.exit_code == 2
    assert message in res.stderr
