"""Items of a rating round, the rater's queue, and the left/right order each rater sees."""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.ratings._types import Answer, RatingError, RatingItem, RatingRound

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Presentation",
    "coverage",
    "eligible_samples",
    "presentation",
    "queue_for",
    "round_items",
]


def _rank(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def eligible_samples(
    samples: pd.DataFrame,
    variants: Sequence[str],
    *,
    max_samples: int | None = None,
    seed: int = 0,
) -> list[str]:
    """Sample ids every chosen variant answered with a trace (a seeded subset if capped)."""
    if "trace_id" not in samples.columns:
        raise RatingError(
            "this run's per-sample tables have no trace ids; rerun it with a newer workbench"
        )
    rows = samples[samples["variant_id"].isin(list(variants)) & samples["trace_id"].notna()]
    per_sample = rows.groupby("sample_id")["variant_id"].nunique()
    ids = [str(s) for s in per_sample[per_sample == len(set(variants))].index]
    order = [str(s) for s in samples["sample_id"].drop_duplicates()]
    ids = [s for s in order if s in set(ids)]
    if max_samples is not None and 0 < max_samples < len(ids):
        chosen = set(random.Random(seed).sample(ids, max_samples))
        ids = [s for s in ids if s in chosen]
    return ids


def round_items(rating_round: RatingRound, samples: pd.DataFrame) -> list[RatingItem]:
    """Every (sample, pair of the round's variants) with both answers' traces, in sample order."""
    wanted = samples[
        samples["variant_id"].isin(rating_round.variants)
        & samples["sample_id"].astype(str).isin(rating_round.sample_ids)
    ]
    traces = {
        (str(v), str(s)): str(t)
        for v, s, t in zip(
            wanted["variant_id"], wanted["sample_id"], wanted["trace_id"], strict=True
        )
        if isinstance(t, str) and t
    }
    items = []
    for sample_id in rating_round.sample_ids:
        for va, vb in itertools.combinations(sorted(rating_round.variants), 2):
            ta, tb = traces.get((va, sample_id)), traces.get((vb, sample_id))
            if ta and tb:
                items.append(
                    RatingItem.make(
                        rating_round.experiment_id,
                        rating_round.run_id,
                        sample_id,
                        Answer(va, ta),
                        Answer(vb, tb),
                    )
                )
    return items


@dataclass(frozen=True)
class Presentation:
    """What one rater sees for one item: which answer is on the left."""

    item: RatingItem
    left: Answer
    right: Answer

    @property
    def a_left(self) -> bool:
        return self.left == self.item.a


def presentation(item: RatingItem, rater: str, round_item_ids: Sequence[str]) -> Presentation:
    """The left/right order of ``item`` for ``rater``: random, stable, balanced per rater.

    The rater's items are put in a pseudo-random order (a hash of rater and item, so it
    survives restarts and is the same in every process); alternate positions in that
    order get answer ``a`` on the left, so over a round each rater sees ``a`` on the left
    for half of the items (+-1), and which half is random.
    """
    ids = list(dict.fromkeys(round_item_ids))
    if item.item_id not in ids:
        ids.append(item.item_id)
    order = sorted(ids, key=lambda i: _rank("order", rater, i))
    flip = int(_rank("flip", rater), 16) % 2 == 1
    a_left = (order.index(item.item_id) % 2 == 0) != flip
    left, right = (item.a, item.b) if a_left else (item.b, item.a)
    return Presentation(item, left, right)


def coverage(items: Sequence[RatingItem], ratings: pd.DataFrame) -> dict[str, set[str]]:
    """item id -> raters who rated it (any rating, current or overridden)."""
    raters: dict[str, set[str]] = {i.item_id: set() for i in items}
    if len(ratings):
        for item_id, rater in zip(ratings["item"], ratings["rater"], strict=True):
            if item_id in raters:
                raters[item_id].add(str(rater))
    return raters


def queue_for(
    rater: str, items: Sequence[RatingItem], ratings: pd.DataFrame, min_raters: int
) -> list[RatingItem]:
    """The items ``rater`` should rate next, first one first.

    Only items the rater has not rated and that still have fewer than ``min_raters``
    raters; the least-covered first, ties in an order random per rater (so parallel raters
    spread over different items). Derived from stored ratings only: it survives restarts
    and is the same in every process.
    """
    if min_raters < 1:
        raise RatingError(f"min_raters must be at least 1, got {min_raters}")
    raters = coverage(items, ratings)
    todo = [
        i for i in items if rater not in raters[i.item_id] and len(raters[i.item_id]) < min_raters
    ]
    return sorted(todo, key=lambda i: (len(raters[i.item_id]), _rank("queue", rater, i.item_id)))
