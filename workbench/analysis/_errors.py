"""Errors specific to analysis; both sit under :class:`workbench.errors.WorkbenchError`."""

from __future__ import annotations

from workbench.errors import WorkbenchError

__all__ = ["AnalysisError", "InsufficientDataError"]


class AnalysisError(WorkbenchError):
    """The data or the arguments cannot support the requested analysis."""


class InsufficientDataError(AnalysisError):
    """Too few (paired) samples for the statistic asked for."""
