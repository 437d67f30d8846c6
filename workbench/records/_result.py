"""What a run returns: per-sample and per-variant DataFrames, and its MLflow run ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from workbench.records._gates import GateDecision
from workbench.records._scores import MetricInfo

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class RunResult:
    """The outcome of ``wb.run``: tables to read, ids to find it again in MLflow."""

    experiment: str
    run_key: str
    samples: pd.DataFrame
    """One row per (variant, sample): answer, contexts, error, latency, tokens, cost, scores."""
    variants: pd.DataFrame
    """One row per variant: the leaderboard (means with CIs, pass rate, cost, latency)."""
    metrics: list[MetricInfo]
    status: Literal["FINISHED", "FAILED"] = "FINISHED"
    failure: str | None = None
    run_id: str | None = None
    """The MLflow parent run (None when tracking was off)."""
    variant_run_ids: dict[str, str] = field(default_factory=dict)
    """variant_id -> MLflow child run id."""
    tracking_uri: str | None = None
    experiment_id: str | None = None
    model_calls: int = 0
    """Calls that reached a model (cache misses)."""
    cached_calls: int = 0
    wall_s: float = 0.0
    gate: GateDecision | None = None
    """The release-gate decision for the best variant, when the spec has gates."""

    @property
    def error_rate(self) -> float:
        if len(self.samples) == 0:
            return 0.0
        return float(self.samples["error"].notna().mean())

    def __repr__(self) -> str:
        return (
            f"RunResult(experiment={self.experiment!r}, status={self.status}, "
            f"variants={len(self.variants)}, samples={len(self.samples)}, run_id={self.run_id!r})"
        )
