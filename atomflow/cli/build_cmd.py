"""``atomflow build SYSTEM [options] -o FILE [--json]``: build a checked structure and write it.

Mount either way in the main CLI::

    app.add_typer(build_app, name="build")   # build_app's callback is the command
    app.command("build")(build)              # or the plain function

Options that a system does not take are rejected with the list of those it does take.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from atomflow.errors import AtomflowError

build_app = typer.Typer(
    add_completion=False,
    help="Build a checked structure model.",
    subcommand_metavar="",  # the callback is the command: no "COMMAND [ARGS]" in the usage
    context_settings={"allow_interspersed_args": True},
)

# CLI option -> builder parameter, per system (options a system lacks are rejected)
_OPTION_PARAMS = {
    "x": "x",
    "supercell": "supercell",
    "seed": "seed",
    "n_configs": "n_configs",
    "ewald_samples": "ewald_samples",
    "li_placement": "li_placement",
    "disorder": "disorder",
    "ratio": "ratio",
    "phase": "phase",
    "dislocation": "dislocation",
    "control": "control",
    "size": "size",
    "k_layers": "k_layers",
    "gap": "gap",
    "vacuum": "vacuum",
    "elastic": "elastic",
    "n_li": "n_li",
    "li_region": "li_region",
    "termination": "termination",
    "match": "match",
    "inplane": "inplane_repeat",
    "vacancies": "li_vacancies",
    "a": "a",
    "c": "c",
}


def _triple(text: str | None, n: int, name: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    parts = text.lower().replace(",", "x").split("x")
    try:
        vals = tuple(int(p) for p in parts)
    except ValueError:
        vals = ()
    if len(vals) != n:
        raise AtomflowError(f"--{name} {text!r}: give {n} integers like {'x'.join(['2'] * n)}")
    return vals


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def run_build(system: str, output: Path, params: dict, as_json: bool) -> list[dict]:
    """Build ``system`` with ``params``, write the file(s), return the JSON summaries."""
    from atomflow.structures import build_system, parameters
    from atomflow.structures.io import format_of, write_structure

    format_of(output)  # fail on a bad extension before building
    allowed = set(parameters(system))
    for opt, name in _OPTION_PARAMS.items():
        if name in params and name not in allowed:
            takes = sorted(o for o, p in _OPTION_PARAMS.items() if p in allowed)
            raise AtomflowError(
                f"option --{opt.replace('_', '-')} does not apply to {system}; it takes: "
                + ", ".join(f"--{o.replace('_', '-')}" for o in takes)
            )
    results = build_system(system, **params)
    summaries = []
    for i, res in enumerate(results):
        path = (
            output
            if len(results) == 1
            else output.with_name(f"{output.stem}_{i:03d}{output.suffix}")
        )
        info = write_structure(
            res.structure, path, oxidation_states=res.metadata.get("oxidation_states")
        )
        summary = res.summary()
        summary["file"] = info
        summaries.append(summary)
    return summaries


@build_app.callback(invoke_without_command=True)
def build(
    system: Annotated[
        str,
        typer.Argument(
            metavar="SYSTEM", help="li2zrcl6, bisnsb, bisnsb-slab, crncn-crn, mo2n-wn or li3n"
        ),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="file: .cif, .extxyz, .vasp or .data")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="print {formula, natoms, cell, checks, metadata}")
    ] = False,
    x: Annotated[float | None, typer.Option(help="li2zrcl6: N content, 0 ... 0.25")] = None,
    supercell: Annotated[str | None, typer.Option(help="e.g. 2x2x5")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    n_configs: Annotated[int | None, typer.Option(help="li2zrcl6: configurations")] = None,
    ewald_samples: Annotated[int | None, typer.Option(help="li2zrcl6: draws to rank")] = None,
    li_placement: Annotated[str | None, typer.Option(help="li2zrcl6: ewald or random")] = None,
    disorder: Annotated[str | None, typer.Option(help="li2zrcl6: model or full")] = None,
    ratio: Annotated[str | None, typer.Option(help="bisnsb: Bi:Sn:Sb, e.g. 1:1:1")] = None,
    phase: Annotated[str | None, typer.Option(help="bisnsb: M (metastable) or S")] = None,
    dislocation: Annotated[str | None, typer.Option(help="bisnsb-slab: edge, screw, none")] = None,
    control: Annotated[bool | None, typer.Option(help="bisnsb-slab: defect-free twin")] = None,
    size: Annotated[str | None, typer.Option(help="bisnsb-slab: repeats n1xn2xn3")] = None,
    k_layers: Annotated[int | None, typer.Option(help="bisnsb-slab: K layers (0: none)")] = None,
    gap: Annotated[float | None, typer.Option(help="slab/interface gap in Å (>= 0)")] = None,
    vacuum: Annotated[float | None, typer.Option(help="vacuum in Å")] = None,
    elastic: Annotated[str | None, typer.Option(help="bisb-mean, bi, sb, isotropic")] = None,
    n_li: Annotated[int | None, typer.Option(help="interfaces: Li interstitials")] = None,
    li_region: Annotated[str | None, typer.Option(help="interface, film or substrate")] = None,
    termination: Annotated[int | None, typer.Option(help="interfaces: termination index")] = None,
    match: Annotated[int | None, typer.Option(help="interfaces: lattice-match rank")] = None,
    inplane: Annotated[str | None, typer.Option(help="in-plane repeat, e.g. 2x2")] = None,
    vacancies: Annotated[int | None, typer.Option(help="li3n: Li vacancies")] = None,
    a: Annotated[float | None, typer.Option(help="lattice parameter a (Å)")] = None,
    c: Annotated[float | None, typer.Option(help="lattice parameter c (Å)")] = None,
) -> None:
    """Build SYSTEM, run its checks, write -o FILE (format from the extension)."""
    given = {
        "x": x,
        "seed": seed,
        "n_configs": n_configs,
        "ewald_samples": ewald_samples,
        "li_placement": li_placement,
        "disorder": disorder,
        "ratio": ratio,
        "phase": phase,
        "dislocation": dislocation,
        "control": control,
        "k_layers": k_layers,
        "gap": gap,
        "vacuum": vacuum,
        "elastic": elastic,
        "n_li": n_li,
        "li_region": li_region,
        "termination": termination,
        "match": match,
        "vacancies": vacancies,
        "a": a,
        "c": c,
    }
    try:
        given["supercell"] = _triple(supercell, 3, "supercell")
        given["size"] = _triple(size, 3, "size")
        given["inplane"] = _triple(inplane, 2, "inplane")
        params = {_OPTION_PARAMS[k]: v for k, v in given.items() if v is not None}
        summaries = run_build(system, output, params, as_json)
    except AtomflowError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(summaries[0] if len(summaries) == 1 else summaries, indent=1))
    for s in summaries:
        bad = [k for k, v in s["checks"].items() if not v.get("ok", True)]
        line = f"{s['file']['path']}: {s['formula']}, {s['natoms']} atoms, checks "
        line += "passed" if not bad else "FAILED: " + ", ".join(bad)
        typer.echo(line, err=True)
    if any(not v.get("ok", True) for s in summaries for v in s["checks"].values()):
        raise typer.Exit(1)
