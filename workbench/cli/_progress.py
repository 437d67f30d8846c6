"""Progress reporting: the runner talks to a terminal or an app only through a sink."""

from __future__ import annotations

import time
from typing import Any, Protocol


class ProgressSink(Protocol):
    def start(self, phase: str, total: int) -> None: ...

    def advance(self, n: int = 1, *, error: bool = False, cached: bool = False) -> None: ...

    def finish(self) -> None: ...

    def log(self, message: str) -> None: ...


class NullProgress:
    def start(self, phase: str, total: int) -> None:
        pass

    def advance(self, n: int = 1, *, error: bool = False, cached: bool = False) -> None:
        pass

    def finish(self) -> None:
        pass

    def log(self, message: str) -> None:
        pass


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


class RecordingProgress:
    """Keeps every event (tests, and the app's progress bar polls it)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.phase: str | None = None
        self.started = time.perf_counter()

    def start(self, phase: str, total: int) -> None:
        self.phase = phase
        self.totals[phase] = total
        self.done[phase] = 0
        self.events.append(("start", (phase, total)))

    def advance(self, n: int = 1, *, error: bool = False, cached: bool = False) -> None:
        if self.phase is not None:
            self.done[self.phase] += n
        self.events.append(("advance", (n, error, cached)))

    def finish(self) -> None:
        self.events.append(("finish", self.phase))

    def log(self, message: str) -> None:
        self.events.append(("log", message))
