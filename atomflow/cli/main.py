"""The ``atomflow`` command line. Each command parses, calls one library function, prints.

Library errors (:class:`atomflow.errors.AtomflowError`) become a one-line message and exit
code 2; a workflow with failed tasks exits 1 with a line per failure and its log.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from atomflow.errors import AtomflowError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Atomistic simulation workflows for battery materials.",
)
err = Console(stderr=True)
out = Console()

StoreOpt = Annotated[Path, typer.Option("--store", help="project store directory")]
DEFAULT_STORE = Path("atomflow-store")


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _open_store(path: Path, must_exist: bool = True):
    from atomflow.store import Store

    if must_exist and not (path / "index.sqlite").is_file():
        _fail(f"no atomflow store at {path}; run a workflow first or pass --store DIR")
    return Store(path)


@app.command()
def run(
    spec: Annotated[str, typer.Argument(help="workflow TOML (path, or a shipped name: li3n)")],
    preset: Annotated[str, typer.Option(help="preset in the recipe")] = "quick",
    store: StoreOpt = DEFAULT_STORE,
    workers: Annotated[int, typer.Option(min=0, help="parallel worker processes (0: inline)")] = 2,
) -> None:
    """Build the study's workflow graph and run it locally, resuming where it stopped."""
    from atomflow.graph.engine import Engine
    from atomflow.graph.executors import make_executor
    from atomflow.resources import workflow_file
    from atomflow.studies import systems
    from atomflow.studies.spec import load_spec

    try:
        path = workflow_file(spec)
        kinds = systems()
        loaded = load_spec(path, preset, {k: v.preset_model for k, v in kinds.items()})
        wf = kinds[loaded.header.system].build(
            loaded.preset, name=loaded.header.name, reference=loaded.reference
        )
    except (AtomflowError, FileNotFoundError) as exc:
        _fail(str(exc))
    minutes = getattr(loaded.preset, "expected_minutes", None)
    err.print(
        f"study [bold]{loaded.header.name}[/], preset [bold]{preset}[/]: {len(wf)} tasks"
        + (f", expected ≈{minutes:g} min on 2 cores" if minutes else "")
    )

    from atomflow.cli.progress import RichReporter

    st = _open_store(store, must_exist=False)
    executor = make_executor(workers)
    try:
        summary = Engine(st, executor, RichReporter(err)).run(wf, spec=str(path))
    except KeyboardInterrupt:
        summary = None
    finally:
        executor.shutdown(cancel=summary is None)
    if summary is None or summary.interrupted:
        err.print(
            "[yellow]interrupted[/]: finished tasks are saved; run the same command to "
            "resume (killed MD continues from its restart file)"
        )
        raise typer.Exit(130)
    published = _publish(st, summary, loaded.header.name)
    err.print(
        f"{len(summary.done)} ran, {len(summary.cached)} cached, {len(summary.failed)} "
        f"failed, {len(summary.blocked)} blocked in {summary.wall_s:.1f} s"
    )
    if not summary.ok:
        for label, error in summary.failed.items():
            workdir = st.task_dir(summary.ids[label])
            err.print(
                f"[red]failed[/] {label}: {error} (log: {workdir})", highlight=False, soft_wrap=True
            )
        raise typer.Exit(1)
    if published:
        err.print(f"results: {published}")


def _publish(st, summary, name: str) -> Path | None:
    """Copy the report task's files to ``STORE/results/<study>/``."""
    if "report" not in summary.ids:
        return None
    rec = st.get(summary.ids["report"])
    if rec.status != "done":
        return None
    dest = st.results_dir(name)
    dest.mkdir(parents=True, exist_ok=True)
    src = st.task_dir(rec.id)
    for rel in rec.artifacts:
        if rel.startswith("report.") or rel.endswith(".png"):
            shutil.copy2(src / rel, dest / Path(rel).name)
    return dest


@app.command()
def status(store: StoreOpt = DEFAULT_STORE) -> None:
    """Task states of the latest run in the store."""
    from rich.table import Table

    st = _open_store(store)
    runs = st.runs()
    if not runs:
        _fail(f"store {store} has no runs yet")
    last = runs[-1]
    table = Table(title=f"run {last['id']} of {last['workflow']}: {last['status']}")
    for col in ("task", "status", "id", "duration (s)", "error"):
        table.add_column(col)
    for label, rec in st.run_tasks(last["id"]):
        dur = f"{rec.duration:.1f}" if rec.duration is not None else ""
        colour = {"done": "green", "failed": "red", "blocked": "yellow"}.get(rec.status, "")
        table.add_row(
            label,
            f"[{colour}]{rec.status}[/]" if colour else rec.status,
            rec.id[:12],
            dur,
            (rec.error or "")[:60],
        )
    out.print(table)


@app.command()
def results(
    store: StoreOpt = DEFAULT_STORE,
    as_json: Annotated[bool, typer.Option("--json", help="print report.json")] = False,
    study: Annotated[str | None, typer.Option(help="study name if the store has several")] = None,
) -> None:
    """Print a study's results table (or its report.json)."""
    root = store / "results"
    reports = sorted(root.glob("*/report.json")) if root.is_dir() else []
    if study:
        reports = [p for p in reports if p.parent.name == study]
    if not reports:
        _fail(
            f"no results in {root}"
            + (f" for study {study!r}" if study else "")
            + "; run the workflow to completion first"
        )
    if len(reports) > 1 and not study:
        _fail(
            "several studies in this store: "
            + ", ".join(p.parent.name for p in reports)
            + "; choose one with --study"
        )
    if as_json:
        sys.stdout.write(reports[0].read_text() + "\n")
    else:
        from rich.markdown import Markdown

        out.print(Markdown(reports[0].with_name("report.md").read_text()))
        out.print(f"files: {reports[0].parent}")


@app.command()
def show(
    task: Annotated[str, typer.Argument(help="task label or id prefix")],
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """One task's record: identity, status, inputs, outputs, timings, host, traceback."""
    from atomflow.store.sqlite_store import dumps

    st = _open_store(store)
    try:
        rec = st.find(task)
    except KeyError as exc:
        _fail(str(exc.args[0]))
    info = {
        "id": rec.id,
        "label": rec.label,
        "task": f"{rec.name} v{rec.version}",
        "status": rec.status,
        "host": rec.host,
        "pid": rec.pid,
        "attempts": rec.attempts,
        "duration_s": rec.duration,
        "workdir": rec.workdir,
        "artifacts": rec.artifacts,
        "error": rec.error,
    }
    out.print_json(json.dumps(info, default=str))
    outputs = json.loads(dumps(rec.outputs)) if rec.outputs is not None else None
    text = json.dumps(outputs, default=str)
    out.print(f"outputs: {text[:2000]}{' …' if len(text) > 2000 else ''}", highlight=False)
    if rec.traceback:
        out.print(rec.traceback, highlight=False)


def _mount_subcommands() -> None:
    """Sub-apps of other rooms' commands (each module owns its arguments)."""
    from atomflow.cli.analyze_cmd import analyze_app
    from atomflow.cli.build_cmd import build_app
    from atomflow.cli.phonons_cmd import phonons_app

    app.add_typer(analyze_app, name="analyze")
    app.add_typer(build_app, name="build")
    app.add_typer(phonons_app, name="phonons")


_mount_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
