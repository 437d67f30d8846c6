"""Ratings stored as HUMAN feedback on real MLflow traces: round trip, exactly-once under
retries and threads, overrides that keep history, rating rounds."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.app.apphelpers import Store
from workbench.errors import NotFoundError, TrackingError
from workbench.ratings import Answer, Rating, RatingError, RatingItem, RatingRound, round_items
from workbench.tracking import feedback as stored
from workbench.tracking.read import load_experiment

HUMAN_NAMES = set(stored.FEEDBACK_NAMES.values())


def _uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"


def _round(store: Store, n_variants: int = 3) -> tuple[RatingRound, list[RatingItem]]:
    loaded = load_experiment(store.run_id)
    variants = list(store.variants[:n_variants])
    samples = loaded.samples(variants)
    rnd = RatingRound.create(
        experiment=loaded.experiment,
        experiment_id=loaded.experiment_id,
        run_id=loaded.run_id,
        variants=variants,
        sample_ids=sorted(samples["sample_id"].unique()),
    )
    return rnd, round_items(rnd, samples)


def _rating(item: RatingItem, rater: str, choice: str = "left", flip: bool = False, **kw) -> Rating:
    left, right = (item.b, item.a) if flip else (item.a, item.b)
    values = {"correctness": (4, 2), "helpfulness": (5, 1), "round_id": "rd-test"}
    values.update(kw)
    return Rating(item=item, rater=rater, left=left, right=right, choice=choice, **values)


def _human(client: MlflowClient, trace_id: str, valid_only: bool = False) -> list:
    found = [a for a in client.get_trace(trace_id).info.assessments if a.name in HUMAN_NAMES]
    return [a for a in found if a.valid is not False] if valid_only else found


def test_a_rating_round_trips_as_human_feedback_next_to_the_scores(
    store: Store, tmp_path: Path
) -> None:
    _, items = _round(store)
    item = items[0]
    rating = _rating(item, "alice", choice="right", flip=True, comment="B <b>cites</b> the doc")
    result = stored.submit_rating(rating)
    assert result.written == 6 and result.already_stored == 0 and result.overrode == ()

    client = MlflowClient(_uri(tmp_path))
    right_trace = item.a.trace_id  # flip: a was shown on the right, and the rater picked right
    assessments = client.get_trace(right_trace).info.assessments
    human = {a.name: a for a in assessments if a.name in HUMAN_NAMES}
    assert {a.source.source_type for a in assessments if a.name not in HUMAN_NAMES} >= {"CODE"}
    assert human["human_preference"].value == "win"
    assert human["human_preference"].rationale == "B <b>cites</b> the doc"
    assert human["human_correctness"].value == 2 and human["human_helpfulness"].value == 1
    for a in human.values():
        assert a.source.source_type == "HUMAN" and a.source.source_id == "alice"
        meta = a.metadata
        assert meta["side"] == "right" and meta["item_id"] == item.item_id
        assert (
            meta["opponent_variant_id"] == item.b.variant_id
            and meta["opponent_trace_id"] == item.b.trace_id
        )
        assert meta["rating_id"] == rating.rating_id and meta["round"] == "rd-test"
        assert meta["run_id"] == store.run_id and meta["sample_id"] == item.sample_id

    frame = stored.load_ratings(store.run_id)
    assert len(frame) == 2 and list(frame.columns[:9]) == [
        "item",
        "rater",
        "variant",
        "side",
        "outcome",
        "correctness",
        "helpfulness",
        "comment",
        "time",
    ]
    by_side = frame.set_index("side")
    assert (
        by_side.loc["left", "variant"] == item.b.variant_id
        and by_side.loc["left", "outcome"] == "loss"
    )
    assert (
        by_side.loc["right", "variant"] == item.a.variant_id
        and by_side.loc["right", "outcome"] == "win"
    )
    assert by_side.loc["left", "correctness"] == 4 and by_side.loc["right", "helpfulness"] == 1
    assert stored.load_ratings(store.run_id, round_id="other").empty
    child = load_experiment(store.run_id).variant_run_ids[item.a.variant_id]
    assert len(stored.load_ratings(child)) == 2  # a variant's run id finds its parent's ratings


def test_a_retried_submission_is_stored_once(store: Store, tmp_path: Path) -> None:
    _, items = _round(store)
    rating = _rating(items[0], "bob")
    stored.submit_rating(rating)
    again = stored.submit_rating(rating)
    assert again.written == 0 and again.already_stored == 6
    client = MlflowClient(_uri(tmp_path))
    assert (
        len(_human(client, items[0].a.trace_id)) == 3
        and len(_human(client, items[0].b.trace_id)) == 3
    )
    assert len(stored.load_ratings(store.run_id)) == 2


def test_a_half_written_rating_is_completed_by_resubmitting(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, items = _round(store)
    rating = _rating(items[1], "carol")
    real = stored._write
    calls = {"n": 0}

    def flaky(feedback, trace_id, attempts):
        calls["n"] += 1
        if calls["n"] == 3:
            raise TrackingError("store went away")
        return real(feedback, trace_id, attempts)

    monkeypatch.setattr(stored, "_write", flaky)
    with pytest.raises(TrackingError, match="store went away"):
        stored.submit_rating(rating)
    assert stored.load_ratings(store.run_id).shape[0] == 1  # left side only: not a complete rating
    monkeypatch.setattr(stored, "_write", real)
    done = stored.submit_rating(rating)
    assert done.written == 4 and done.already_stored == 2
    assert stored.load_ratings(store.run_id).shape[0] == 2


def test_rerating_overrides_and_keeps_history(store: Store, tmp_path: Path) -> None:
    _, items = _round(store)
    item = items[2]
    first = stored.submit_rating(_rating(item, "alice", choice="left"))
    second = stored.submit_rating(_rating(item, "alice", choice="tie", correctness=(1, 1)))
    assert second.overrode == (first.rating_id,)
    stored.submit_rating(_rating(item, "bob", choice="right"))  # another rater: not an override

    current = stored.load_ratings(store.run_id)
    alice = current[current["rater"] == "alice"]
    assert set(alice["rating_id"]) == {second.rating_id} and set(alice["outcome"]) == {"tie"}
    assert len(current) == 4  # alice's current rating + bob's
    history = stored.load_ratings(store.run_id, include_history=True)
    old = history[history["rating_id"] == first.rating_id]
    assert len(old) == 2 and not old["valid"].any()

    client = MlflowClient(_uri(tmp_path))
    prefs = [
        a
        for a in _human(client, item.a.trace_id)
        if a.name == "human_preference" and a.source.source_id == "alice"
    ]
    assert len(prefs) == 2
    old_a = next(a for a in prefs if a.metadata["rating_id"] == first.rating_id)
    new_a = next(a for a in prefs if a.metadata["rating_id"] == second.rating_id)
    assert old_a.valid is False and new_a.valid is True and new_a.overrides == old_a.assessment_id


def test_concurrent_raters_lose_and_duplicate_nothing(store: Store, tmp_path: Path) -> None:
    _, items = _round(store, n_variants=4)  # 6 samples x 6 pairs = 36 items
    raters = [f"rater{k}" for k in range(10)]
    plan = {
        r: [
            _rating(items[(k * 7 + n) % len(items)], r, choice="left" if n % 2 else "right")
            for n in range(10)
        ]
        for k, r in enumerate(raters)
    }
    errors: list[BaseException] = []
    start = threading.Barrier(len(raters) + 2)

    def rate(ratings: list[Rating]) -> None:
        start.wait()
        try:
            for n, rating in enumerate(ratings):
                stored.submit_rating(rating)
                if n % 3 == 0:
                    stored.submit_rating(rating)  # a retry
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def duplicate(rating: Rating) -> None:  # the very same submission, sent twice at once
        start.wait()
        try:
            stored.submit_rating(rating)
        except BaseException as exc:
            errors.append(exc)

    twin = plan["rater0"][0]
    threads = [threading.Thread(target=rate, args=(plan[r],)) for r in raters]
    threads += [threading.Thread(target=duplicate, args=(twin,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]

    frame = stored.load_ratings(store.run_id, include_history=True)
    expected = {r.rating_id for ratings in plan.values() for r in ratings}
    assert set(frame["rating_id"]) == expected  # none lost
    assert len(frame) == 2 * len(expected) and not frame.duplicated(["rating_id", "side"]).any()
    client = MlflowClient(_uri(tmp_path))
    traces = {t for r in plan.values() for x in r for t in (x.left.trace_id, x.right.trace_id)}
    n_assessments = sum(len(_human(client, t)) for t in traces)
    assert n_assessments == 6 * len(expected)  # none duplicated


def test_rounds_are_stored_on_the_parent_run(store: Store) -> None:
    rnd, _ = _round(store)
    stored.save_round(rnd)
    stored.save_round(rnd)  # the same round again: one file
    assert [r.round_id for r in stored.list_rounds()] == [rnd.round_id]
    assert stored.list_rounds(store.experiment)[0] == rnd
    assert stored.get_round(store.run_id, rnd.round_id) == rnd
    assert stored.list_rounds("no-such-experiment") == []
    with pytest.raises(NotFoundError):
        stored.get_round(store.run_id, "r-missing")
    child = load_experiment(store.run_id).variant_run_ids[store.variants[0]]
    with pytest.raises(RatingError, match="not an experiment's parent run"):
        stored.save_round(dataclasses.replace(rnd, run_id=child))


def test_a_rating_of_a_trace_that_is_not_there_is_refused(store: Store) -> None:
    _, items = _round(store)
    item = items[0]
    ghost = RatingItem.make(
        item.experiment_id,
        item.run_id,
        item.sample_id,
        item.a,
        Answer(item.b.variant_id, "tr-" + "0" * 32),
    )
    with pytest.raises(NotFoundError, match="is not in experiment"):
        stored.submit_rating(_rating(ghost, "alice"))
    bad = RatingItem.make(
        item.experiment_id,
        item.run_id,
        item.sample_id,
        item.a,
        Answer(item.b.variant_id, "x' OR 1=1"),
    )
    with pytest.raises(RatingError, match="not an MLflow trace id"):
        stored.submit_rating(_rating(bad, "alice"))
