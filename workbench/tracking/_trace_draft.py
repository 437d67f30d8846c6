"""One MLflow trace per (variant, sample), drafted as plain data: a root span with the
retrieval and generation spans drawn from the recorded timings, the run link, the tags,
and every score as an assessment.

Trace ids are derived from (run, sample), so rewriting a trace after a crash merges
instead of duplicating. The writers (``_traces`` chooses one) turn a draft into MLflow's
entities or rows; nothing here writes.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from workbench.tracking._span_draft import SpanDraft

if TYPE_CHECKING:
    from mlflow.entities import Assessment, Feedback, Span, TraceInfo

    from workbench.data import Sample
    from workbench.records import MetricInfo, SampleRecord, Variant

TAG_SAMPLE = "workbench.sample_id"
TAG_VARIANT = "workbench.variant_id"
TAG_SPANS = "mlflow.trace.spansLocation"
"""Set by the store once a trace's spans are written (the bulk path writes it too)."""
SOURCE_ID = "workbench"
_TEXT_LIMIT = 4000


def _cut(text: str) -> str:
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


class AssessmentDraft(NamedTuple):
    """One assessment of an answer, as plain data (``feedback_for`` makes MLflow's entity)."""

    name: str
    value: float | bool | None
    unscored: str | None
    """Why the score could not be computed (then ``value`` is None)."""
    rationale: str | None
    source_type: str
    source_id: str


def assessments_for(
    row: Mapping[str, Any], metrics: Mapping[str, MetricInfo], judge: str | None
) -> list[AssessmentDraft]:
    """Assessments for one answer: every applicable score, ``passed`` and the findings.

    A score that could not be computed is an assessment with an error and no value (a NaN
    value breaks MLflow's REST API and UI)."""
    out = []
    unscored: Mapping[str, str] = row.get("unscored") or {}
    for name, info in metrics.items():
        value = row.get(name)
        is_judge = info.source == "LLM_JUDGE"
        source = ("LLM_JUDGE", judge or "judge") if is_judge else ("CODE", SOURCE_ID)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if name in unscored:  # else: does not apply to this sample
                out.append(AssessmentDraft(name, None, str(unscored[name])[:1000], None, *source))
            continue
        out.append(AssessmentDraft(name, float(value), None, None, *source))
    findings = list(row.get("findings") or [])
    passed = bool(row.get("passed") == 1.0)
    out.append(
        AssessmentDraft("passed", passed, None, "; ".join(findings) or None, "CODE", SOURCE_ID)
    )
    return out


def feedback_for(
    trace_id: str, row: Mapping[str, Any], metrics: Mapping[str, MetricInfo], judge: str | None
) -> list[Feedback]:
    """MLflow Feedback entities of :func:`assessments_for`."""
    from mlflow.entities import AssessmentError, AssessmentSource, Feedback

    return [
        Feedback(
            name=item.name,
            value=item.value,
            error=AssessmentError(error_code="UNSCORED", error_message=item.unscored)
            if item.unscored is not None
            else None,
            rationale=item.rationale,
            source=AssessmentSource(source_type=item.source_type, source_id=item.source_id),
            trace_id=trace_id,
        )
        for item in assessments_for(row, metrics, judge)
    ]


class TraceDraft:
    """A finished trace as plain data: timings, inputs/outputs, tags, scores."""

    def __init__(
        self,
        *,
        run_id: str,
        variant: Variant,
        sample: Sample,
        record: SampleRecord,
        row: Mapping[str, Any],
        metrics: Mapping[str, MetricInfo],
        judge: str | None,
    ):
        gen = record.generation
        retrieval = record.retrieval
        total = retrieval.latency_s + gen.latency_s
        # A cached answer is drawn at logging time with its original durations.
        start = (
            (time.time() - total) if record.cached else min(retrieval.started_at, gen.started_at)
        )
        self.t0 = int(start * 1e9)
        self.r1 = self.t0 + int(retrieval.latency_s * 1e9)
        self.t1 = self.r1 + int(gen.latency_s * 1e9)
        digest = hashlib.sha256(f"{run_id}|{sample.id}".encode()).hexdigest()
        self.otel_trace_id = int(digest[:32], 16)
        self.span_ids = [int(digest[32 + 8 * i : 40 + 8 * i], 16) or 1 for i in range(3)]
        self.ok = gen.ok
        self.inputs = {"question": sample.question}
        self.outputs = {"answer": gen.text} if gen.ok else {"error": gen.error}
        self.retrieval_inputs = {
            "query": sample.question,
            "k": variant.retriever.k,
            "retriever": variant.retriever.label,
        }
        self.documents = [
            {
                "page_content": _cut(p.text),
                "metadata": {
                    "doc_uri": p.doc_id,
                    "chunk_id": p.chunk_id,
                    "score": p.score,
                    "rank": p.rank,
                },
            }
            for p in retrieval.passages
        ]
        self.gen_type = "CHAT_MODEL" if variant.model_identity.get("mode") == "chat" else "LLM"
        self.gen_inputs = {"messages": [m.model_dump() for m in record.messages]}
        self.gen_outputs = (
            {
                "choices": [
                    {
                        "message": {"role": "assistant", "content": gen.text},
                        "finish_reason": gen.finish_reason,
                    }
                ]
            }
            if gen.ok
            else {"error": gen.error}
        )
        self.gen_attributes = {
            "model": variant.model.label,
            "prompt": variant.prompt.ref,
            **{
                f"gen.{k}": v
                for k, v in variant.params.model_dump(mode="json").items()
                if v is not None
            },
            "prompt_tokens": gen.usage.prompt_tokens,
            "completion_tokens": gen.usage.completion_tokens,
            "cost_usd": gen.cost_usd if gen.cost_usd is not None else -1.0,
            "attempts": gen.attempts,
            "cached": record.cached,
        }
        self.tags = {
            TAG_SAMPLE: sample.id,
            TAG_VARIANT: variant.variant_id,
            "workbench.variant": variant.label,
            "workbench.category": sample.category,
            "workbench.cached": str(record.cached).lower(),
        }
        self.reference = _cut(sample.reference)
        self.run_id = run_id
        self.row = row
        self.metrics = metrics
        self.judge = judge

    @property
    def sample_id(self) -> str:
        return self.tags[TAG_SAMPLE]

    @property
    def trace_id(self) -> str:
        from mlflow.tracing.utils import encode_trace_id

        return "tr-" + encode_trace_id(self.otel_trace_id)

    def feedback(self, trace_id: str) -> list[Feedback]:
        """The scores as MLflow Feedback entities on ``trace_id``."""
        return feedback_for(trace_id, self.row, self.metrics, self.judge)

    def entities(self, exp_id: str) -> tuple[TraceInfo, list[Span]]:
        """MLflow's TraceInfo (with its assessments) and Span entities (what the store's
        ``start_trace`` + ``log_spans`` take)."""
        info, spans, _ = self.bulk_entities(exp_id)
        assessments: list[Assessment] = list(self.feedback(info.trace_id))
        info.assessments = assessments
        return info, [s.to_span() for s in spans]

    def bulk_entities(
        self, exp_id: str
    ) -> tuple[TraceInfo, list[SpanDraft], list[AssessmentDraft]]:
        """The TraceInfo (without assessments), and its spans and assessments as plain
        data (``_bulk`` makes their rows)."""
        from mlflow.entities import TraceInfo, TraceLocation, TraceState
        from mlflow.tracing.constant import TRACE_SCHEMA_VERSION_KEY, TraceMetadataKey, TraceTagKey

        trace_id = self.trace_id
        root, retr, gen = self.span_ids
        common = (trace_id, self.otel_trace_id)
        spans = [
            SpanDraft(
                *common, root, None, "answer", "CHAIN", self.t0, self.t1, True,
                self.inputs, self.outputs, {"workbench.reference": self.reference},
            ),
            SpanDraft(
                *common, retr, root, "retrieval", "RETRIEVER", self.t0, self.r1, True,
                self.retrieval_inputs, self.documents, {},
            ),
            SpanDraft(
                *common, gen, root, "generation", self.gen_type, self.r1, self.t1, self.ok,
                self.gen_inputs, self.gen_outputs, self.gen_attributes,
            ),
        ]  # fmt: skip
        request, response = json.dumps(self.inputs), json.dumps(self.outputs)
        info = TraceInfo(
            trace_id=trace_id,
            trace_location=TraceLocation.from_experiment_id(exp_id),
            request_time=self.t0 // 1_000_000,
            execution_duration=(self.t1 - self.t0) // 1_000_000,
            state=TraceState.OK if self.ok else TraceState.ERROR,
            request_preview=request[:1000],
            response_preview=response[:1000],
            trace_metadata={
                TRACE_SCHEMA_VERSION_KEY: "3",
                TraceMetadataKey.SOURCE_RUN: self.run_id,
                TraceMetadataKey.INPUTS: request[:1000],
                TraceMetadataKey.OUTPUTS: response[:1000],
            },
            tags={TraceTagKey.TRACE_NAME: "answer", **self.tags},
        )
        return info, spans, assessments_for(self.row, self.metrics, self.judge)
