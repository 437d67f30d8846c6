"""Scorers: ragas metrics, retrieval rank metrics, safety checks; per-sample pass/fail."""

# The score contract lives with the shared records; re-exported for scorer plugins.
from workbench.records import NA, MetricInfo, MetricKind, Score, ScoreSource
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
    check_scoring,
    score_items,
    score_run,
    warm_up,
)

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
    "check_scoring",
    "registry",
    "score_items",
    "score_run",
    "scorer",
    "select",
    "warm_up",
]
