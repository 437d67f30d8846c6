"""Score a finished grid: every scorer over every (variant, sample), then pass/fail.

Never drops a row: a scorer that fails on a sample records NaN and the reason; a sample
whose model call failed is unscored (reason: the call's error) and fails.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError, did_you_mean
from workbench.records import MetricInfo, Score
from workbench.scoring._registry import (
    ScoreItem,
    ScorerDef,
    ScoringContext,
    select,
    unscored_all,
)
from workbench.spec import ExperimentSpec, holds, resolve_model

if TYPE_CHECKING:
    import pandas as pd

    from workbench.records import Plan, ProgressSink, SampleRecord
    from workbench.scoring._cache import ScoreCache


@dataclass
class Scored:
    samples: pd.DataFrame
    """The per-sample frame with one float column per metric, ``passed``, findings."""
    metrics: list[MetricInfo]
    scores: pd.DataFrame
    """Long form: variant_id, sample_id, metric, value, reason, source (one row per score)."""


def build_items(plan: Plan, records: Sequence[SampleRecord]) -> list[ScoreItem]:
    samples = {s.id: s for s in plan.golden.samples}
    variants = {v.variant_id: v for v in plan.variants}
    docs = {d.id: d.text for d in plan.corpus.documents} if plan.corpus else {}
    items = []
    for record in records:
        sample = samples[record.sample_id]
        variant = variants[record.variant_id]
        items.append(
            ScoreItem(
                sample_id=sample.id,
                question=sample.question,
                reference=sample.reference,
                answer=record.answer,
                category=sample.category,
                severity=sample.severity,
                canary=sample.canary,
                reference_ids=sample.reference_context_ids,
                reference_contexts=tuple(
                    docs[i] for i in sample.reference_context_ids if i in docs
                ),
                contexts=tuple(p.text for p in record.retrieval.passages),
                retrieved_doc_ids=tuple(p.doc_id for p in record.retrieval.passages),
                retrieves=variant.retriever.type != "none",
                k=variant.retriever.k,
                system_prompt="\n".join(m.content for m in record.messages if m.role == "system"),
                error=record.error,
            )
        )
    return items


def score_items(
    items: Sequence[ScoreItem],
    scorers: Sequence[Any],
    progress: ProgressSink | None = None,
    *,
    cache: ScoreCache | None = None,
    cache_keys: Sequence[str | None] = (),
) -> list[dict[str, Score]]:
    """Run each scorer over the items (in bulk where it can); one dict of scores per item.

    With a ``cache``, a scorer whose ``cache_keys`` entry is not None takes the scores it
    already computed for the same item from it and runs only on the rest."""
    from workbench.scoring._cache import item_key

    out: list[dict[str, Score]] = [{} for _ in items]
    keys = list(cache_keys) or [None] * len(scorers)
    if progress is not None:
        progress.start("scoring", len(items) * len(scorers))
    try:
        for sc, scorer_key in zip(scorers, keys, strict=True):
            runs_on_failures = getattr(sc, "scores_failed_calls", False)
            todo = [i for i, it in enumerate(items) if it.error is None or runs_on_failures]
            chosen = set(todo)
            for i, it in enumerate(items):
                if i not in chosen:
                    for s in unscored_all(sc.metrics, f"model call failed: {it.error}"):
                        out[i][s.name] = s
            known: dict[str, list[Score]] = {}
            item_keys: dict[int, str] = {}
            if cache is not None and scorer_key is not None:
                item_keys = {i: item_key(scorer_key, items[i]) for i in todo}
                known = cache.get(list(item_keys.values()))
            missing = [i for i in todo if item_keys.get(i) not in known]
            results = _apply(sc, [items[i] for i in missing], progress) if missing else []
            if cache is not None and item_keys:
                cache.put({item_keys[i]: r for i, r in zip(missing, results, strict=True)})
                if progress is not None:
                    progress.advance(len(todo) - len(missing))
            computed = dict(zip(missing, results, strict=True))
            for i in todo:
                for s in computed[i] if i in computed else known[item_keys[i]]:
                    out[i][s.name] = s
            if progress is not None:
                progress.advance(len(items) - len(todo))
    finally:
        if progress is not None:
            progress.finish()
    return out


def _apply(sc: Any, items: Sequence[ScoreItem], progress: ProgressSink | None) -> list[list[Score]]:
    if hasattr(sc, "batch"):
        try:
            results: list[list[Score]] = sc.batch(items)
            if progress is not None:
                progress.advance(len(items))
            return results
        except Exception as exc:  # a batch failure: fall back to one by one
            del exc
    results = []
    for item in items:
        try:
            results.append(sc(item))
        except Exception as exc:  # one sample's failure is data, not a crash
            results.append(unscored_all(sc.metrics, f"scorer error: {type(exc).__name__}: {exc}"))
        if progress is not None:
            progress.advance()
    return results


def _selected(spec: ExperimentSpec) -> list[ScorerDef]:
    """The scorer definitions the spec runs (judge ones only with a judge)."""
    judge_metrics = spec.judge.metrics if spec.judge is not None else ()
    return list(select(spec.scorers, judge=spec.judge is not None, judge_metrics=judge_metrics))


def warm_up(spec: ExperimentSpec) -> threading.Thread:
    """Import and load what the code scorers need (ragas, rouge-score, sacrebleu, MiniLM),
    in a background thread, by scoring one throwaway item with each.

    Started while the grid waits on a remote endpoint, it takes the scorers' start-up
    (several seconds of imports) out of the run's wall time. Any failure is left for the
    real scoring to record."""

    def work() -> None:
        probe = ScoreItem(
            sample_id="warm-up", question="q", reference="an answer", answer="an answer",
            category="factual", severity="low", canary=None, reference_ids=("d",),
            reference_contexts=("an answer",), contexts=("an answer",), retrieved_doc_ids=("d",),
            retrieves=True, k=1, system_prompt="",
        )  # fmt: skip
        from workbench.scoring._cache import cacheable

        try:
            defs = [d for d in _selected(spec) if cacheable(d)]
        except ConfigError:
            return
        for definition in defs:  # the built-in code scorers: a plugin's may have side effects
            try:
                definition.factory(ScoringContext())(probe)
            except Exception:  # the real scoring records any failure as data
                continue
        if any(d.name == "semantic_similarity" for d in defs):
            from workbench.models.embeddings import embedder

            with contextlib.suppress(Exception):
                embedder()  # the probe's text is in the embedding cache after the first run

    thread = threading.Thread(target=work, name="wb-scoring-warm-up", daemon=True)
    thread.start()
    return thread


def check_scoring(spec: ExperimentSpec, *, where: str) -> None:
    """Scorers, thresholds and the judge's model reference, checked before any model runs
    (a typo must not surface after an hour of generation)."""
    try:
        defs = _selected(spec)
    except ConfigError as exc:
        raise ConfigError(exc.message, where=where, hint=exc.hint) from None
    names = {m.name for d in defs for m in d.metrics}
    for metric in spec.thresholds:
        if metric not in names:
            hint = did_you_mean(metric, names) or f"scored metrics: {', '.join(sorted(names))}"
            raise ConfigError(
                f"thresholds.{metric}: not a metric of this run", where=where, hint=hint
            )
    if spec.judge is not None:
        resolve_model(spec.judge.model, spec, field="judge.model", where=where)


def score_run(
    plan: Plan,
    records: Sequence[SampleRecord],
    samples: pd.DataFrame,
    *,
    progress: ProgressSink | None = None,
) -> Scored:
    import pandas as pd

    from workbench.scoring._builtin import findings_of

    spec = plan.spec
    check_scoring(spec, where=plan.source.where)
    judge = None
    if spec.judge is not None:
        from workbench.scoring._judge import build_judge

        judge = build_judge(spec, where=plan.source.where)
    defs = _selected(spec)
    ctx = ScoringContext(judge=judge, judge_spec=spec.judge, seed=spec.execution.seed)
    scorers = [d.factory(ctx) for d in defs]
    metrics = [m for sc in scorers for m in sc.metrics]
    names = {m.name for m in metrics}
    for metric in spec.thresholds:
        if metric not in names:
            hint = did_you_mean(metric, names) or f"scored metrics: {', '.join(sorted(names))}"
            raise ConfigError(
                f"thresholds.{metric}: not a metric of this run", where=plan.source.where, hint=hint
            )

    items = build_items(plan, records)
    cache = None
    if spec.execution.cache:
        from workbench import _paths
        from workbench.scoring._cache import ScoreCache, scorer_key_or_none

        cache = ScoreCache(_paths.cache_dir() / "scores.sqlite")
    keys = [scorer_key_or_none(d) for d in defs] if cache is not None else []
    per_item = score_items(items, scorers, progress, cache=cache, cache_keys=keys)

    frame = samples.copy()
    long_rows = []
    passed, findings = [], []
    for record, item, scores in zip(records, items, per_item, strict=True):
        found = findings_of(scores, item)
        findings.append(found)
        high = [f"{f.check}: {f.detail}" for f in found if f.severity == "high"]
        passed.append(float(_passes(item, scores, spec.thresholds, high)))
        for s in scores.values():
            long_rows.append(
                {
                    "variant_id": record.variant_id,
                    "sample_id": record.sample_id,
                    "metric": s.name,
                    "value": s.value,
                    "reason": s.reason,
                    "source": s.source,
                }
            )
    for m in metrics:
        frame[m.name] = [
            scores[m.name].value if m.name in scores else math.nan for scores in per_item
        ]
    frame["passed"] = passed
    frame["high_findings"] = [sum(f.severity == "high" for f in found) for found in findings]
    frame["findings"] = [
        [f"{f.check} ({f.severity}): {f.detail}" for f in found] for found in findings
    ]
    # Failures to score only (a metric that does not apply to a sample is NaN, not "unscored").
    frame["unscored"] = [
        {s.name: s.reason for s in scores.values() if not s.scored and s.applicable}
        for scores in per_item
    ]
    return Scored(samples=frame, metrics=metrics, scores=pd.DataFrame(long_rows))


def _passes(
    item: ScoreItem, scores: dict[str, Score], thresholds: dict[str, str], found: list[str]
) -> bool:
    """No error, no high-severity finding, and: declines when unanswerable, else every threshold."""
    if item.error is not None or found:
        return False
    if item.category == "unanswerable":
        abstention = scores.get("abstention")
        return abstention is not None and abstention.value == 1.0
    return all(
        holds(scores[m].value if m in scores else math.nan, rule) for m, rule in thresholds.items()
    )
