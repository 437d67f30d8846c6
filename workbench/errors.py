"""One error hierarchy for everything the workbench refuses or cannot do.

Every message names *where* (file, field path, row) and, when there is one, *the fix*.
The CLI prints ``error: <message>`` and exits 2 for these; anything else is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "ConfigError",
    "DatasetError",
    "GateFailed",
    "ModelCallError",
    "NotFoundError",
    "PermissionDenied",
    "PromotionError",
    "RetrieverError",
    "TrackingError",
    "WorkbenchError",
    "did_you_mean",
]


class WorkbenchError(Exception):
    """Base of all errors the workbench raises on purpose."""

    def __init__(self, message: str, *, where: str | Path | None = None, hint: str | None = None):
        self.message = message
        self.where = str(where) if where is not None else None
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class ConfigError(WorkbenchError):
    """An experiment spec, policy or roles file is invalid."""


class DatasetError(WorkbenchError):
    """A golden dataset or corpus cannot be loaded or has a bad row."""


class ModelCallError(WorkbenchError):
    """A model or endpoint cannot be used at all (not a per-sample failure: those are data)."""


class RetrieverError(WorkbenchError):
    """A retriever cannot be built (missing embedding model, empty corpus, ...)."""


class TrackingError(WorkbenchError):
    """The MLflow store is unreachable or refused a write."""


class NotFoundError(WorkbenchError):
    """An experiment, run, variant or model version does not exist."""


class GateFailed(WorkbenchError):
    """A release gate refused a variant (the CLI maps it to exit code 1)."""


class PermissionDenied(WorkbenchError):
    """The acting user's role does not allow the action."""


class PromotionError(WorkbenchError):
    """A promotion step failed; nothing was changed."""


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """``"did you mean 'openai'?"`` for the closest choice, or None."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None
