"""One MLflow trace per (variant, sample): retrieval and generation spans drawn from the
recorded timings, linked to the variant's run, with every score as an assessment.

The scores ride along with the trace when it is exported (one write instead of one per
score); human ratings are added later with ``log_feedback`` next to them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.runner import Plan, SampleRecord, Variant
    from workbench.runner._progress import ProgressSink
    from workbench.scoring import MetricInfo

TAG_SAMPLE = "workbench.sample_id"
TAG_VARIANT = "workbench.variant_id"
SOURCE_ID = "workbench"
_TEXT_LIMIT = 4000


def existing_samples(mlflow_client: Any, exp_id: str, run_id: str) -> set[str]:
    """Sample ids that already have a trace in this run (so a resumed run skips them)."""
    found: set[str] = set()
    token = None
    while True:
        page = mlflow_client.search_traces(
            locations=[exp_id], run_id=run_id, include_spans=False, max_results=500, page_token=token
        )
        found.update(t.info.tags.get(TAG_SAMPLE, "") for t in page)
        token = page.token
        if not token:
            return found - {""}


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _cut(text: str) -> str:
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


def feedback_for(
    trace_id: str, row: Mapping[str, Any], metrics: Mapping[str, MetricInfo], judge: str | None
) -> list[Any]:
    """Assessments for one answer: every applicable score, ``passed`` and the findings."""
    from mlflow.entities import AssessmentError, AssessmentSource, Feedback

    out = []
    unscored: Mapping[str, str] = row.get("unscored") or {}
    for name, info in metrics.items():
        value = row.get(name)
        is_judge = info.source == "LLM_JUDGE"
        source = AssessmentSource(
            source_type="LLM_JUDGE" if is_judge else "CODE", source_id=(judge or "judge") if is_judge else SOURCE_ID
        )
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if name not in unscored:
                continue  # does not apply to this sample
            error = AssessmentError(error_code="UNSCORED", error_message=str(unscored[name])[:1000])
            out.append(Feedback(name=name, value=None, error=error, source=source, trace_id=trace_id))
            continue
        out.append(Feedback(name=name, value=float(value), source=source, trace_id=trace_id))
    code = AssessmentSource(source_type="CODE", source_id=SOURCE_ID)
    findings = list(row.get("findings") or [])
    out.append(
        Feedback(
            name="passed",
            value=bool(row.get("passed") == 1.0),
            rationale="; ".join(findings) or None,
            source=code,
            trace_id=trace_id,
        )
    )
    return out


def log_traces(
    mlflow_client: Any,
    *,
    exp_id: str,
    run_id: str,
    plan: Plan,
    variant: Variant,
    records: Sequence[SampleRecord],
    scores: Mapping[tuple[str, str], Mapping[str, Any]],
    metrics: Mapping[str, MetricInfo],
    progress: ProgressSink | None = None,
) -> int:
    """Write the missing traces of one variant's run; returns how many were written."""
    import mlflow

    done = existing_samples(mlflow_client, exp_id, run_id)
    samples = {s.id: s for s in plan.golden.samples}
    judge = None
    if plan.spec.judge is not None:
        judge = str(plan.spec.judge.model if isinstance(plan.spec.judge.model, str) else plan.spec.judge.model.label)
    written = 0
    for record in records:
        if record.sample_id in done:
            if progress is not None:
                progress.advance(cached=True)
            continue
        sample = samples[record.sample_id]
        row = scores.get((variant.variant_id, sample.id), {})
        _one_trace(mlflow_client, exp_id, run_id, variant, sample, record, row, metrics, judge)
        written += 1
        if progress is not None:
            progress.advance()
    mlflow.flush_trace_async_logging()
    return written


def _one_trace(
    mlflow_client: Any,
    exp_id: str,
    run_id: str,
    variant: Variant,
    sample: Any,
    record: SampleRecord,
    row: Mapping[str, Any],
    metrics: Mapping[str, MetricInfo],
    judge: str | None,
) -> None:
    gen = record.generation
    retrieval = record.retrieval
    total = retrieval.latency_s + gen.latency_s
    # A cached answer is drawn at logging time with its original durations.
    start = (time.time() - total) if record.cached else min(retrieval.started_at, gen.started_at)
    root = mlflow_client.start_trace(
        name="answer",
        span_type="CHAIN",
        inputs={"question": sample.question},
        tags={
            TAG_SAMPLE: sample.id,
            TAG_VARIANT: variant.variant_id,
            "workbench.variant": variant.label,
            "workbench.category": sample.category,
            "workbench.cached": str(record.cached).lower(),
        },
        attributes={"workbench.reference": _cut(sample.reference)},
        experiment_id=exp_id,
        start_time_ns=_ns(start),
        run_id=run_id,
    )
    trace_id = root.trace_id
    r_end = start + retrieval.latency_s
    span = mlflow_client.start_span(
        "retrieval",
        trace_id=trace_id,
        parent_id=root.span_id,
        span_type="RETRIEVER",
        inputs={"query": sample.question, "k": variant.retriever.k, "retriever": variant.retriever.label},
        start_time_ns=_ns(start),
    )
    documents = [
        {"page_content": _cut(p.text), "metadata": {"doc_uri": p.doc_id, "chunk_id": p.chunk_id, "score": p.score, "rank": p.rank}}
        for p in retrieval.passages
    ]
    mlflow_client.end_span(trace_id, span.span_id, outputs=documents, end_time_ns=_ns(r_end))
    span = mlflow_client.start_span(
        "generation",
        trace_id=trace_id,
        parent_id=root.span_id,
        span_type="CHAT_MODEL" if variant.model_identity.get("mode") == "chat" else "LLM",
        inputs={"messages": [m.model_dump() for m in record.messages]},
        attributes={
            "model": variant.model.label,
            "prompt": variant.prompt.ref,
            **{f"gen.{k}": v for k, v in variant.params.model_dump(mode="json").items() if v is not None},
            "prompt_tokens": gen.usage.prompt_tokens,
            "completion_tokens": gen.usage.completion_tokens,
            "cost_usd": gen.cost_usd if gen.cost_usd is not None else -1.0,
            "attempts": gen.attempts,
            "cached": record.cached,
        },
        start_time_ns=_ns(r_end),
    )
    outputs = {"choices": [{"message": {"role": "assistant", "content": gen.text}, "finish_reason": gen.finish_reason}]}
    mlflow_client.end_span(
        trace_id,
        span.span_id,
        outputs=outputs if gen.ok else {"error": gen.error},
        status="OK" if gen.ok else "ERROR",
        end_time_ns=_ns(r_end + gen.latency_s),
    )
    feedback = feedback_for(trace_id, row, metrics, judge)
    try:
        _attach(trace_id, feedback)
        late: list[Any] = []
    except Exception:  # MLflow internals moved: log them one by one after the export
        late = feedback
    mlflow_client.end_trace(
        trace_id,
        outputs={"answer": gen.text} if gen.ok else {"error": gen.error},
        status="OK" if gen.ok else "ERROR",
        end_time_ns=_ns(start + total),
    )
    if late:
        import mlflow

        mlflow.flush_trace_async_logging()
        for item in late:
            mlflow.log_assessment(trace_id, item)


def _attach(trace_id: str, feedback: list[Any]) -> None:
    """Put the assessments on the in-memory trace so they are exported with it (one write).

    Uses MLflow's trace manager (pinned mlflow<3.19); if that fails, the caller logs the
    assessments one by one after the export instead."""
    from mlflow.tracing.trace_manager import InMemoryTraceManager

    with InMemoryTraceManager.get_instance().get_trace(trace_id) as trace:
        if trace is None:
            raise RuntimeError(f"trace {trace_id} is not in memory")
        trace.info.assessments.extend(feedback)
