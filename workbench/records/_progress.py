"""Progress: every stage reports to a sink (a terminal, an app, a recorder or nothing)."""

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
