"""Scorers: ragas metrics, retrieval rank metrics, safety checks; per-sample pass/fail."""

from workbench.scoring._registry import (
    ScoreItem,
    Scorer,
    ScorerDef,
    ScoringContext,
    registry,
    scorer,
    select,
)
from workbench.scoring._run import (
    Scored,
    build_items,
    holds,
    parse_rule,
    score_items,
    score_run,
    warm_up,
)
from workbench.scoring._types import NA, MetricInfo, MetricKind, Score, ScoreSource

__all__ = [
    "NA",
    "MetricInfo",
    "MetricKind",
    "Score",
    "ScoreItem",
    "ScoreSource",
    "Scored",
    "Scorer",
    "ScorerDef",
    "ScoringContext",
    "build_items",
    "holds",
    "parse_rule",
    "registry",
    "score_items",
    "score_run",
    "scorer",
    "select",
    "warm_up",
]
