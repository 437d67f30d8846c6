"""Items, rounds, validation, left/right order and assignment (pure logic, hand-made cases)."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from workbench.errors import WorkbenchError
from workbench.ratings import (
    Answer,
    Rating,
    RatingError,
    RatingItem,
    RatingRound,
    eligible_samples,
    presentation,
    queue_for,
    round_items,
)

X, Y, Z = (
    Answer("vx", "tr-" + "1" * 32),
    Answer("vy", "tr-" + "2" * 32),
    Answer("vz", "tr-" + "3" * 32),
)


def _item(sample: str = "s1", one: Answer = Y, other: Answer = X) -> RatingItem:
    return RatingItem.make("1", "run1", sample, one, other)


def _rating(item: RatingItem, rater: str = "alice", **kw) -> Rating:
    values = {
        "left": item.a,
        "right": item.b,
        "choice": "left",
        "correctness": (4, 2),
        "helpfulness": (5, 1),
    }
    values.update(kw)
    return Rating(item=item, rater=rater, **values)


def test_item_is_canonical_and_stable() -> None:
    one, other = _item(one=Y, other=X), _item(one=X, other=Y)
    assert one == other and one.a == X and one.b == Y
    assert one.item_id != _item(sample="s2").item_id
    assert RatingItem.make("1", "run2", "s1", X, Y).item_id != one.item_id  # per run
    with pytest.raises(RatingError, match="two different variants"):
        RatingItem.make("1", "run1", "s1", X, Answer("vx", "tr-" + "9" * 32))


def test_rating_validation_names_the_problem() -> None:
    item = _item()
    with pytest.raises(RatingError, match="did you mean 'left'"):
        _rating(item, choice="lefft")
    with pytest.raises(RatingError, match=r"correctness \(right\) must be from 1 to 5, got 6"):
        _rating(item, correctness=(3, 6))
    with pytest.raises(RatingError, match="whole number"):
        _rating(item, helpfulness=(2.5, 3))
    with pytest.raises(RatingError, match="whole number"):
        _rating(item, helpfulness=(True, 3))
    with pytest.raises(RatingError, match="rater's name"):
        _rating(item, rater=" ")
    with pytest.raises(RatingError, match="not the two answers"):
        _rating(item, left=X, right=Z)
    assert issubclass(RatingError, WorkbenchError)


def test_outcome_from_each_side() -> None:
    item = _item()
    picked_left = _rating(item, left=item.b, right=item.a, choice="left")
    assert picked_left.outcome("left") == "win" and picked_left.outcome("right") == "loss"
    assert _rating(item, choice="both_bad").outcome("right") == "both_bad"
    assert _rating(item, choice="tie").outcome("left") == "tie"
    assert _rating(item).rating_id != _rating(item).rating_id  # a fresh id per submission


def test_round_id_is_deterministic_and_roundtrips() -> None:
    kw = {"experiment": "e", "experiment_id": "1", "run_id": "run1", "sample_ids": ["s1", "s2"]}
    one = RatingRound.create(variants=["vy", "vx"], **kw)
    assert one.round_id == RatingRound.create(variants=["vx", "vy", "vx"], **kw).round_id
    assert one.round_id != RatingRound.create(variants=["vx", "vz"], **kw).round_id
    assert RatingRound.from_dict(one.to_dict()) == one
    with pytest.raises(RatingError, match="at least 2 different variants"):
        RatingRound.create(variants=["vx", "vx"], **kw)
    with pytest.raises(RatingError, match="min_raters"):
        RatingRound.create(variants=["vx", "vy"], min_raters=0, **kw)
    with pytest.raises(RatingError, match="unknown field"):
        RatingRound.from_dict({**one.to_dict(), "colour": "red"})


def _samples() -> pd.DataFrame:
    rows = []
    for n, sid in enumerate(["s1", "s2", "s3", "s4"]):
        for k, v in enumerate(["vx", "vy", "vz"]):
            trace = None if (sid, v) == ("s3", "vz") else f"tr-{10 * n + k:032x}"
            rows.append({"sample_id": sid, "variant_id": v, "trace_id": trace})
    return pd.DataFrame(rows)


def test_eligible_samples_need_an_answer_of_every_chosen_variant() -> None:
    samples = _samples()
    assert eligible_samples(samples, ["vx", "vy"]) == ["s1", "s2", "s3", "s4"]
    assert eligible_samples(samples, ["vx", "vz"]) == ["s1", "s2", "s4"]  # vz has no trace for s3
    picked = eligible_samples(samples, ["vx", "vy"], max_samples=2, seed=1)
    assert len(picked) == 2 and picked == eligible_samples(
        samples, ["vx", "vy"], max_samples=2, seed=1
    )
    with pytest.raises(RatingError, match="no trace ids"):
        eligible_samples(samples.drop(columns="trace_id"), ["vx", "vy"])


def test_round_items_are_every_pair_of_every_sample() -> None:
    samples = _samples()
    rnd = RatingRound.create(
        experiment="e",
        experiment_id="1",
        run_id="run1",
        variants=["vx", "vy", "vz"],
        sample_ids=["s1", "s3"],
    )
    items = round_items(rnd, samples)
    # s1: 3 pairs; s3: only (vx, vy) because vz has no trace there
    assert [(i.sample_id, i.a.variant_id, i.b.variant_id) for i in items] == [
        ("s1", "vx", "vy"),
        ("s1", "vx", "vz"),
        ("s1", "vy", "vz"),
        ("s3", "vx", "vy"),
    ]
    assert len({i.item_id for i in items}) == 4


def _items(n: int) -> list[RatingItem]:
    return [_item(sample=f"s{k}") for k in range(n)]


def test_order_is_stable_random_and_balanced_per_rater() -> None:
    items = _items(41)
    ids = [i.item_id for i in items]
    everyone = []
    for rater in ["alice", "bob", "carol", "dan", "erin"]:
        shown = [presentation(i, rater, ids) for i in items]
        assert shown == [presentation(i, rater, ids) for i in items]  # the same on every rerun
        a_left = sum(p.a_left for p in shown)
        assert abs(a_left - len(items) / 2) <= 1  # balanced over the rater's items
        assert {(p.left, p.right) for p in shown} <= {(i.a, i.b) for i in items} | {
            (i.b, i.a) for i in items
        }
        everyone.append([p.a_left for p in shown])
    assert len({tuple(e) for e in everyone}) == 5  # every rater gets a different order


def _stored(ratings: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(ratings, columns=["item", "rater"])


def test_assignment_reaches_n_raters_and_nobody_sees_an_item_twice() -> None:
    items = _items(12)
    raters = ["r1", "r2", "r3", "r4", "r5", "r6"]
    rng = random.Random(0)
    done: list[tuple[str, str]] = []
    while True:
        queues = {r: queue_for(r, items, _stored(done), 3) for r in raters}
        busy = [r for r in raters if queues[r]]
        if not busy:
            break
        rater = rng.choice(busy)
        done.append((queues[rater][0].item_id, rater))
    assert len(done) == len(set(done))  # no rater rated an item twice
    per_item = _stored(done).groupby("item")["rater"].nunique()
    assert len(per_item) == 12 and (per_item == 3).all()


def test_queue_prefers_the_least_covered_and_skips_own_and_full_items() -> None:
    items = _items(4)
    a, b, c, d = (i.item_id for i in items)
    stored = _stored([(a, "x"), (a, "y"), (a, "z"), (b, "x"), (b, "y"), (c, "alice")])
    queue = [i.item_id for i in queue_for("alice", items, stored, 3)]
    assert queue == [d, b]  # a is full, c is alice's own; d (0 raters) before b (2)
    assert [i.item_id for i in queue_for("newcomer", items, stored, 3)][0] == d
    fresh = _items(12)
    firsts = {
        queue_for(r, fresh, _stored([]), 3)[0].item_id for r in ["r1", "r2", "r3", "r4", "r5"]
    }
    assert len(firsts) > 1  # parallel raters start on different items
    with pytest.raises(RatingError):
        queue_for("alice", items, stored, 0)
