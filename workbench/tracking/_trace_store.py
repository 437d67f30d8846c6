"""The trace writer through the store's own calls: one ``start_trace`` per trace (its
tags and assessments), then one ``log_spans`` for the chunk's spans.

The trace ids are the drafts', so what a cut connection left behind is found again
(``_traces`` retries this writer). A trace counts as complete once the store has tagged
its spans' location, which happens with ``log_spans``: infos first, spans after them.
Works on a SQL store and over REST (an MLflow server since 3.4).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.tracking._store import is_sql_store
from workbench.tracking._trace_draft import TraceDraft

if TYPE_CHECKING:
    from mlflow.entities import Span, TraceInfo

DELETE_BATCH = 100
"""Trace ids per ``delete_traces`` call."""


def has_trace_calls(store: Any) -> bool:
    return hasattr(store, "start_trace") and hasattr(store, "log_spans")


def write_with_store(
    store: Any, mlflow_client: Any, exp_id: str, drafts: Sequence[TraceDraft]
) -> bool:
    """Write ``drafts`` with the store's calls; False (and nothing left behind) where the
    store turns out to lack them: internals moved, or a server older than MLflow 3.4."""
    started = False
    try:
        built = [d.entities(exp_id) for d in drafts]
        _start_traces(store, [info for info, _ in built])
        started = True
        _log_spans(store, mlflow_client, exp_id, [s for _, spans in built for s in spans])
        return True
    except (AttributeError, TypeError, NotImplementedError):
        if started:  # the span-less trace infos just written would read as half-written
            delete_traces(mlflow_client, exp_id, [d.trace_id for d in drafts])
        return False


def delete_traces(mlflow_client: Any, exp_id: str, trace_ids: Sequence[str]) -> None:
    for start in range(0, len(trace_ids), DELETE_BATCH):
        mlflow_client.delete_traces(exp_id, trace_ids=list(trace_ids[start : start + DELETE_BATCH]))


def _start_traces(store: Any, infos: Sequence[TraceInfo]) -> None:
    """One ``start_trace`` per trace. Over REST (an MLflow server) each is a request that
    mostly waits, so several go at once (``WORKBENCH_TRACE_WRITERS``, default 8)."""
    try:
        writers = int(os.environ.get("WORKBENCH_TRACE_WRITERS") or 8)
    except ValueError:
        writers = 8  # a bad value must not fail the logging of a finished grid
    if is_sql_store(store) or writers <= 1 or len(infos) < 2:  # a local database: in turn
        for info in infos:
            store.start_trace(info)
        return
    with cf.ThreadPoolExecutor(max_workers=writers, thread_name_prefix="wb-trace") as pool:
        for future in [pool.submit(store.start_trace, info) for info in infos]:
            future.result()  # the first failure is raised here


def _log_spans(store: Any, mlflow_client: Any, exp_id: str, spans: list[Span]) -> None:
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
