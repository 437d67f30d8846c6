"""The traces of one variant's run: which are missing, in chunks, through which writer,
tried again how often.

A chunk of finished traces (drafted in ``_trace_draft``) goes to exactly one of three
writers, chosen in :func:`write_drafts` and nowhere else:

1. ``_bulk``: one SQL transaction per chunk (~14x faster, see docs/benchmarks.md), only
   on a SQL store whose schema it verified (:func:`workbench.tracking._bulk.verified`);
   any error there falls through to 2;
2. ``_trace_store``: the store's own ``start_trace`` + ``log_spans`` (a SQL store, or an
   MLflow server over REST);
3. ``_trace_public``: MLflow's public client calls, where the store lacks those.

Writers 1 and 2 use the drafts' trace ids, so a chunk that a cut connection interrupted
is found again: it is tried again (:func:`_write_chunk`, at most :data:`CHUNK_TRIES`
tries), keeping its complete traces and rewriting its half-written ones.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.tracking import _bulk
from workbench.tracking._store import is_sql_store, store_of
from workbench.tracking._trace_draft import TAG_SAMPLE, TAG_SPANS, TraceDraft
from workbench.tracking._trace_public import write_public
from workbench.tracking._trace_store import delete_traces, has_trace_calls, write_with_store

if TYPE_CHECKING:
    from workbench.records import MetricInfo, Plan, ProgressSink, SampleRecord, Variant

CHUNK = 1000
"""Traces per transaction on a SQL store."""
REST_CHUNK = 250
"""Traces per batch over REST (an MLflow server): one ``log_spans`` request carries its spans."""
CHUNK_TRIES = 3
"""Tries of a chunk whose connection to the store was cut (the first included)."""


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
    delete_traces(mlflow_client, exp_id, partial)  # rewritten whole below, never merged twice
    samples = {s.id: s for s in plan.golden.samples}
    judge = None
    if plan.spec.judge is not None:
        model = plan.spec.judge.model
        judge = model if isinstance(model, str) else model.label
    todo = [r for r in records if r.sample_id not in done]
    if progress is not None and len(records) > len(todo):
        progress.advance(len(records) - len(todo), cached=True)
    size = CHUNK if is_sql_store(store_of(mlflow_client)) else REST_CHUNK
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


# --------------------------------------------------------------------------- the choice


def write_drafts(mlflow_client: Any, exp_id: str, drafts: Sequence[TraceDraft]) -> dict[str, str]:
    """Write finished traces, once; returns sample id -> trace id. The bulk path where
    the store is verified for it, else the store's own calls, else the public client API."""
    done = _write_to_store(mlflow_client, exp_id, drafts)
    return done if done is not None else write_public(mlflow_client, exp_id, drafts)


def _write_to_store(
    mlflow_client: Any, exp_id: str, drafts: Sequence[TraceDraft]
) -> dict[str, str] | None:
    """Writers 1 and 2 (the drafts' trace ids); None where the store has neither."""
    store = store_of(mlflow_client)
    if store is None:
        return None
    done = {d.sample_id: d.trace_id for d in drafts}
    if _bulk.verified(store) and _bulk_wrote(store, exp_id, drafts):
        return done
    if has_trace_calls(store) and write_with_store(store, mlflow_client, exp_id, drafts):
        return done
    return None


def _bulk_wrote(store: Any, exp_id: str, drafts: Sequence[TraceDraft]) -> bool:
    """The bulk path; False (nothing written: a chunk is one transaction) when a trace of
    the chunk exists already (a resume) or MLflow's internals moved."""
    from mlflow.exceptions import MlflowException

    fallback: tuple[type[BaseException], ...] = (*_bulk.BULK_ERRORS, MlflowException)
    try:
        _bulk.write_traces(store, exp_id, [d.bulk_entities(exp_id) for d in drafts])
        return True
    except fallback as exc:
        logging.getLogger(__name__).info(
            "bulk trace write fell back to the store's calls: %s: %s",
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "",
        )
        return False


# --------------------------------------------------------------------------- the retry


def _write_chunk(
    mlflow_client: Any, exp_id: str, run_id: str, drafts: Sequence[TraceDraft]
) -> dict[str, str]:
    """:func:`write_drafts`, tried again (at most :data:`CHUNK_TRIES` tries in all) when a
    server broke the connection mid-answer (killed while responding: requests raises that
    outside MLflow's HTTP retries). Before each new try the store is waited for, the
    traces the chunk completed are kept, its half-written ones deleted, and only the rest
    written again; a store still down raises from MLflow's own retries. Only writers 1
    and 2 are tried again: the public calls pick their own trace ids, so what a cut left
    behind there cannot be found (a rerun resumes it)."""
    import tenacity

    kept: dict[str, str] = {}
    todo = list(drafts)
    done: dict[str, str] | None = None
    for attempt in tenacity.Retrying(
        stop=tenacity.stop_after_attempt(CHUNK_TRIES),
        retry=tenacity.retry_if_exception(_broken_connection),
        reraise=True,
    ):
        if attempt.retry_state.attempt_number > 1:
            todo = _after_cut(mlflow_client, exp_id, run_id, todo, kept)
        with attempt:
            done = _write_to_store(mlflow_client, exp_id, todo)
    if done is None:
        done = write_public(mlflow_client, exp_id, todo)
    return {**kept, **done}


def _after_cut(
    mlflow_client: Any, exp_id: str, run_id: str, todo: list[TraceDraft], kept: dict[str, str]
) -> list[TraceDraft]:
    """Once the store answers again: keep (in ``kept``) what the cut chunk completed,
    delete its half-written traces; the drafts still to write."""
    mlflow_client.get_experiment(exp_id)  # waits per MLFLOW_HTTP_REQUEST_*
    complete, partial = scan_run(mlflow_client, exp_id, run_id)
    ours = {d.trace_id for d in todo}
    delete_traces(mlflow_client, exp_id, [t for t in partial if t in ours])
    kept.update({d.sample_id: complete[d.sample_id] for d in todo if d.sample_id in complete})
    return [d for d in todo if d.sample_id not in complete]


def _broken_connection(exc: BaseException) -> bool:
    """MLflow reports a dropped or cut-off HTTP connection as a plain MlflowException; the
    requests error it caught is its context."""
    import requests
    from mlflow.exceptions import MlflowException

    if not isinstance(exc, MlflowException):
        return False
    seen: BaseException | None = exc
    for _ in range(5):
        seen = seen.__cause__ or seen.__context__ if seen is not None else None
        if isinstance(
            seen, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError
        ):
            return True
    return False
