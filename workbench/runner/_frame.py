"""What a run returns: per-sample and per-variant DataFrames, and its MLflow run ids."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from workbench.runner._execute import SampleRecord
from workbench.runner._grid import Plan
from workbench.scoring import MetricInfo

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
    gate: Any = None
    """The release-gate decision for the best variant, when the spec has gates."""

    @property
    def error_rate(self) -> float:
        if len(self.samples) == 0:
            return 0.0
        return float(self.samples["error"].notna().mean())

    def leaderboard(self, sort_by: str | None = None) -> pd.DataFrame:
        from workbench.analysis import leaderboard

        return leaderboard(self.samples, self.metrics, sort_by=sort_by or "pass_rate")

    def __repr__(self) -> str:
        return (
            f"RunResult(experiment={self.experiment!r}, status={self.status}, "
            f"variants={len(self.variants)}, samples={len(self.samples)}, run_id={self.run_id!r})"
        )


def samples_frame(plan: Plan, records: Sequence[SampleRecord]) -> pd.DataFrame:
    import pandas as pd

    variants = {v.variant_id: v for v in plan.variants}
    samples = {s.id: s for s in plan.golden.samples}
    rows: list[dict[str, Any]] = []
    for record in records:
        variant = variants[record.variant_id]
        sample = samples[record.sample_id]
        gen = record.generation
        passages = record.retrieval.passages
        rows.append(
            {
                "variant_id": variant.variant_id,
                "variant": variant.label,
                **variant.factors(),
                "sample_id": sample.id,
                "question": sample.question,
                "reference": sample.reference,
                "reference_context_ids": list(sample.reference_context_ids),
                "category": sample.category,
                "severity": sample.severity,
                "answer": gen.text,
                "error": gen.error,
                "latency_s": gen.latency_s,
                "prompt_tokens": gen.usage.prompt_tokens,
                "completion_tokens": gen.usage.completion_tokens,
                "cost_usd": math.nan if gen.cost_usd is None else gen.cost_usd,
                "attempts": gen.attempts,
                "cached": record.cached,
                "retrieval_latency_s": record.retrieval.latency_s,
                "retrieved_ids": [p.chunk_id for p in passages],
                "retrieved_doc_ids": [p.doc_id for p in passages],
                "contexts": [p.text for p in passages],
            }
        )
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["error"] = frame["error"].astype(object).where(frame["error"].notna(), None)
    return frame
