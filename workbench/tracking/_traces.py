"""One MLflow trace per (variant, sample): retrieval and generation spans drawn from the
recorded timings, linked to the variant's run, with every score as an assessment.

Traces are built as finished entities and written to the tracking store directly. On a
SQL store a chunk of traces goes in with one multi-row INSERT per table, in one
transaction (``_bulk``; ~14x faster than a ``start_trace`` per trace, see
docs/benchmarks.md). Elsewhere (an MLflow server) one ``start_trace`` per trace carries
its tags and assessments, then one ``log_spans`` call writes the chunk's spans.
Trace ids are derived from (run, sample), so rewriting a trace after a crash merges
instead of duplicating; a trace counts as complete once it has both its sample tag and
its spans (the store's spans-location tag). If the store lacks these calls, the standard
client API is used instead.
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from workbench.runner import Plan, SampleRecord, Variant
    from workbench.runner._progress import ProgressSink
    from workbench.scoring import MetricInfo

TAG_SAMPLE = "workbench.sample_id"
TAG_VARIANT = "workbench.variant_id"
TAG_SPANS = "mlflow.trace.spansLocation"
"""Set by the store once a trace's spans are written (the bulk path writes it too)."""
SOURCE_ID = "workbench"
CHUNK = 1000
"""Traces per transaction on a SQL store."""
REST_CHUNK = 250
"""Traces per batch over REST (an MLflow server): one ``log_spans`` request carries its spans."""
_TEXT_LIMIT = 4000


def existing_samples(mlflow_client: Any, exp_id: str, run_id: str) -> dict[str, str]:
    """sample id -> trace id of the complete traces already in this run (resume skips them)."""
    return scan_run(mlflow_client, exp_id, run_id)[0]


def scan_run(mlflow_client: Any, exp_id: str, run_id: str) -> tuple[dict[str, str], list[str]]:
    """The run's complete traces (sample id -> trace id), and the ids of traces a crash left
    without their spans (to delete before they are written again)."""
    found: dict[str, str] = {}
    partial: list[str] = []
    token = None
    while True:
        page = mlflow_client.search_traces(
            locations=[exp_id],
            run_id=run_id,
            include_spans=False,
            max_results=500,
            page_token=token,
        )
        for trace in page:
            tags = trace.info.tags
            if sample := tags.get(TAG_SAMPLE):
                if tags.get(TAG_SPANS):
                    found[sample] = trace.info.trace_id
                else:
                    partial.append(trace.info.trace_id)
        token = page.token
        if not token:
            return found, partial


def _cut(text: str) -> str:
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


class Score(NamedTuple):
    """One assessment of an answer, as plain data (``feedback_for`` makes MLflow's entity)."""

    name: str
    value: float | bool | None
    unscored: str | None
    """Why the score could not be computed (then ``value`` is None)."""
    rationale: str | None
    source_type: str
    source_id: str


def scores_for(
    row: Mapping[str, Any], metrics: Mapping[str, MetricInfo], judge: str | None
) -> list[Score]:
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
                out.append(Score(name, None, str(unscored[name])[:1000], None, *source))
            continue
        out.append(Score(name, float(value), None, None, *source))
    findings = list(row.get("findings") or [])
    passed = bool(row.get("passed") == 1.0)
    out.append(Score("passed", passed, None, "; ".join(findings) or None, "CODE", SOURCE_ID))
    return out


def feedback_for(
    trace_id: str, row: Mapping[str, Any], metrics: Mapping[str, MetricInfo], judge: str | None
) -> list[Any]:
    """MLflow Feedback entities of :func:`scores_for`."""
    from mlflow.entities import AssessmentError, AssessmentSource, Feedback

    return [
        Feedback(
            name=score.name,
            value=score.value,
            error=AssessmentError(error_code="UNSCORED", error_message=score.unscored)
            if score.unscored is not None
            else None,
            rationale=score.rationale,
            source=AssessmentSource(source_type=score.source_type, source_id=score.source_id),
            trace_id=trace_id,
        )
        for score in scores_for(row, metrics, judge)
    ]


# --------------------------------------------------------------------------- one trace


class SpanDraft:
    """One finished span as plain data. ``to_span`` makes MLflow's entity of it;
    ``stored_dict`` what MLflow's store keeps of that entity, without making it (the bulk
    writer checks the two agree on the first span of each kind, see ``_bulk``)."""

    __slots__ = (
        "end_time_ns",
        "extra",
        "inputs",
        "name",
        "ok",
        "otel_parent_id",
        "otel_span_id",
        "otel_trace_id",
        "outputs",
        "span_type",
        "start_time_ns",
        "trace_id",
    )  # fmt: skip

    def __init__(
        self,
        trace_id: str,
        otel_trace_id: int,
        otel_span_id: int,
        otel_parent_id: int | None,
        name: str,
        span_type: str,
        start_time_ns: int,
        end_time_ns: int,
        ok: bool,
        inputs: Any,
        outputs: Any,
        extra: Mapping[str, Any],
    ):
        self.trace_id, self.otel_trace_id = trace_id, otel_trace_id
        self.otel_span_id, self.otel_parent_id = otel_span_id, otel_parent_id
        self.name, self.span_type, self.ok = name, span_type, ok
        self.start_time_ns, self.end_time_ns = start_time_ns, end_time_ns
        self.inputs, self.outputs, self.extra = inputs, outputs, extra

    @property
    def span_id(self) -> str:
        return f"{self.otel_span_id:016x}"

    @property
    def parent_id(self) -> str | None:
        return None if self.otel_parent_id is None else f"{self.otel_parent_id:016x}"

    @property
    def status_code(self) -> str:
        return "OK" if self.ok else "ERROR"

    def values(self) -> dict[str, Any]:
        """The span's attributes before encoding (each is stored JSON-encoded)."""
        from mlflow.tracing.constant import SpanAttributeKey

        return {
            SpanAttributeKey.REQUEST_ID: self.trace_id,
            SpanAttributeKey.SPAN_TYPE: self.span_type,
            SpanAttributeKey.INPUTS: self.inputs,
            SpanAttributeKey.OUTPUTS: self.outputs,
            **self.extra,
        }

    def to_span(self) -> Any:
        from mlflow.entities import Span
        from mlflow.tracing.utils import build_otel_context
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import Status, StatusCode

        trace = self.otel_trace_id
        return Span(
            ReadableSpan(
                name=self.name,
                context=build_otel_context(trace, self.otel_span_id),
                parent=build_otel_context(trace, self.otel_parent_id)
                if self.otel_parent_id
                else None,
                start_time=self.start_time_ns,
                end_time=self.end_time_ns,
                attributes={k: json.dumps(v, default=str) for k, v in self.values().items()},
                status=Status(StatusCode.OK if self.ok else StatusCode.ERROR),
                resource=Resource.get_empty(),
            )
        )

    def stored_dict(self) -> dict[str, Any]:
        """``Span.to_dict()`` with MLflow's de-duplication of twice-encoded attributes: a
        value is kept decoded when it is a string that itself parses as a JSON string,
        object or array (``sanitize_attributes``), else JSON-encoded."""
        attributes = {}
        for key, value in self.values().items():
            if isinstance(value, str) and value.lstrip()[:1] in ('"', "{", "["):
                try:
                    if isinstance(json.loads(value), (str, dict, list)):
                        attributes[key] = value
                        continue
                except ValueError:
                    pass
            attributes[key] = json.dumps(value, default=str)
        parent = self.otel_parent_id
        return {
            "trace_id": _b64(self.otel_trace_id, 16),
            "span_id": _b64(self.otel_span_id, 8),
            "parent_span_id": _b64(parent, 8) if parent else None,
            "name": self.name,
            "start_time_unix_nano": self.start_time_ns,
            "end_time_unix_nano": self.end_time_ns,
            "events": [],
            "status": {"code": "STATUS_CODE_OK" if self.ok else "STATUS_CODE_ERROR", "message": ""},
            "attributes": attributes,
            "links": [],
        }


def _b64(number: int, size: int) -> str:
    return base64.b64encode(number.to_bytes(size, "big")).decode()


class TraceDraft:
    """A finished trace as plain data: timings, inputs/outputs, tags, scores."""

    def __init__(
        self,
        *,
        run_id: str,
        variant: Variant,
        sample: Any,
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
        self.reference = sample.reference
        self.run_id = run_id
        self.row = row
        self.metrics = metrics
        self.judge = judge

    @property
    def trace_id(self) -> str:
        from mlflow.tracing.utils import encode_trace_id

        return "tr-" + encode_trace_id(self.otel_trace_id)

    # -- fast path: entities written straight to the store
    def entities(self, exp_id: str) -> tuple[Any, list[Any]]:
        """MLflow's TraceInfo and Span entities (what ``start_trace`` + ``log_spans`` take)."""
        info, spans, _ = self.bulk_entities(exp_id)
        info.assessments = feedback_for(info.trace_id, self.row, self.metrics, self.judge)
        return info, [s.to_span() for s in spans]

    def bulk_entities(self, exp_id: str) -> tuple[Any, list[SpanDraft], list[Score]]:
        """The TraceInfo (without assessments), and its spans and scores as plain data
        (``_bulk`` makes their rows)."""
        from mlflow.entities import TraceInfo, TraceLocation, TraceState
        from mlflow.tracing.constant import TRACE_SCHEMA_VERSION_KEY, TraceMetadataKey, TraceTagKey

        trace_id = self.trace_id
        root, retr, gen = self.span_ids
        common = (trace_id, self.otel_trace_id)
        spans = [
            SpanDraft(
                *common, root, None, "answer", "CHAIN", self.t0, self.t1, True,
                self.inputs, self.outputs, {"workbench.reference": _cut(self.reference)},
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
        return info, spans, scores_for(self.row, self.metrics, self.judge)

    # -- standard path: the public client API (slower; used when the store lacks the calls)
    def write_with_client(self, mlflow_client: Any, exp_id: str) -> str:
        import mlflow

        root = mlflow_client.start_trace(
            name="answer", span_type="CHAIN", inputs=self.inputs, tags=self.tags,
            attributes={"workbench.reference": _cut(self.reference)}, experiment_id=exp_id,
            start_time_ns=self.t0, run_id=self.run_id,
        )  # fmt: skip
        trace_id = root.trace_id
        span = mlflow_client.start_span(
            "retrieval",
            trace_id=trace_id,
            parent_id=root.span_id,
            span_type="RETRIEVER",
            inputs=self.retrieval_inputs,
            start_time_ns=self.t0,
        )
        mlflow_client.end_span(trace_id, span.span_id, outputs=self.documents, end_time_ns=self.r1)
        span = mlflow_client.start_span(
            "generation",
            trace_id=trace_id,
            parent_id=root.span_id,
            span_type=self.gen_type,
            inputs=self.gen_inputs,
            attributes=self.gen_attributes,
            start_time_ns=self.r1,
        )
        status = "OK" if self.ok else "ERROR"
        mlflow_client.end_span(
            trace_id, span.span_id, outputs=self.gen_outputs, status=status, end_time_ns=self.t1
        )
        mlflow_client.end_trace(trace_id, outputs=self.outputs, status=status, end_time_ns=self.t1)
        mlflow.flush_trace_async_logging()
        for item in feedback_for(trace_id, self.row, self.metrics, self.judge):
            mlflow.log_assessment(trace_id, item)
        return str(trace_id)


def write_drafts(mlflow_client: Any, exp_id: str, drafts: Sequence[TraceDraft]) -> dict[str, str]:
    """Write finished traces; returns sample id -> trace id.

    A SQL store takes the chunk in one transaction (``_bulk``). Otherwise the trace infos
    (tags, assessments) go first and the spans after them: a trace is complete once the
    store has tagged its spans' location, which ``existing_samples`` checks. A store with
    neither takes MLflow's public client calls."""
    done = _write_to_store(mlflow_client, exp_id, drafts)
    return done if done is not None else _write_public(mlflow_client, exp_id, drafts)


def _write_to_store(
    mlflow_client: Any, exp_id: str, drafts: Sequence[TraceDraft]
) -> dict[str, str] | None:
    """The store's own calls, with the drafts' trace ids; None where the store lacks them."""
    from workbench.tracking import _bulk

    done = {d.tags[TAG_SAMPLE]: d.trace_id for d in drafts}
    store = getattr(getattr(mlflow_client, "_tracking_client", None), "store", None)
    if store is not None and _bulk.supported(store):
        from mlflow.exceptions import MlflowException

        fallback: tuple[type[BaseException], ...] = (*_bulk.BULK_ERRORS, MlflowException)
        try:
            _bulk.write_traces(store, exp_id, [d.bulk_entities(exp_id) for d in drafts])
            return done
        except fallback as exc:  # a trace of the chunk exists already (resume), or internals moved
            logging.getLogger(__name__).info(
                "bulk trace write fell back to the store's calls: %s: %s",
                type(exc).__name__,
                str(exc).splitlines()[0][:200] if str(exc) else "",
            )
    if store is not None and hasattr(store, "log_spans") and hasattr(store, "start_trace"):
        started = False
        try:
            built = [d.entities(exp_id) for d in drafts]
            _start_traces(store, [info for info, _ in built])
            started = True
            _log_spans(store, mlflow_client, exp_id, [s for _, spans in built for s in spans])
            return done
        except (AttributeError, TypeError, NotImplementedError):
            # Internals moved, or a server older than MLflow 3.4 (no log_spans): take the
            # public road, without leaving the span-less trace infos just written behind.
            if started:
                ids = [d.trace_id for d in drafts]
                for start in range(0, len(ids), 100):
                    mlflow_client.delete_traces(exp_id, trace_ids=ids[start : start + 100])
    return None


def _write_public(mlflow_client: Any, exp_id: str, drafts: Sequence[TraceDraft]) -> dict[str, str]:
    """MLflow's public client calls (the client picks the trace ids)."""
    _retarget_tracer(mlflow_client.tracking_uri)
    return {d.tags[TAG_SAMPLE]: d.write_with_client(mlflow_client, exp_id) for d in drafts}


def _write_chunk(
    mlflow_client: Any, exp_id: str, run_id: str, drafts: Sequence[TraceDraft]
) -> dict[str, str]:
    """``write_drafts``, again once the store answers when a server broke the connection
    mid-answer (killed while responding: requests raises that outside MLflow's HTTP
    retries). The traces the chunk completed are kept, its half-written ones deleted, the
    rest written again; a store still down raises from MLflow's own retries. Only the
    store's own calls are retried: their trace ids are the drafts', so what a cut left
    behind is found; the public calls' are not."""
    from mlflow.exceptions import MlflowException

    kept: dict[str, str] = {}
    tries = 3
    while True:
        try:
            done = _write_to_store(mlflow_client, exp_id, drafts)
        except MlflowException as exc:
            tries -= 1
            if not tries or not _broken_connection(exc):
                raise
        else:
            if done is None:
                done = _write_public(mlflow_client, exp_id, drafts)
            return {**kept, **done}
        mlflow_client.get_experiment(exp_id)  # waits per MLFLOW_HTTP_REQUEST_*
        complete, partial = scan_run(mlflow_client, exp_id, run_id)
        ours = {d.trace_id for d in drafts}
        stale = [t for t in partial if t in ours]
        for start in range(0, len(stale), 100):
            mlflow_client.delete_traces(exp_id, trace_ids=stale[start : start + 100])
        kept.update({d.tags[TAG_SAMPLE]: complete[d.tags[TAG_SAMPLE]] for d in drafts
                     if d.tags[TAG_SAMPLE] in complete})  # fmt: skip
        drafts = [d for d in drafts if d.tags[TAG_SAMPLE] not in complete]


def _broken_connection(exc: BaseException) -> bool:
    """MLflow reports a dropped or cut-off HTTP connection as a plain MlflowException; the
    requests error it caught is its context."""
    import requests

    seen: BaseException | None = exc
    for _ in range(5):
        seen = seen.__cause__ or seen.__context__ if seen is not None else None
        if isinstance(
            seen, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError
        ):
            return True
    return False


def _log_spans(store: Any, mlflow_client: Any, exp_id: str, spans: list[Any]) -> None:
    """``store.log_spans``, robust to an outage at the wrong moment: over REST, MLflow asks
    the server's version once, without retries, and caches a failure for the process, so a
    blip there reads as "server older than 3.4" (NotImplementedError) from then on. Wait
    for the store with the client's retries, forget the failed answer and ask again; a
    server that really is old raises again and takes the public road."""
    try:
        store.log_spans(exp_id, spans)
        return
    except NotImplementedError:
        probe: Any = getattr(store, "_get_server_version", None)
        forget = getattr(probe, "cache_clear", None)
        if forget is None or probe(store.get_host_creds()) is not None:
            raise  # the server answered: it is older than 3.4
    mlflow_client.get_experiment(exp_id)  # retried per MLFLOW_HTTP_REQUEST_*; raises if down
    forget()
    store.log_spans(exp_id, spans)


def _retarget_tracer(uri: str) -> None:
    """MLflow's span exporter keeps the store it saw when the process first traced: in a
    long-lived process (notebook, app, test session) that wrote elsewhere before, the public
    path would send these traces to that other store. Point the process at ``uri`` and
    rebuild the tracer."""
    import mlflow

    from workbench.tracking._store import set_process_uri

    set_process_uri(uri)
    mlflow.tracing.reset()


def _start_traces(store: Any, infos: Sequence[Any]) -> None:
    """One ``start_trace`` per trace. Over REST (an MLflow server) each is a request that
    mostly waits, so several go at once (``WORKBENCH_TRACE_WRITERS``, default 8)."""
    from workbench.tracking import _bulk

    try:
        writers = int(os.environ.get("WORKBENCH_TRACE_WRITERS") or 8)
    except ValueError:
        writers = 8  # a bad value must not fail the logging of a finished grid
    if _bulk.supported(store) or writers <= 1 or len(infos) < 2:  # a local database: in turn
        for info in infos:
            store.start_trace(info)
        return
    with cf.ThreadPoolExecutor(max_workers=writers, thread_name_prefix="wb-trace") as pool:
        for future in [pool.submit(store.start_trace, info) for info in infos]:
            future.result()  # the first failure is raised here


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
    new_run: bool = False,
) -> dict[str, str]:
    """Write the missing traces of one variant's run; returns sample id -> trace id (all).
    A run created by this logging (``new_run``) has none yet: the store is not searched."""
    done: dict[str, str] = {}
    partial: list[str] = []
    if not new_run:
        done, partial = scan_run(mlflow_client, exp_id, run_id)
    for start in range(0, len(partial), 100):  # rewritten whole below, never merged twice
        mlflow_client.delete_traces(exp_id, trace_ids=partial[start : start + 100])
    samples = {s.id: s for s in plan.golden.samples}
    judge = None
    if plan.spec.judge is not None:
        model = plan.spec.judge.model
        judge = model if isinstance(model, str) else model.label
    todo = [r for r in records if r.sample_id not in done]
    if progress is not None and len(records) > len(todo):
        progress.advance(len(records) - len(todo), cached=True)
    from workbench.tracking import _bulk

    store = getattr(getattr(mlflow_client, "_tracking_client", None), "store", None)
    size = CHUNK if store is not None and _bulk.supported(store) else REST_CHUNK
    for start in range(0, len(todo), size):
        chunk = todo[start : start + size]
        drafts = [
            TraceDraft(
                run_id=run_id,
                variant=variant,
                sample=samples[r.sample_id],
                record=r,
                row=scores.get((variant.variant_id, r.sample_id), {}),
                metrics=metrics,
                judge=judge,
            )
            for r in chunk
        ]
        done.update(_write_chunk(mlflow_client, exp_id, run_id, drafts))
        if progress is not None:
            progress.advance(len(chunk))
    return done
