"""Blind pairwise ratings by people: items, who rates what next, left/right order, summary.

Pure logic over DataFrames (no MLflow here): ratings are stored and read back by
:mod:`workbench.tracking.feedback`, and every statistic comes from :mod:`workbench.analysis`.
"""

from __future__ import annotations

from workbench.ratings._items import (
    Presentation,
    coverage,
    eligible_samples,
    presentation,
    queue_for,
    round_items,
)
from workbench.ratings._summary import (
    HUMAN_THRESHOLDS,
    RATING_COLUMNS,
    RatingsSummary,
    agreement_table,
    human_scores,
    pairwise_frame,
    summarize,
)
from workbench.ratings._types import (
    CHOICES,
    CRITERIA,
    DEFAULT_MIN_RATERS,
    OUTCOMES,
    RUBRIC,
    Answer,
    Choice,
    Outcome,
    Rating,
    RatingError,
    RatingItem,
    RatingRound,
    new_rating_id,
)

__all__ = [
    "CHOICES",
    "CRITERIA",
    "DEFAULT_MIN_RATERS",
    "HUMAN_THRESHOLDS",
    "OUTCOMES",
    "RATING_COLUMNS",
    "RUBRIC",
    "Answer",
    "Choice",
    "Outcome",
    "Presentation",
    "Rating",
    "RatingError",
    "RatingItem",
    "RatingRound",
    "RatingsSummary",
    "agreement_table",
    "coverage",
    "eligible_samples",
    "human_scores",
    "new_rating_id",
    "pairwise_frame",
    "presentation",
    "queue_for",
    "round_items",
    "summarize",
]
