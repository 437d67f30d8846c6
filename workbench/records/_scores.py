"""The score contract: one value per (metric, sample), NaN when it could not score."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

NA = "n/a: "
"""Reason prefix of a score that does not apply to the sample (not a failure to score)."""

ScoreSource = Literal["CODE", "LLM_JUDGE", "HUMAN"]
MetricKind = Literal["continuous", "binary"]


@dataclass(frozen=True)
class MetricInfo:
    """What a metric means, so analysis, gates and promotion read it the right way."""

    name: str
    higher_is_better: bool = True
    kind: MetricKind = "continuous"
    """``binary`` values are 0/1 (paired test: exact McNemar); ``continuous`` use Wilcoxon."""
    source: ScoreSource = "CODE"
    description: str = ""


@dataclass(frozen=True)
class Score:
    """One metric's verdict on one answer."""

    name: str
    value: float
    """NaN when the metric could not score this sample; ``reason`` then says why."""
    reason: str | None = None
    source: ScoreSource = "CODE"

    @classmethod
    def unscored(cls, name: str, reason: str, source: ScoreSource = "CODE") -> Score:
        return cls(name=name, value=math.nan, reason=reason, source=source)

    @classmethod
    def not_applicable(cls, name: str, why: str, source: ScoreSource = "CODE") -> Score:
        return cls(name=name, value=math.nan, reason=NA + why, source=source)

    @property
    def scored(self) -> bool:
        return not math.isnan(self.value)

    @property
    def applicable(self) -> bool:
        return not (self.reason or "").startswith(NA)
