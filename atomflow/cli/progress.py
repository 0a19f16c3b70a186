"""A rich progress display for the engine's reporter events."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


class RichReporter:
    """Overall bar plus one bar per running task, fed from the tasks' progress files."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._bars: dict[str, Any] = {}
        self._overall = None
        self._finished = 0

    def start(self, workflow: str, total: int, cached: int) -> None:
        self.console.print(f"[bold]{workflow}[/]: {total} tasks, {cached} already done (cached)")
        self._finished = cached
        self.progress.start()
        self._overall = self.progress.add_task("all tasks", total=total, completed=cached, note="")

    def task_started(self, label: str) -> None:
        self._bars[label] = self.progress.add_task(f"  {label}", total=1.0, note="started")

    def task_finished(self, label: str, status: str, error: str | None) -> None:
        bar = self._bars.pop(label, None)
        if bar is not None:
            self.progress.remove_task(bar)
        self._finished += 1
        self.progress.update(self._overall, completed=self._finished)
        if status == "done":
            self.progress.console.print(f"[green]done[/]    {label}")
        else:
            self.progress.console.print(f"[red]failed[/]  {label}: {error}", soft_wrap=True)

    def running(self, progress: dict[str, dict[str, Any] | None]) -> None:
        for label, info in progress.items():
            if info and label in self._bars:
                self.progress.update(
                    self._bars[label],
                    completed=info.get("fraction", 0.0),
                    note=info.get("message", ""),
                )

    def stop(self) -> None:
        self.progress.stop()
