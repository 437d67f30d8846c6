"""All or nothing over a store without transactions: steps applied in order, each with
its undo; when one fails, the ones already applied are undone in reverse. A step and its
undo are argument-less callables (``functools.partial`` binds the arguments now)."""

from __future__ import annotations

from collections.abc import Callable


class StepFailed(Exception):
    """Step ``label`` raised ``exc`` (nothing after it ran)."""

    def __init__(self, label: str, exc: Exception):
        self.label = label
        self.exc = exc
        super().__init__(f"{label} failed: {type(exc).__name__}: {exc}")


class Transaction:
    """Apply steps in order; on failure undo the applied ones in reverse."""

    def __init__(self) -> None:
        self.done: list[tuple[str, Callable[[], object]]] = []

    def run(
        self, label: str, do: Callable[[], object], undo: Callable[[], object] | None = None
    ) -> None:
        """Run ``do``; remember ``undo`` (None: nothing to undo). Raises :class:`StepFailed`."""
        try:
            do()
        except Exception as exc:
            raise StepFailed(label, exc) from exc
        self.done.append((label, undo or _nothing))

    def undo(self) -> list[str]:
        """Undo every applied step, newest first; returns the undos that failed."""
        problems = []
        for label, undo in reversed(self.done):
            try:
                undo()
            except Exception as exc:
                problems.append(f"could not undo {label}: {type(exc).__name__}: {exc}")
        self.done.clear()
        return problems


def _nothing() -> None:
    return None
