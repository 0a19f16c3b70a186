"""``atomflow potentials list [--json]`` and ``atomflow potentials show NAME [--json]``.

Mounted by the main CLI with ``app.add_typer(potentials_app, name="potentials")``. ``list``
prints the shipped registry (a table, or a JSON list); ``show`` prints one entry, shipped or a
user's ``potential.toml``/folder. ``show --json`` is :meth:`Potential.to_lammps_dict`: all that
plain LAMMPS needs to run the potential without atomflow. Library errors become one line on
stderr and exit code 2.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from atomflow.errors import AtomflowError

potentials_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="The interatomic potential registry.",
)
_err = Console(stderr=True)


def _fail(exc: Exception) -> None:
    from rich.markup import escape  # messages contain [validity] etc.: not markup

    _err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _temperatures(validity: dict[str, Any]) -> str:
    temps = validity.get("temperatures_K")
    return f"{temps[0]:g}-{temps[1]:g} K" if temps else "not stated"


@potentials_app.command("list")
def list_potentials(
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON list of entries")] = False,
) -> None:
    """The potentials shipped with atomflow: elements, pair style, charges, validity."""
    from atomflow.potentials import available_potentials, get_potential

    try:
        entries = [get_potential(name).to_lammps_dict() for name in available_potentials()]
    except AtomflowError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        return
    from rich.table import Table

    table = Table(title="shipped potentials (details: atomflow potentials show NAME)")
    table.add_column("name", no_wrap=True)
    table.add_column("elements")
    table.add_column("pair style")
    table.add_column("charges (kspace)")
    table.add_column("valid T", no_wrap=True)
    for d in entries:
        charges = ", ".join(f"{el} {q:+g}" for el, q in d["charges"].items())
        if d["kspace_style"]:
            charges += f" ({d['kspace_style']})"
        table.add_row(
            d["name"],
            " ".join(d["elements"]),
            d["pair_style"],
            charges or "none",
            _temperatures(d["validity"]),
        )
    Console().print(table)


@potentials_app.command("show")
def show_potential(
    name: Annotated[str, typer.Argument(help="registry name, or a potential.toml / its folder")],
    as_json: Annotated[
        bool, typer.Option("--json", help="print what plain LAMMPS needs, as JSON")
    ] = False,
) -> None:
    """One potential: files, LAMMPS commands, charges, citation, provenance, validity."""
    from atomflow.potentials import get_potential

    try:
        data = get_potential(name).to_lammps_dict()
    except AtomflowError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    _print_text(data)


def lammps_snippet(data: dict[str, Any]) -> list[str]:
    """LAMMPS input lines for a :meth:`Potential.to_lammps_dict` entry (box and atoms omitted)."""
    lines = [f"units {data['units']}", f"atom_style {data['atom_style']}"]
    lines.append("# ... create or read the box and atoms here; LAMMPS type i = elements[i-1]")
    for i, el in enumerate(data["elements"], start=1):
        lines.append(f"mass {i} {data['masses'][el]}  # {el}")
    for i, el in enumerate(data["elements"], start=1):
        if el in data["charges"]:
            lines.append(f"set type {i} charge {data['charges'][el]}  # {el}")
    lines.append(f"pair_style {data['pair_style']}")
    lines += [f"pair_coeff {args}" for args in data["pair_coeff"]]
    if data["kspace_style"]:
        lines.append(f"kspace_style {data['kspace_style']}")
    lines.append(f"timestep {data['timestep_fs'] / 1000:g}  # ps ({data['timestep_fs']:g} fs)")
    return lines


def _print_text(d: dict[str, Any]) -> None:
    echo = typer.echo
    echo(f"{d['name']}: {d['description']}" if d["description"] else d["name"])
    echo(f"elements: {' '.join(d['elements'])} (LAMMPS types 1..{len(d['elements'])})")
    charges = ", ".join(f"{el} {q:+g} e" for el, q in d["charges"].items())
    echo(f"charges: {charges or 'none'}; kspace: {d['kspace_style'] or 'none'}")
    echo(f"timestep: {d['timestep_fs']:g} fs")
    echo("files:")
    for f in d["files"]:
        echo(f"  {f}")
    if d["report"]:
        echo(f"report: {d['report']}")
    v = d["validity"]
    echo(f"valid for: {_temperatures(v)}")
    for s in v.get("structures", []):
        echo(f"  trained on: {s}")
    if v.get("notes"):
        echo(f"  notes: {v['notes']}")
    echo(f"citation: {d['citation']}")
    if d["provenance"]:
        echo("provenance:")
        for k, val in d["provenance"].items():
            echo(f"  {k}: {val}")
    echo("LAMMPS commands:")
    for line in lammps_snippet(d):
        echo(f"  {line}")


def _recipe(spec: str):
    from pathlib import Path

    from atomflow.resources import data_dir

    candidate = Path(spec)
    if candidate.is_file():
        return candidate
    shipped = data_dir("workflows") / "potentials" / f"{spec.removesuffix('.toml')}.toml"
    if shipped.is_file():
        return shipped
    known = sorted(p.stem for p in (data_dir("workflows") / "potentials").glob("*.toml"))
    raise AtomflowError(
        f"no fit recipe {spec!r}: not a path, and not shipped (shipped: {', '.join(known)})"
    )


@potentials_app.command("fit")
def fit(
    spec: Annotated[str, typer.Argument(help="fit recipe TOML (path, or a shipped name)")],
    preset: Annotated[str, typer.Option(help="preset in the recipe")] = "quick",
    store: Annotated[str, typer.Option(help="store folder (caches and resumes)")] = "",
    workers: Annotated[int, typer.Option(min=0, help="parallel worker processes")] = 1,
    out: Annotated[str, typer.Option(help="where to put the fitted potential folder")] = "",
) -> None:
    """Distil the recipe's labeller into a POD potential: label, fit, active learning,
    stability gate, report. The result loads with ``--potential OUT/NAME``."""
    import shutil
    from pathlib import Path

    from atomflow.cli.progress import RichReporter
    from atomflow.distill.workflow import build_workflow, load_recipe
    from atomflow.graph.engine import Engine
    from atomflow.graph.executors import make_executor
    from atomflow.store import Store

    try:
        path = _recipe(spec)
        header, settings = load_recipe(path, preset)
        wf = build_workflow(header, settings)
    except AtomflowError as exc:
        _fail(exc)
    _err.print(
        f"fit [bold]{header.name}[/] with {header.labeller}, preset {preset}: {len(wf)} tasks, "
        f"expected ≈{settings.expected_minutes:g} min on 2 cores"
    )
    st = Store(Path(store or f"fit-{header.name}"))
    executor = make_executor(workers)
    try:
        summary = Engine(st, executor, RichReporter(_err)).run(
            wf, spec=json.dumps({"path": str(path), "preset": preset})
        )
    finally:
        executor.shutdown()
    if not summary.ok:
        for label, error in summary.failed.items():
            _err.print(f"[red]failed[/] {label}: {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    package = st.output(summary.ids["package"])
    dest = Path(out or "potentials") / header.name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(package["folder"], dest)
    report = json.loads((dest / "report.json").read_text())
    gates = ", ".join(
        f"{g['parent']} {g['temperature_K']:g} K {g['ps']:g} ps: {'ok' if g['ok'] else 'FAILED'}"
        for g in report["stable_nvt"]
    )
    npt = ", ".join(
        f"{g['parent']} {g['deviation_pct']:+.1f} % ({'ok' if g['ok'] else 'FAILED'})"
        for g in report.get("stable_npt", [])
    )
    held = report.get("heldout_outside_core") or report
    where = " outside the core" if report.get("heldout_outside_core") else ""
    typer.echo(
        f"{header.name}: force RMSE {held['force_rmse_eV_A']:.3f} eV/Å, energy RMSE "
        f"{held['energy_rmse_meV_atom']:.2f} meV/atom (held out{where}, n={held['n_test']}); "
        f"stability: {gates}; "
        + (f"NPT volume vs labeller: {npt}; " if npt else "")
        + f"speed-up {report['speedup_vs_labeller']:.0f}x\n"
        f"potential: {dest} (report.md inside)"
    )
