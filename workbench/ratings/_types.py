"""Blind pairwise ratings as plain data: answers, items, rounds, one rater's rating."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from workbench.errors import WorkbenchError, did_you_mean

__all__ = [
    "CHOICES",
    "CRITERIA",
    "OUTCOMES",
    "RUBRIC",
    "Answer",
    "Choice",
    "Outcome",
    "Rating",
    "RatingError",
    "RatingItem",
    "RatingRound",
]

Choice = Literal["left", "right", "tie", "both_bad"]
Outcome = Literal["win", "loss", "tie", "both_bad"]
CHOICES: tuple[str, ...] = ("left", "right", "tie", "both_bad")
OUTCOMES: tuple[str, ...] = ("win", "loss", "tie", "both_bad")
RUBRIC: tuple[str, ...] = ("correctness", "helpfulness")
CRITERIA: tuple[str, ...] = ("preference", *RUBRIC)
DEFAULT_MIN_RATERS = 3


class RatingError(WorkbenchError):
    """A rating, item or rating round is malformed (bad choice, score out of range, ...)."""


def _digest(*parts: str, n: int = 16) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:n]


@dataclass(frozen=True)
class Answer:
    """One rated answer: a variant's answer to a sample, identified by its MLflow trace."""

    variant_id: str
    trace_id: str


@dataclass(frozen=True)
class RatingItem:
    """A sample answered by two variants (``a`` and ``b`` in variant-id order).

    The id depends on the run, the sample and the pair only, so the same pair of answers
    is the same item in every round of that run: a rater never sees it twice.
    """

    item_id: str
    experiment_id: str
    run_id: str
    sample_id: str
    a: Answer
    b: Answer

    @classmethod
    def make(
        cls, experiment_id: str, run_id: str, sample_id: str, one: Answer, other: Answer
    ) -> RatingItem:
        if one.variant_id == other.variant_id:
            raise RatingError(f"an item needs two different variants, got '{one.variant_id}' twice")
        a, b = sorted((one, other), key=lambda x: x.variant_id)
        item_id = _digest(run_id, sample_id, a.variant_id, b.variant_id)
        return cls(item_id, str(experiment_id), run_id, str(sample_id), a, b)

    def answer(self, variant_id: str) -> Answer:
        for ans in (self.a, self.b):
            if ans.variant_id == variant_id:
                return ans
        raise RatingError(f"variant '{variant_id}' is not part of item {self.item_id}")


@dataclass(frozen=True)
class RatingRound:
    """Who rates what: an experiment run, 2+ of its variants, the samples, N raters per item."""

    round_id: str
    experiment: str
    experiment_id: str
    run_id: str
    variants: tuple[str, ...]
    sample_ids: tuple[str, ...]
    min_raters: int = DEFAULT_MIN_RATERS
    created_by: str = ""
    created_at: float = field(default_factory=time.time)
    title: str = ""

    def __post_init__(self) -> None:
        if len(set(self.variants)) < 2:
            raise RatingError("a rating round needs at least 2 different variants")
        if not self.sample_ids:
            raise RatingError("a rating round needs at least one sample")
        if not 1 <= int(self.min_raters) <= 100:
            raise RatingError(f"min_raters must be between 1 and 100, got {self.min_raters}")

    @classmethod
    def create(
        cls,
        *,
        experiment: str,
        experiment_id: str,
        run_id: str,
        variants: list[str] | tuple[str, ...],
        sample_ids: list[str] | tuple[str, ...],
        min_raters: int = DEFAULT_MIN_RATERS,
        created_by: str = "",
        title: str = "",
    ) -> RatingRound:
        """A round whose id is derived from (run, variants, samples): creating it twice is a no-op."""
        variants = tuple(sorted(dict.fromkeys(str(v) for v in variants)))
        samples = tuple(dict.fromkeys(str(s) for s in sample_ids))
        round_id = "r" + _digest(run_id, ",".join(variants), ",".join(sorted(samples)), n=11)
        return cls(
            round_id=round_id,
            experiment=experiment,
            experiment_id=str(experiment_id),
            run_id=run_id,
            variants=variants,
            sample_ids=samples,
            min_raters=int(min_raters),
            created_by=created_by,
            title=title,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["variants"] = list(self.variants)
        data["sample_ids"] = list(self.sample_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RatingRound:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise RatingError(f"rating round: unknown field(s) {', '.join(sorted(unknown))}")
        values = dict(data)
        values["variants"] = tuple(values.get("variants") or ())
        values["sample_ids"] = tuple(values.get("sample_ids") or ())
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def _score(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise RatingError(f"{name} must be a whole number from 1 to 5, got {value!r}")
    if not 1 <= int(value) <= 5:
        raise RatingError(f"{name} must be from 1 to 5, got {value}")
    return int(value)


def new_rating_id() -> str:
    """A fresh id for one submission (a retried submission reuses it and is stored once)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Rating:
    """One rater's judgement of one item, as shown to them (``left`` / ``right``).

    ``choice`` is the side they preferred (or ``tie`` / ``both_bad``); rubric scores are
    1-5 per answer. ``rating_id`` identifies the submission: storing the same rating
    twice (a retry) keeps one copy; a new rating of the same item by the same rater
    overrides the old one, which stays in the history.
    """

    item: RatingItem
    rater: str
    left: Answer
    right: Answer
    choice: Choice
    correctness: tuple[int, int]  # (left, right)
    helpfulness: tuple[int, int]  # (left, right)
    comment: str = ""
    round_id: str = ""
    rating_id: str = field(default_factory=new_rating_id)

    def __post_init__(self) -> None:
        if not str(self.rater).strip():
            raise RatingError("a rating needs the rater's name")
        if self.choice not in CHOICES:
            raise RatingError(
                f"choice must be one of {', '.join(CHOICES)}, got {self.choice!r}",
                hint=did_you_mean(str(self.choice), CHOICES),
            )
        if {self.left, self.right} != {self.item.a, self.item.b}:
            raise RatingError(
                f"left/right answers are not the two answers of item {self.item.item_id}"
            )
        for name in RUBRIC:
            pair = getattr(self, name)
            if len(pair) != 2:
                raise RatingError(f"{name} needs two scores (left, right), got {pair!r}")
            object.__setattr__(
                self, name, (_score(f"{name} (left)", pair[0]), _score(f"{name} (right)", pair[1]))
            )
        if not self.rating_id or len(self.rating_id) > 64:
            raise RatingError("rating_id must be a non-empty string of at most 64 characters")
        if len(self.comment) > 5000:
            raise RatingError("the comment is longer than 5000 characters")

    def outcome(self, side: Literal["left", "right"]) -> Outcome:
        """The result from the point of view of the answer shown on ``side``."""
        if self.choice in ("tie", "both_bad"):
            return self.choice
        return "win" if self.choice == side else "loss"

    def sides(self) -> list[tuple[Literal["left", "right"], Answer, Answer]]:
        """(side, answer, opponent) for both answers."""
        return [("left", self.left, self.right), ("right", self.right, self.left)]
