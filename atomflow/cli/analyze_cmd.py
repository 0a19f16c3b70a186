"""``atomflow analyze TRAJ``: diffusion (and conductivity) of any trajectory file.

Register with ``app.add_typer(analyze_app, name="analyze")``. The body parses options,
calls :func:`atomflow.analysis.analyze.analyze_trajectory`, and prints a table or JSON.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import typer

from atomflow.errors import AtomflowError, InputError

analyze_app = typer.Typer(add_completion=False)


def _pairs(items: list[str], what: str, value=str) -> dict[str, object]:
    out = {}
    for item in items:
        for part in item.split(","):
            if not part:
                continue
            key, sep, val = part.partition("=")
            if not sep:
                raise InputError(f"cannot read {what} {part!r}; write KEY=VALUE, e.g. 1=Li")
            try:
                out[key.strip()] = value(val.strip())
            except ValueError as exc:
                raise InputError(f"{what} {part!r}: {val!r} is not a number") from exc
    return out


@analyze_app.callback(
    invoke_without_command=True, context_settings={"allow_interspersed_args": True}
)
def analyze(
    traj: Annotated[
        Path, typer.Argument(help="trajectory: LAMMPS dump (.gz ok), H5MD, extxyz, XDATCAR")
    ],
    format: Annotated[
        str | None,
        typer.Option(
            "--format", help="lammps-dump, h5md, extxyz, xdatcar (default: from the name)"
        ),
    ] = None,
    timestep_ps: Annotated[
        float | None,
        typer.Option("--timestep-ps", help="MD timestep in ps; frame time = TIMESTEP × it (dumps)"),
    ] = None,
    species: Annotated[
        list[str] | None, typer.Option("--species", help="species to analyse (repeat); default all")
    ] = None,
    types: Annotated[
        list[str] | None, typer.Option("--types", help="type labels, e.g. 1=Li,2=Cl")
    ] = None,
    charge: Annotated[
        list[str] | None,
        typer.Option("--charge", help="charges in e for conductivity, e.g. Li=1,Cl=-1"),
    ] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", help="K")] = None,
    drift: Annotated[
        list[str] | None, typer.Option("--drift", help="framework species for drift correction")
    ] = None,
    direction: Annotated[
        list[str] | None, typer.Option("--direction", help="x y z xy xyz … (repeat); default xyz")
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option(
            "--region",
            help="slab:z:LO:HI | cylinder:X,Y,Z:DX,DY,DZ:R | plane:X,Y,Z:NX,NY,NZ:DMIN:DMAX (Å)",
        ),
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="write PNG plots here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Tracer D per species with calibrated errors and the detected fit window."""
    from rich.console import Console

    from atomflow.analysis.analyze import analyze_trajectory

    err = Console(stderr=True)
    try:
        dirs = tuple(direction or ["xyz"])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = analyze_trajectory(
                traj,
                species,
                format=format,
                timestep_ps=timestep_ps,
                types=_pairs(types or [], "--types"),
                charges=_pairs(charge or [], "--charge", float) or None,
                temperature_K=temperature,
                drift_species=drift or None,
                directions=dirs if "xyz" in dirs else (*dirs, "xyz"),
                regions=region or None,
                plot_dir=plot,
            )
    except (AtomflowError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    for w in caught:
        err.print(f"[yellow]warning:[/] {w.message}", highlight=False)
    if as_json:
        typer.echo(json.dumps(result, indent=1, default=float))
        return
    out = Console()
    out.print(f"{traj}: {result['n_frames']} frames, {result['duration_ps']:g} ps")
    for s, r in result["species"].items():
        flag = "" if r["converged"] else "  [red]NOT CONVERGED[/]: " + r["note"]
        out.print(
            f"  {s:>4}  D = {r['D_cm2_s']:.4g} ± {r['D_err_cm2_s']:.2g} cm²/s  "
            f"(fit {r['fit_start_ps']:.3g}–{r['fit_end_ps']:.3g} ps, "
            f"{r['n_atoms']} atoms){flag}",
            highlight=False,
        )
    c = result["conductivity"]
    if "sigma_mS_cm" in c:
        out.print(
            f"  σ (Einstein–Helfand) = {c['sigma_mS_cm']:.4g} ± "
            f"{c['sigma_err_mS_cm']:.2g} mS/cm;  σ_NE = {c['sigma_NE_mS_cm']:.4g} ± "
            f"{c['sigma_NE_err_mS_cm']:.2g} mS/cm;  Haven ratio = "
            f"{result['haven_ratio']['H_R']:.3g} ± "
            f"{result['haven_ratio']['H_R_err']:.2g}",
            highlight=False,
        )
    for key, per in result["regions"].items():
        for s, r in per.items():
            if "D_cm2_s" in r:
                out.print(
                    f"  region {key} {s}: D = {r['D_cm2_s']:.4g} ± {r['D_err_cm2_s']:.2g} cm²/s",
                    highlight=False,
                )
