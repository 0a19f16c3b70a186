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
    from rich.markup import escape  # messages name TOML tables such as [presets.quick]

    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _open_store(path: Path, must_exist: bool = True):
    from atomflow.store import Store

    if must_exist and not (path / "index.sqlite").is_file():
        _fail(f"no atomflow store at {path}; run a workflow first or pass --store DIR")
    return Store(path)


def _load_workflow(spec: str, preset: str):
    """Resolve, validate and build a study recipe; exits 2 with one line on bad input."""
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
    return path, loaded, wf


@app.command()
def run(
    spec: Annotated[str, typer.Argument(help="workflow TOML (path, or a shipped name: li3n)")],
    preset: Annotated[str, typer.Option(help="preset in the recipe")] = "quick",
    store: StoreOpt = DEFAULT_STORE,
    workers: Annotated[int, typer.Option(min=0, help="parallel worker processes (0: inline)")] = 2,
    scheduler: Annotated[
        str | None, typer.Option(help="submit to a batch system: slurm, sge, pbs, lsf")
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="site profile (shipped name or TOML path)")
    ] = None,
    wait: Annotated[bool, typer.Option(help="with --scheduler: stay until the end")] = False,
    poll: Annotated[float, typer.Option(min=0.5, help="seconds between scheduler polls")] = 10.0,
    dry_run: Annotated[
        bool, typer.Option(help="with --scheduler: print the job scripts, submit nothing")
    ] = False,
) -> None:
    """Build the study's workflow graph and run it locally or on a scheduler, resuming."""
    path, loaded, wf = _load_workflow(spec, preset)
    minutes = getattr(loaded.preset, "expected_minutes", None)
    err.print(
        f"study [bold]{loaded.header.name}[/], preset [bold]{preset}[/]: {len(wf)} tasks"
        + (f", expected ≈{minutes:g} min on 2 cores" if minutes else "")
    )
    if dry_run:
        if not (scheduler or profile):
            _fail("--dry-run needs --scheduler and/or --profile")
        _dry_run(wf, scheduler, profile)
        return
    st = _open_store(store, must_exist=False)
    if scheduler or profile:
        _run_on_scheduler(st, wf, path, preset, scheduler, profile, wait, poll)
        return

    from atomflow.cli.progress import RichReporter
    from atomflow.graph.engine import Engine
    from atomflow.graph.executors import make_executor

    executor = make_executor(workers)
    spec_record = json.dumps({"path": str(path), "preset": preset})
    try:
        summary = Engine(st, executor, RichReporter(err)).run(wf, spec=spec_record)
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
    published = _publish(st, summary.ids, loaded.header.name)
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


def _backend(scheduler: str | None, profile: str | None):
    from atomflow.hpc.backend import make_backend

    if profile is None:
        profile = f"local-{scheduler}"
    try:
        return make_backend(profile, scheduler)
    except (AtomflowError, FileNotFoundError) as exc:
        _fail(str(exc))


def _dry_run(wf, scheduler: str | None, profile: str | None) -> None:
    """Plan and render every job script in a scratch store; print them; submit nothing."""
    import tempfile

    from atomflow.hpc.workflow_jobs import reconcile
    from atomflow.store import Store

    backend = _backend(scheduler, profile)

    class Recorder:
        name = backend.scheduler.name

        def __init__(self):
            self.scripts: list[tuple[str, list[str], Path]] = []

        def submit(self, script, dependencies=()):
            job_id = f"DRYRUN{len(self.scripts) + 1}"
            self.scripts.append((job_id, list(dependencies), Path(script)))
            return job_id

        def query(self, job_ids):
            return {j: "pending" for j in job_ids}

        def cancel(self, job_ids):
            return None

    rec = Recorder()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "store") as st:
        report = reconcile(wf, st, rec, backend.write_script)
        for job_id, deps, script in rec.scripts:
            after = f" after {', '.join(deps)}" if deps else ""
            out.print(f"# ---- {job_id}{after}: {script.name}", highlight=False)
            out.print(script.read_text(), highlight=False, markup=False)
    err.print(
        f"dry run: {report.submitted_tasks} tasks in {report.submitted_jobs} job scripts "
        f"for {backend.profile.scheduler}; nothing submitted"
    )


def _run_on_scheduler(st, wf, path, preset, scheduler, profile, wait, poll) -> None:
    """Submit (no daemon); with ``wait``, reconcile until the workflow ends."""
    import time

    from atomflow.hpc.workflow_jobs import reconcile

    backend = _backend(scheduler, profile)
    record = {
        "path": str(path),
        "preset": preset,
        "scheduler": backend.profile.scheduler,
        "profile": profile or f"local-{scheduler}",
    }
    run_id = st.start_run(wf.name, wf.identities(), json.dumps(record))
    try:
        report = reconcile(wf, st, backend.scheduler, backend.write_script)
    except AtomflowError as exc:
        _fail(str(exc))
    err.print(
        f"submitted {report.submitted_tasks} tasks in {report.submitted_jobs} jobs to "
        f"{backend.profile.scheduler}; {report.states.get('done', 0)} already done"
    )
    if not wait:
        err.print(f"follow with: atomflow status --store {st.root}")
        return
    while not report.finished:
        time.sleep(poll)
        report = reconcile(wf, st, backend.scheduler, backend.write_script)
        err.print("  " + ", ".join(f"{k} {v}" for k, v in sorted(report.states.items())))
    st.finish_run(run_id, "done" if report.ok else "failed")
    published = _publish(st, wf.identities(), wf.name)
    if not report.ok:
        _report_failures(st, run_id)
        raise typer.Exit(1)
    if published:
        err.print(f"results: {published}")


def _report_failures(st, run_id: int) -> None:
    for label, rec in st.run_tasks(run_id):
        if rec.status in ("failed", "blocked"):
            err.print(
                f"[red]{rec.status}[/] {label}: {rec.error} (log: {rec.workdir})",
                highlight=False,
                soft_wrap=True,
            )


def _publish(st, ids: dict[str, str], name: str) -> Path | None:
    """Copy the report task's files to ``STORE/results/<study>/``."""
    if "report" not in ids:
        return None
    rec = st.get(ids["report"])
    if rec.status != "done":
        return None
    dest = st.results_dir(name)
    dest.mkdir(parents=True, exist_ok=True)
    src = st.task_dir(rec.id)
    for rel in rec.artifacts:
        if rel.startswith("report.") or rel.endswith(".png"):
            shutil.copy2(src / rel, dest / Path(rel).name)
    return dest


def _scheduler_record(last: dict) -> dict | None:
    try:
        record = json.loads(last.get("spec") or "{}")
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) and record.get("scheduler") else None


@app.command()
def status(
    store: StoreOpt = DEFAULT_STORE,
    sync: Annotated[bool, typer.Option(help="for scheduler runs: poll, index, resubmit")] = True,
) -> None:
    """Task states of the latest run (scheduler runs are reconciled first: one poll)."""
    from rich.table import Table

    st = _open_store(store)
    runs = st.runs()
    if not runs:
        _fail(f"store {store} has no runs yet")
    last = runs[-1]
    record = _scheduler_record(last)
    jobs: dict = {}
    if record and sync:
        from atomflow.hpc.workflow_jobs import reconcile

        _, _, wf = _load_workflow(record["path"], record["preset"])
        backend = _backend(record["scheduler"], record["profile"])
        report = reconcile(wf, st, backend.scheduler, backend.write_script)
        if report.finished:
            st.finish_run(last["id"], "done" if report.ok else "failed")
            _publish(st, wf.identities(), wf.name)
        last = st.runs()[-1]
    tasks = st.run_tasks(last["id"])
    if record:
        jobs = st.latest_jobs(rec.id for _, rec in tasks)
    table = Table(title=f"run {last['id']} of {last['workflow']}: {last['status']}")
    for col in ("task", "status", "id", "job", "duration (s)", "error"):
        table.add_column(col)
    for label, rec in tasks:
        dur = f"{rec.duration:.1f}" if rec.duration is not None else ""
        colour = {"done": "green", "failed": "red", "blocked": "yellow"}.get(rec.status, "")
        job = jobs.get(rec.id)
        table.add_row(
            label,
            f"[{colour}]{rec.status}[/]" if colour else rec.status,
            rec.id[:12],
            f"{job['job_id']} {job['state']}" if job else "",
            dur,
            (rec.error or "")[:60],
        )
    out.print(table)


@app.command()
def cancel(store: StoreOpt = DEFAULT_STORE) -> None:
    """Cancel the scheduler jobs of the latest run; finished results are kept."""
    st = _open_store(store)
    runs = st.runs()
    record = _scheduler_record(runs[-1]) if runs else None
    if not record:
        _fail("the latest run was not submitted to a scheduler; nothing to cancel")
    tasks = st.run_tasks(runs[-1]["id"])
    active = [rec.id for _, rec in tasks if rec.status in ("submitted", "running")]
    jobs = st.latest_jobs(active)
    ids = sorted({j["job_id"] for j in jobs.values()})
    if ids:
        _backend(record["scheduler"], record["profile"]).scheduler.cancel(ids)
        st.mark_many(active, "pending", "cancelled by the user")
    st.finish_run(runs[-1]["id"], "cancelled")
    err.print(f"cancelled {len(ids)} jobs ({len(active)} tasks); re-run to resume")


def _report_json(store: Path, study: str | None) -> Path:
    """The published report.json of the store's study (``--study`` when there are several)."""
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
    return reports[0]


@app.command()
def results(
    store: StoreOpt = DEFAULT_STORE,
    as_json: Annotated[bool, typer.Option("--json", help="print report.json")] = False,
    study: Annotated[str | None, typer.Option(help="study name if the store has several")] = None,
) -> None:
    """Print a study's results table (or its report.json)."""
    path = _report_json(store, study)
    if as_json:
        sys.stdout.write(path.read_text() + "\n")
    else:
        from rich.markdown import Markdown

        out.print(Markdown(path.with_name("report.md").read_text()))
        out.print(f"files: {path.parent}")


@app.command()
def report(
    store: Annotated[Path, typer.Argument(help="project store directory")] = DEFAULT_STORE,
    html: Annotated[
        bool, typer.Option("--html", help="write one self-contained HTML page")
    ] = False,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="HTML file (default: next to report.json)")
    ] = None,
    study: Annotated[str | None, typer.Option(help="study name if the store has several")] = None,
) -> None:
    """A study's report: Markdown in the terminal, or with --html one page for a browser."""
    path = _report_json(store, study)
    if not html:
        from rich.markdown import Markdown

        out.print(Markdown(path.with_name("report.md").read_text()))
        return
    from atomflow.studies.html_report import write_html

    try:
        page = write_html(path.parent, out_path)
    except AtomflowError as exc:
        _fail(str(exc))
    sys.stdout.write(f"{page}\n")


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
    from atomflow.cli.hpc_cmd import hpc_app
    from atomflow.cli.phonons_cmd import phonons_app
    from atomflow.cli.potentials_cmd import potentials_app

    app.add_typer(analyze_app, name="analyze")
    app.add_typer(build_app, name="build")
    app.add_typer(hpc_app, name="hpc")
    app.add_typer(phonons_app, name="phonons")
    app.add_typer(potentials_app, name="potentials")


_mount_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
