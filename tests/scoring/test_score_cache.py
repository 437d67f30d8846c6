"""The score cache: an unchanged item is served from it, a changed one is scored again,
judge and plugin scorers are never cached, and a scorer's own error is never stored."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tests.scoring.test_scorers import item
from workbench.records import MetricInfo, Score
from workbench.scoring import ScoringContext, registry
from workbench.scoring._cache import ScoreCache, cacheable, scorer_key_or_none
from workbench.scoring._registry import ScorerDef
from workbench.scoring._run import score_items


class Counting:
    """Wraps a real scorer and counts the items it is asked to score."""

    def __init__(self, inner: Any, *, fail: bool = False):
        self.inner, self.fail, self.seen = inner, fail, 0
        self.metrics = inner.metrics

    def __call__(self, it: Any) -> list[Score]:
        self.seen += 1
        if self.fail:
            raise RuntimeError("boom")
        return list(self.inner(it))


def test_unchanged_items_come_from_the_cache(tmp_path: Path) -> None:
    definition = registry()["rouge_l"]
    key = scorer_key_or_none(definition)
    assert key is not None
    cache = ScoreCache(tmp_path / "scores.sqlite")
    items = [item("Refunds within 14 days."), item("No idea.")]

    first = Counting(definition.factory(ScoringContext()))
    cold = score_items(items, [first], cache=cache, cache_keys=[key])
    assert first.seen == 2

    # The same items again: the scorer is not asked (it would fail if it were).
    broken = Counting(definition.factory(ScoringContext()), fail=True)
    warm = score_items(items, [broken], cache=cache, cache_keys=[key])
    assert broken.seen == 0
    assert [s["rouge_l"].value for s in warm] == [s["rouge_l"].value for s in cold]
    assert cold[0]["rouge_l"].value > cold[1]["rouge_l"].value

    # One answer changed: only that item is scored again.
    again = Counting(definition.factory(ScoringContext()))
    changed = [items[0], item("Refunds are possible within 14 days.")]
    out = score_items(changed, [again], cache=cache, cache_keys=[key])
    assert again.seen == 1 and math.isclose(out[1]["rouge_l"].value, 1.0)


def test_a_scorer_error_is_not_cached(tmp_path: Path) -> None:
    definition = registry()["rouge_l"]
    key = scorer_key_or_none(definition)
    cache = ScoreCache(tmp_path / "scores.sqlite")
    items = [item("Refunds within 14 days.")]
    failing = Counting(definition.factory(ScoringContext()), fail=True)
    out = score_items(items, [failing], cache=cache, cache_keys=[key])
    assert math.isnan(out[0]["rouge_l"].value) and "scorer error" in (
        out[0]["rouge_l"].reason or ""
    )
    working = Counting(definition.factory(ScoringContext()))
    out = score_items(items, [working], cache=cache, cache_keys=[key])
    assert working.seen == 1 and out[0]["rouge_l"].scored


class Flaky(Counting):
    """Returns a NaN that is not "does not apply" (what the ragas adapter records for a
    timeout or a locked file)."""

    def __call__(self, it: Any) -> list[Score]:
        self.seen += 1
        return [Score.unscored("rouge_l", "ragas rouge_l: TimeoutError")]


def test_a_passing_failure_is_not_cached(tmp_path: Path) -> None:
    definition = registry()["rouge_l"]
    key = scorer_key_or_none(definition)
    cache = ScoreCache(tmp_path / "scores.sqlite")
    items = [item("Refunds within 14 days.")]
    score_items(items, [Flaky(definition.factory(ScoringContext()))], cache=cache, cache_keys=[key])
    working = Counting(definition.factory(ScoringContext()))
    out = score_items(items, [working], cache=cache, cache_keys=[key])
    assert working.seen == 1 and out[0]["rouge_l"].scored


def test_the_key_covers_every_module_a_score_depends_on() -> None:
    from workbench.scoring import _cache

    names = {p.name for p in _cache.digest_files() if p.is_file()}
    assert {"_safety.py", "_rank.py", "_ragas.py", "_builtin.py", "embeddings.py"} <= names
    assert "sacrebleu=" in _cache._versions()


def test_judges_and_plugins_always_run() -> None:
    known = registry()
    assert cacheable(known["semantic_similarity"]) and cacheable(known["safety"])
    assert not cacheable(known["faithfulness"])  # an LLM judge
    plugin = ScorerDef("mine", (MetricInfo("mine"),), lambda ctx: None)
    assert not cacheable(plugin)
