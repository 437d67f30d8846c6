"""The fast path for traces: many finished traces written to a SQL tracking store with
one transaction per chunk, behind MLflow's own calls and used only where verified.

MLflow's store writes one trace per transaction through its ORM (``start_trace``:
~20 ms a trace with its tags and assessments, measured) and then the spans
(``log_spans``). A grid logs thousands of traces, so this module inserts the same rows
MLflow would write, for a whole chunk, with one multi-row INSERT per table:
trace_info, trace_tags, trace_request_metadata, assessments, spans (see
docs/benchmarks.md, "Logging and reading", for the before/after figures).

Used only where :func:`verified` says so, which ``_traces.write_drafts`` asks before
anything else: a SQL store whose schema is the one this writer was checked against (the
tables' columns and the MLflow helpers it calls, verified once per process at first use),
else MLflow's own calls are taken. Within a verified store, each span shape is checked
once more against MLflow's own translation (``stored_span_dict``).

The trace rows are built with MLflow's own helpers and ORM classes; spans and
assessments from plain data. They match what ``store.start_trace`` + ``store.log_spans``
produce (tests/scale/test_bulk_traces.py compares the two row by row). A chunk is
atomic: a trace is either stored whole or not at all, which is what resume relies on.
Any error from MLflow internals that moved (:data:`BULK_ERRORS`) or from a trace that
already exists (``IntegrityError``, which the session raises as an ``MlflowException``)
makes the caller fall back to the store's own calls.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.tracking._store import is_sql_store

if TYPE_CHECKING:
    from mlflow.entities import TraceInfo

    from workbench.tracking._span_draft import SpanDraft
    from workbench.tracking._trace_draft import AssessmentDraft

BULK_ERRORS: tuple[type[BaseException], ...] = (ImportError, AttributeError, TypeError, KeyError)

VERIFIED_COLUMNS: dict[str, frozenset[str]] = {
    "trace_info": frozenset(
        {
            "cache_creation_input_tokens", "cache_creation_input_tokens_above_1hr",
            "cache_read_input_tokens", "client_request_id", "db_payload_generation",
            "execution_time_ms", "experiment_id", "input_cost", "input_tokens",
            "output_cost", "output_tokens", "request_id", "request_preview",
            "response_preview", "session_id", "status", "timestamp_ms", "total_cost",
            "total_tokens", "trace_name",
        }
    ),
    "trace_tags": frozenset({"key", "request_id", "value"}),
    "trace_request_metadata": frozenset({"key", "request_id", "value"}),
    "assessments": frozenset(
        {
            "aggregate_value", "assessment_id", "assessment_metadata", "assessment_type",
            "created_timestamp", "error", "experiment_id", "is_numeric_value",
            "last_updated_timestamp", "name", "overrides", "rationale", "run_id",
            "source_id", "source_type", "span_id", "trace_id", "trace_timestamp_ms",
            "valid", "value",
        }
    ),
    "spans": frozenset(
        {
            "content", "duration_ns", "end_time_unix_nano", "experiment_id", "input_cost",
            "model_name", "model_provider", "name", "output_cost", "parent_span_id",
            "span_id", "start_time_unix_nano", "status", "total_cost", "trace_id", "type",
        }
    ),
}  # fmt: skip
"""Every column of the tables this writer fills, as in MLflow 3.17, where the equivalence
tests (tests/scale/test_bulk_traces.py) compare its rows with MLflow's own. A column
MLflow adds or drops is one whose value this writer would not know: then MLflow's calls."""

_STORE_HELPERS = (
    "PROMOTED_TRACE_METADATA_KEYS", "MSSQL", "RollupFamily", "SpanAttributeKey",
    "SpansLocation", "TraceJSONEncoder", "_try_parse_json_string",
    "analytics_columns_from_metadata", "bounded_model_dimension",
    "enqueue_rollup_rebuild_partitions", "finite_float_or_none", "validate_trace_name",
)  # fmt: skip
"""What this writer calls in ``mlflow.store.tracking.sqlalchemy_store``."""
_STORE_METHODS = (
    "ManagedSessionMaker", "_check_experiment_is_active", "_get_trace_artifact_location_tag",
)  # fmt: skip


def verified(store: Any) -> bool:
    """Whether this writer may write to ``store``: a SQL store of the schema it was
    verified against (:func:`schema_problem`). Otherwise MLflow's own calls write."""
    if not is_sql_store(store) or not all(hasattr(store, m) for m in _STORE_METHODS):
        return False
    return schema_problem() is None


@functools.cache
def schema_problem() -> str | None:
    """Why MLflow's SQL schema or helpers are not those this writer was verified against
    (None: they are). Checked once per process; a problem is logged once."""
    problem = _find_schema_problem()
    if problem is not None:
        logging.getLogger(__name__).info("bulk trace writer off, MLflow's calls used: %s", problem)
    return problem


def _find_schema_problem() -> str | None:
    try:
        from mlflow.store.tracking import sqlalchemy_store as ss
        from mlflow.store.tracking.dbmodels import models
    except ImportError as exc:
        return f"MLflow's SQL store cannot be imported ({exc})"
    missing = [name for name in _STORE_HELPERS if not hasattr(ss, name)]
    missing += [name for name in ("assessment_aggregate",) if not hasattr(models, name)]
    if missing:
        return f"MLflow no longer has {', '.join(missing)}"
    for model in (
        models.SqlTraceInfo,
        models.SqlTraceTag,
        models.SqlTraceMetadata,
        models.SqlAssessments,
        models.SqlSpan,
    ):
        table = model.__table__
        columns = {column.name for column in table.columns}
        expected = VERIFIED_COLUMNS.get(table.name)
        if columns != expected:
            changed = sorted(columns ^ (expected or frozenset()))
            return f"table {table.name} changed columns: {', '.join(changed)}"
    return None


def _columns(obj: Any) -> dict[str, Any]:
    """An ORM object's mapped column values (what a flush would insert), None omitted."""
    from sqlalchemy import inspect

    out = {}
    for attr in inspect(type(obj)).column_attrs:
        value = getattr(obj, attr.key)
        if value is not None:
            out[attr.key] = value
    return out


_IDENTITY: dict[tuple[Any, ...], bool] = {}
"""Span shape -> whether the fast stored form equals MLflow's (checked once per process)."""


def stored_span_dict(span: SpanDraft) -> dict[str, Any]:
    """What MLflow's ``log_spans`` stores for a span (``translate_span_when_storing`` of its
    entity), at a fraction of the cost.

    The translation maps other frameworks' OpenTelemetry attributes (OpenInference, GenAI
    semantic conventions, ...) to MLflow's keys; the workbench's spans carry MLflow's keys
    already, and their shape (name, type, status, attribute keys, the structure of inputs
    and outputs) is fixed. So the first span of each shape in the process is made into
    MLflow's entity and translated by MLflow: when the result equals the span's own
    ``stored_dict``, the spans of that shape skip the entity and the translation (a third
    of the logging time of a big grid); otherwise every span of that shape goes MLflow's
    way. tests/scale/test_bulk_traces.py compares the two on every kind of span written."""
    from mlflow.tracing.otel.translation import translate_span_when_storing

    key = (
        span.name,
        span.span_type,
        span.ok,
        frozenset(span.extra),
        _structure(span.inputs),
        _structure(span.outputs),
    )
    same = _IDENTITY.get(key)
    if same is None:
        translated = translate_span_when_storing(span.to_span())
        # compared as the JSON text stored (key order included), not as dicts
        _IDENTITY[key] = json.dumps(translated, default=str) == json.dumps(
            span.stored_dict(), default=str
        )
        return translated
    return span.stored_dict() if same else translate_span_when_storing(span.to_span())


def _structure(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted(value))
    if isinstance(value, list):
        return ("list", bool(value))
    return type(value).__name__


def _span_row(store: Any, span: SpanDraft, experiment_id: int) -> dict[str, Any]:
    """The ``spans`` row ``log_spans`` writes for one span (no cost/usage attributes here)."""
    from mlflow.store.tracking import sqlalchemy_store as ss

    parse: Any = ss._try_parse_json_string  # (MLflow passes None through unchanged)
    span_dict = stored_span_dict(span)
    attributes = span_dict.get("attributes", {}) or {}
    cost: dict[str, Any] = {}
    if raw_cost := attributes.get(ss.SpanAttributeKey.LLM_COST):
        try:
            cost = json.loads(raw_cost)
        except (TypeError, ValueError):
            cost = {}
    return {
        "trace_id": span.trace_id,
        "experiment_id": experiment_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_id,
        "name": span.name,
        "type": span.span_type,
        "status": span.status_code,
        "start_time_unix_nano": span.start_time_ns,
        "end_time_unix_nano": span.end_time_ns,
        "content": json.dumps(
            span_dict, cls=ss.TraceJSONEncoder, ensure_ascii=store.db_type == ss.MSSQL
        ),
        "input_cost": ss.finite_float_or_none(cost.get("input_cost")),
        "output_cost": ss.finite_float_or_none(cost.get("output_cost")),
        "total_cost": ss.finite_float_or_none(cost.get("total_cost")),
        "model_name": ss.bounded_model_dimension(parse(attributes.get(ss.SpanAttributeKey.MODEL))),
        "model_provider": ss.bounded_model_dimension(
            parse(attributes.get(ss.SpanAttributeKey.MODEL_PROVIDER))
        ),
    }


def _assessment_row(
    score: AssessmentDraft, trace_id: str, experiment_id: int, trace_time_ms: int, now: int
) -> dict[str, Any]:
    """The ``assessments`` row ``SqlAssessments.from_mlflow_entity`` makes of the feedback
    entity of ``score`` (built as a dict: an entity and an ORM instance per assessment cost
    more than the INSERT; tests/scale/test_bulk_traces.py compares the rows)."""
    from mlflow.store.tracking.dbmodels import models
    from mlflow.tracing.utils import generate_assessment_id

    aggregate_value, is_numeric_value = models.assessment_aggregate(score.value)
    error = None
    if score.unscored is not None:
        from mlflow.entities import AssessmentError

        reason = AssessmentError(error_code="UNSCORED", error_message=score.unscored)
        error = json.dumps(reason.to_dictionary())
    row = {
        "assessment_id": generate_assessment_id(),
        "trace_id": trace_id,
        "name": score.name,
        "assessment_type": "feedback",
        "value": json.dumps(score.value),
        "error": error,
        "created_timestamp": now,
        "last_updated_timestamp": now,
        "source_type": score.source_type,
        "source_id": score.source_id,
        "rationale": score.rationale,
        "valid": True,
        "aggregate_value": aggregate_value,
        "is_numeric_value": is_numeric_value,
        "experiment_id": experiment_id,
        "trace_timestamp_ms": trace_time_ms,
    }
    return {k: v for k, v in row.items() if v is not None}


def write_traces(
    store: Any,
    exp_id: str,
    items: Sequence[tuple[TraceInfo, list[SpanDraft], list[AssessmentDraft]]],
) -> None:
    """Insert ``(TraceInfo, spans, scores)`` (new traces only) in one transaction."""
    from mlflow.store.tracking import sqlalchemy_store as ss
    from mlflow.store.tracking.dbmodels.models import (
        SqlAssessments,
        SqlSpan,
        SqlTraceInfo,
        SqlTraceMetadata,
        SqlTraceTag,
    )
    from mlflow.tracing.constant import TraceMetadataKey, TraceTagKey
    from mlflow.utils.time import get_current_time_millis

    if not items:
        return
    experiment = store.get_experiment(exp_id)  # (once per chunk: a chunk is 1,000 traces)
    store._check_experiment_is_active(experiment)
    exp_int = int(exp_id)
    infos: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    metadata: list[dict[str, Any]] = []
    assessments: list[dict[str, Any]] = []
    spans: list[dict[str, Any]] = []
    partitions = []
    now = get_current_time_millis()
    for info, trace_spans, scores in items:
        trace_id = info.trace_id
        request_metadata = dict(info.trace_metadata.items())
        row = SqlTraceInfo(
            request_id=trace_id,
            experiment_id=info.experiment_id,
            timestamp_ms=info.request_time,
            execution_time_ms=info.execution_duration,
            status=info.state.value,
            client_request_id=info.client_request_id,
            request_preview=info.request_preview,
            response_preview=info.response_preview,
            trace_name=ss.validate_trace_name(info.tags.get(TraceTagKey.TRACE_NAME)),
            **ss.analytics_columns_from_metadata(request_metadata),
        )
        values = _columns(row)
        values["db_payload_generation"] = 1  # as after start_trace + one log_spans
        if trace_spans:  # log_spans widens the trace's time range to its spans' (in ms)
            first = min(s.start_time_ns for s in trace_spans) // 1_000_000
            ends = [s.end_time_ns for s in trace_spans if s.end_time_ns is not None]
            start = min(info.request_time, first)
            end = info.request_time + (info.execution_duration or 0)
            if ends:
                end = max(end, max(ends) // 1_000_000)
            values["timestamp_ms"], values["execution_time_ms"] = start, end - start
        infos.append(values)
        trace_tags = {k: v for k, v in info.tags.items() if k != TraceTagKey.TRACE_NAME}
        location = store._get_trace_artifact_location_tag(experiment, trace_id)
        trace_tags[location.key] = location.value
        trace_tags[TraceTagKey.SPANS_LOCATION] = ss.SpansLocation.TRACKING_STORE.value
        tags += [{"request_id": trace_id, "key": k, "value": v} for k, v in trace_tags.items()]
        for key in ss.PROMOTED_TRACE_METADATA_KEYS:
            request_metadata.pop(key, None)
        request_metadata[TraceMetadataKey.TRACE_INFO_FINALIZED] = "true"
        metadata += [
            {"request_id": trace_id, "key": k, "value": v}
            for k, v in sorted(request_metadata.items())
        ]
        assessments += [
            _assessment_row(score, trace_id, exp_int, info.request_time, now) for score in scores
        ]
        spans += [_span_row(store, span, exp_int) for span in trace_spans]
        partitions += [
            (family, exp_int, [info.request_time])
            for family in (ss.RollupFamily.TRACE_METRIC, ss.RollupFamily.ASSESSMENT)
        ]
        partitions += [
            (ss.RollupFamily.SPAN_COST, exp_int, [int(s.start_time_ns) // 1_000_000])
            for s in trace_spans
        ]

    with store.ManagedSessionMaker(read_only=False) as session:
        ss.enqueue_rollup_rebuild_partitions(session, partitions)
        for model, rows in (
            (SqlTraceInfo, infos),
            (SqlTraceTag, tags),
            (SqlTraceMetadata, metadata),
            (SqlAssessments, assessments),
            (SqlSpan, spans),
        ):
            if rows:
                _insert_grouped(session, model.__table__.insert(), rows)


def _insert_grouped(session: Any, statement: Any, rows: list[dict[str, Any]]) -> None:
    """One executemany per distinct set of keys (optional columns left to their defaults).

    On sqlite the compiled INSERT goes to the driver's ``executemany`` with plain tuples:
    SQLAlchemy's per-row parameter processing cost as much as sqlite's own work (these
    columns are integers, floats, strings and booleans, which need no conversion).
    Elsewhere SQLAlchemy batches the rows itself (PostgreSQL: multi-row VALUES)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    connection = session.connection()
    raw = connection.dialect.name == "sqlite" and connection.dialect.paramstyle == "qmark"
    for keys, batch in groups.items():
        compiled = statement.compile(dialect=connection.dialect, column_keys=list(keys))
        order = compiled.positiontup if raw else None
        if order is None or not set(order) <= set(keys):  # defaults to fill: SQLAlchemy's way
            session.execute(statement, batch)
            continue
        connection.exec_driver_sql(compiled.string, [tuple(row[k] for k in order) for row in batch])
