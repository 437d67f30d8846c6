"""One finished span as plain data, and the two forms MLflow gets of it.

``to_span`` makes MLflow's ``Span`` entity (what ``log_spans`` takes); ``stored_dict``
is what MLflow's store keeps of that entity, made without it (the bulk writer uses it
once MLflow's own translation of the first span of the same shape agreed, see
:func:`workbench.tracking._bulk.stored_span_dict`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.entities import Span


class SpanDraft:
    """One finished span: ids, name, type, times, status, inputs, outputs, attributes."""

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

    def to_span(self) -> Span:
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
