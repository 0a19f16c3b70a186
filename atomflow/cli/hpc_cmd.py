"""``atomflow hpc``: dry-run job scripts and list site profiles.

``atomflow hpc render job.toml --profile local-slurm`` prints the exact script that would be
submitted; ``atomflow hpc render --profile P -- lmp -in in.lj`` does the same for a plain
command. ``atomflow hpc profiles`` lists the shipped profiles.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from atomflow.errors import AtomflowError, InputError

hpc_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Batch-scheduler job scripts and profiles."
)
_err = Console(stderr=True)


def load_job(path: Path, overrides: dict[str, Any]) -> Any:
    """A :class:`JobRequest` from a JSON or TOML job description (plus CLI overrides)."""
    from atomflow.hpc.render import JobRequest

    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise InputError(f"job description {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"job description {path}: expected a table/object at the top")
    data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
    known = {f.name for f in fields(JobRequest)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(
            f"job description {path}: unknown key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(known))}"
        )
    return _request(data)


def _request(data: dict[str, Any]) -> Any:
    import shlex

    from atomflow.hpc.render import JobRequest

    if isinstance(data.get("command"), str):
        data["command"] = shlex.split(data["command"])
    for key in ("workdir", "task_list"):
        if data.get(key) is not None:
            data[key] = Path(data[key])
    data.setdefault("workdir", Path.cwd())
    data.setdefault("name", "job")
    if "dependencies" in data:
        data["dependencies"] = [str(d) for d in data["dependencies"]]
    return JobRequest(**data)


@hpc_app.command("render")
def render_cmd(
    spec: Annotated[
        list[str],
        typer.Argument(help="job description (.json/.toml), or a command after --"),
    ],
    profile: Annotated[str, typer.Option("--profile", "-p", help="profile name or TOML path")],
    name: Annotated[str | None, typer.Option(help="job name")] = None,
    workdir: Annotated[Path | None, typer.Option(help="working directory")] = None,
    walltime: Annotated[str | None, typer.Option(help="HH:MM:SS or seconds")] = None,
    ntasks: Annotated[int | None, typer.Option(min=1, help="MPI tasks")] = None,
    array_size: Annotated[int | None, typer.Option(min=1, help="array elements")] = None,
    mpi: Annotated[bool, typer.Option(help="prefix the profile's MPI launcher")] = False,
    output: Annotated[Path | None, typer.Option("--out", help="write here, not stdout")] = None,
) -> None:
    """Print (or write) the exact job script for a job on a site profile: a dry run."""
    from atomflow.hpc.profiles import load_profile
    from atomflow.hpc.render import render, write_script

    overrides: dict[str, Any] = {
        "name": name,
        "workdir": str(workdir) if workdir else None,
        "walltime": int(walltime) if walltime and walltime.isdigit() else walltime,
        "ntasks": ntasks,
        "array_size": array_size,
        "mpi": mpi or None,
    }
    try:
        prof = load_profile(profile)
        first = Path(spec[0])
        if len(spec) == 1 and first.suffix in (".json", ".toml") and first.is_file():
            job = load_job(first, overrides)
        else:
            job = _request({"command": list(spec), **{k: v for k, v in overrides.items() if v}})
        if output is not None:
            write_script(job, prof, output)
            _err.print(f"wrote {output} ({prof.scheduler}, profile {prof.name})")
        else:
            typer.echo(render(job, prof), nl=False)
    except (AtomflowError, TypeError) as exc:
        _err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


@hpc_app.command("profiles")
def profiles_cmd() -> None:
    """List the shipped site profiles (copy one from hpc/profiles/ to make your own)."""
    from atomflow.hpc.profiles import list_profiles, load_profile, profile_dir

    for pname in list_profiles():
        p = load_profile(pname)
        typer.echo(f"{pname:20s} {p.scheduler:6s} {p.queue or '-':8s} {p.description}")
    _err.print(f"from {profile_dir()}", highlight=False)
