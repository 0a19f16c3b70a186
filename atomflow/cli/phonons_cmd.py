"""``atomflow phonons STRUCTURE --potential NAME [--qha --tmax 900] [--json] [--plot DIR]``.

Mounted by the main CLI with ``app.add_typer(phonons_app, name="phonons")``. It parses,
calls :func:`atomflow.phonons.harmonic.harmonic_phonons` (and
:func:`atomflow.phonons.qha.run_qha` with ``--qha``), and prints. Library errors become one
line on stderr and exit code 2; warnings (e.g. residual forces) go to stderr as one line each.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from atomflow.errors import AtomflowError, InputError

phonons_app = typer.Typer(
    add_completion=False,
    help="Harmonic phonons and QHA of a structure.",
    # one command, mounted as a group: let options follow the STRUCTURE argument
    context_settings={"allow_interspersed_args": True},
)
_err = Console(stderr=True)


def load_structure(spec: str):
    """A structure file (CIF, POSCAR, ...) or the name of a shipped reference (li3n_alpha)."""
    from pymatgen.core import Structure

    from atomflow.structures.reference import catalog, load_reference

    path = Path(spec)
    if path.is_file():
        try:
            return Structure.from_file(path)
        except Exception as exc:  # pymatgen raises many types for unreadable files
            raise InputError(f"cannot read structure file {path}: {exc}") from None
    if spec in catalog():
        return load_reference(spec)
    raise InputError(
        f"structure {spec!r} is neither a file nor a shipped reference "
        f"({', '.join(sorted(catalog()))}); give a CIF/POSCAR path"
    )


def _supercell(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1:
        raise InputError(f"--supercell must be three positive integers like 4,4,3, got {text!r}")
    return values


@phonons_app.callback(invoke_without_command=True)
def phonons(
    structure: Annotated[str, typer.Argument(help="structure file, or a shipped reference name")],
    potential: Annotated[str, typer.Option(help="registry potential name or potential.toml")],
    qha: Annotated[bool, typer.Option("--qha", help="also run the quasi-harmonic scan")] = False,
    tmax: Annotated[float, typer.Option(help="QHA maximum temperature (K)")] = 900.0,
    tstep: Annotated[float, typer.Option(help="QHA temperature step (K)")] = 10.0,
    relax: Annotated[bool, typer.Option("--relax", help="relax cell and positions first")] = False,
    supercell: Annotated[str | None, typer.Option(help="e.g. 4,4,3 (default: min length)")] = None,
    min_length: Annotated[float, typer.Option(help="minimum supercell width (Å)")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON")] = False,
    plot: Annotated[Path | None, typer.Option(help="write PNG plots into this folder")] = None,
) -> None:
    """Phonons of STRUCTURE with a registry potential: stability, Γ modes, optional QHA."""
    from atomflow.phonons.harmonic import PhononWarning, harmonic_phonons
    from atomflow.phonons.qha import run_qha

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cell = load_structure(structure)
            sc = _supercell(supercell)
            harmonic = harmonic_phonons(
                cell, potential, supercell=sc, min_length=min_length, relax=relax
            )
            quasi = (
                run_qha(cell, potential, t_max_K=tmax, t_step_K=tstep, supercell=sc)
                if qha
                else None
            )
    except AtomflowError as exc:
        _err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for w in caught:
        if issubclass(w.category, PhononWarning):
            _err.print(
                f"[yellow]warning:[/] {escape(str(w.message))}", highlight=False, soft_wrap=True
            )

    summary = harmonic.summary()
    out: dict[str, Any] = {
        "min_frequency_THz": summary["min_frequency_THz"],
        "imaginary_modes": summary["imaginary_modes"],
        "gamma_acoustic_THz": summary["gamma_acoustic_THz"],
        "harmonic": {k: v for k, v in summary.items() if k != "thermal"},
    }
    if quasi is not None:
        out["qha"] = quasi.summary()
    if plot is not None:
        from atomflow.phonons.plots import plot_bands_dos, plot_qha

        plot.mkdir(parents=True, exist_ok=True)
        files = [plot_bands_dos(harmonic, plot / "phonons.png")]
        if quasi is not None:
            files.append(plot_qha(quasi, plot / "qha.png"))
        out["plots"] = [str(f) for f in files]
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    _print_text(out, quasi)


def _print_text(out: dict[str, Any], quasi) -> None:
    h = out["harmonic"]
    lat = h["lattice_A"]
    typer.echo(
        f"{h['formula']} ({h['n_atoms']} atoms, a={lat['a']:.4f} b={lat['b']:.4f} "
        f"c={lat['c']:.4f} Å), {h['backend']}, supercell {h['supercell_matrix']}, "
        f"{h['n_displacements']} displacements"
    )
    state = "IMAGINARY MODES" if out["imaginary_modes"] else "no imaginary modes"
    typer.echo(f"min frequency {out['min_frequency_THz']:.4f} THz: {state}")
    typer.echo("Γ acoustic (THz): " + ", ".join(f"{f:.2e}" for f in out["gamma_acoustic_THz"]))
    if quasi is not None:
        typer.echo("   T (K)   a (Å)    c (Å)    V (Å³)   a_cl (Å)  c_cl (Å)  [cl = classical]")
        t_max = quasi.temperatures_K[-1]
        for t in sorted({0.0, 100.0, 300.0, 600.0, 900.0, float(t_max)}):
            if t > t_max:
                continue
            q, c = quasi.at(t), quasi.at(t, classical=True)
            typer.echo(
                f"{t:8.0f} {q.get('a', float('nan')):8.4f} {q.get('c', float('nan')):8.4f} "
                f"{q['V']:8.3f} {c.get('a', float('nan')):9.4f} {c.get('c', float('nan')):9.4f}"
            )
        if quasi.max_valid_T_K < t_max:
            typer.echo(f"beyond {quasi.max_valid_T_K:.0f} K the volume is extrapolated")
    for f in out.get("plots", []):
        typer.echo(f"plot: {f}")
