"""The trace writer of last resort: MLflow's public client API, one call per span.

Slower than the store's own calls (``_trace_store``) and the client picks the trace ids,
so what a cut connection leaves behind cannot be told apart and this writer is never
retried (a rerun resumes it). Taken where the store has neither ``start_trace`` nor
``log_spans`` (an MLflow server older than 3.4, or internals that moved).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.tracking._store import set_process_uri
from workbench.tracking._trace_draft import TraceDraft


def write_public(mlflow_client: Any, exp_id: str, drafts: Sequence[TraceDraft]) -> dict[str, str]:
    """Write ``drafts`` through the public client calls; sample id -> trace id."""
    retarget_tracer(mlflow_client.tracking_uri)
    return {d.sample_id: write_one(mlflow_client, exp_id, d) for d in drafts}


def write_one(mlflow_client: Any, exp_id: str, draft: TraceDraft) -> str:
    """One trace: root, retrieval and generation spans, then its assessments."""
    import mlflow

    root = mlflow_client.start_trace(
        name="answer", span_type="CHAIN", inputs=draft.inputs, tags=draft.tags,
        attributes={"workbench.reference": draft.reference}, experiment_id=exp_id,
        start_time_ns=draft.t0, run_id=draft.run_id,
    )  # fmt: skip
    trace_id = root.trace_id
    span = mlflow_client.start_span(
        "retrieval",
        trace_id=trace_id,
        parent_id=root.span_id,
        span_type="RETRIEVER",
        inputs=draft.retrieval_inputs,
        start_time_ns=draft.t0,
    )
    mlflow_client.end_span(trace_id, span.span_id, outputs=draft.documents, end_time_ns=draft.r1)
    span = mlflow_client.start_span(
        "generation",
        trace_id=trace_id,
        parent_id=root.span_id,
        span_type=draft.gen_type,
        inputs=draft.gen_inputs,
        attributes=draft.gen_attributes,
        start_time_ns=draft.r1,
    )
    status = "OK" if draft.ok else "ERROR"
    mlflow_client.end_span(
        trace_id, span.span_id, outputs=draft.gen_outputs, status=status, end_time_ns=draft.t1
    )
    mlflow_client.end_trace(trace_id, outputs=draft.outputs, status=status, end_time_ns=draft.t1)
    mlflow.flush_trace_async_logging()
    for item in draft.feedback(trace_id):
        mlflow.log_assessment(trace_id, item)
    return str(trace_id)


def retarget_tracer(uri: str) -> None:
    """MLflow's span exporter keeps the store it saw when the process first traced: in a
    long-lived process (notebook, app, test session) that wrote elsewhere before, the public
    path would send these traces to that other store. Point the process at ``uri`` and
    rebuild the tracer."""
    import mlflow

    set_process_uri(uri)
    mlflow.tracing.reset()
