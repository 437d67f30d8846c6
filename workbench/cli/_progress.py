"""A rich progress bar: the terminal's progress sink."""

from __future__ import annotations

from typing import Any


class RichProgress:
    """A rich progress bar per phase: done/total, errors, cache hits, elapsed and ETA."""

    def __init__(self, console: Any = None):
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._progress: Any = None
        self._task: Any = None
        self.errors = 0
        self.cached = 0

    def start(self, phase: str, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.finish()
        self.errors = self.cached = 0
        self._progress = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("errors {task.fields[errors]}  cached {task.fields[cached]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(phase, total=total, errors=0, cached=0)

    def advance(self, n: int = 1, *, error: bool = False, cached: bool = False) -> None:
        if self._progress is None:
            return
        self.errors += int(error) * n
        self.cached += int(cached) * n
        self._progress.update(self._task, advance=n, errors=self.errors, cached=self.cached)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def log(self, message: str) -> None:
        self.console.print(message)
