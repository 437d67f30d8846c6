"""The bulk trace writer stores exactly what MLflow's own ``start_trace`` + ``log_spans``
store, row for row, and traces written either way read back the same through MLflow's
public API (get_trace, search_traces with tag and feedback filters, the run link)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

import workbench.testing as wt
from tests.conftest import first_passage_line, write_spec
from workbench.pipeline import prepare
from workbench.records import NullProgress
from workbench.runner import generate_all, retrieve_all, samples_frame
from workbench.scoring import score_run
from workbench.tracking import _bulk, ensure_store
from workbench.tracking._span_draft import SpanDraft
from workbench.tracking._store import client, experiment_id
from workbench.tracking._trace_draft import TraceDraft
from workbench.tracking._trace_public import retarget_tracer, write_one
from workbench.tracking._traces import existing_samples, log_traces, write_drafts

SPEC = """\
name: bulk
dataset: {path: datasets/acme_golden.jsonl, sample: 12}
corpus: {path: corpora/acme}
grid:
  prompt: [qa_terse@1]
  model: [scripted:smart]
  retriever: [bm25]
scorers: [rank, safety, rouge_l]
thresholds: {rouge_l: ">= 0.2"}
"""

TABLES = {
    "trace_info": "request_id",
    "trace_tags": "request_id",
    "trace_request_metadata": "request_id",
    "assessments": "trace_id",
    "spans": "trace_id",
}
# Ids that differ between two runs by construction, and insert times.
VOLATILE = {
    "request_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "assessment_id",
    "created_timestamp",
    "last_updated_timestamp",
}


@pytest.fixture
def drafted(acme_dir: Path):
    """A scored grid, and a function making its trace drafts for a given run id."""
    wt.script("smart", first_passage_line)
    the_plan = prepare(write_spec(acme_dir, SPEC))
    records = generate_all(the_plan, retrieve_all(the_plan, NullProgress()), None, NullProgress())
    scored = score_run(the_plan, records, samples_frame(the_plan, records))
    rows = {(r["variant_id"], r["sample_id"]): r for r in scored.samples.to_dict("records")}
    failed = rows[(records[1].variant_id, records[1].sample_id)]  # a score that failed
    failed["rouge_l"], failed["unscored"] = float("nan"), {"rouge_l": "judge timed out"}
    variant = the_plan.variants[0]
    samples = {s.id: s for s in the_plan.golden.samples}
    metrics = {m.name: m for m in scored.metrics}

    def drafts(run_id: str) -> list[TraceDraft]:
        return [
            TraceDraft(
                run_id=run_id,
                variant=variant,
                sample=samples[r.sample_id],
                record=r,
                row=rows[(variant.variant_id, r.sample_id)],
                metrics=metrics,
                judge=None,
            )
            for r in records
        ]

    def log(mlflow_client, exp: str, run_id: str) -> dict[str, str]:
        return log_traces(
            mlflow_client,
            exp_id=exp,
            run_id=run_id,
            plan=the_plan,
            variant=variant,
            records=records,
            scores=rows,
            metrics=metrics,
        )

    uri = ensure_store()
    exp = experiment_id("bulk", uri)
    return client(uri), exp, drafts, Path(uri.removeprefix("sqlite:///")), log


def _normalised_rows(db: Path, trace_id: str, run_id: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    with sqlite3.connect(db) as con:
        for table, key in TABLES.items():
            cursor = con.execute(f"SELECT * FROM {table} WHERE {key} = ?", (trace_id,))
            names = [c[0] for c in cursor.description]
            rows = []
            for values in cursor.fetchall():
                row = {n: v for n, v in zip(names, values, strict=True) if n not in VOLATILE}
                if isinstance(row.get("value"), str):
                    row["value"] = (
                        row["value"].replace(trace_id, "<trace>").replace(run_id, "<run>")
                    )
                if "content" in row:
                    content = json.loads(row["content"])
                    for field in ("trace_id", "span_id", "parent_span_id"):
                        content.pop(field, None)
                    content["attributes"].pop("mlflow.traceRequestId", None)
                    row["content"] = content
                rows.append(json.dumps(row, sort_keys=True, default=str))
            out[table] = sorted(rows)
    return out


def test_bulk_rows_equal_mlflows_own(drafted, monkeypatch: pytest.MonkeyPatch) -> None:
    mlflow_client, exp, drafts, db, _ = drafted
    store_run = mlflow_client.create_run(exp).info.run_id
    bulk_run = mlflow_client.create_run(exp).info.run_id

    monkeypatch.setattr(_bulk, "verified", lambda store: False)  # MLflow's own calls
    by_store = drafts(store_run)
    write_drafts(mlflow_client, exp, by_store)
    monkeypatch.undo()
    wt.script("smart", first_passage_line)
    calls: list[int] = []
    real = _bulk.write_traces

    def counted(*a: object) -> None:
        real(*a)
        calls.append(1)  # only once it returned: a failure would fall back silently

    monkeypatch.setattr(_bulk, "write_traces", counted)
    by_bulk = drafts(bulk_run)
    write_drafts(mlflow_client, exp, by_bulk)
    assert calls == [1]  # one transaction for the chunk, and it succeeded

    unscored = 0
    for a, b in zip(by_store, by_bulk, strict=True):
        rows_a = _normalised_rows(db, a.trace_id, store_run)
        rows_b = _normalised_rows(db, b.trace_id, bulk_run)
        assert rows_a["spans"] and rows_a["assessments"]
        assert rows_a == rows_b
        unscored += sum("UNSCORED" in row for row in rows_b["assessments"])
    assert unscored == 1  # the failed score's assessment: an error, no value

    # Read back through the public API: the same traces, linked to their runs.
    for run_id, written in ((store_run, by_store), (bulk_run, by_bulk)):
        found = mlflow_client.search_traces(locations=[exp], run_id=run_id, max_results=100)
        assert {t.info.trace_id for t in found} == {d.trace_id for d in written}
        assert set(existing_samples(mlflow_client, exp, run_id)) == {
            d.tags["workbench.sample_id"] for d in written
        }
    one_a = mlflow_client.get_trace(by_store[0].trace_id)
    one_b = mlflow_client.get_trace(by_bulk[0].trace_id)
    assert [s.name for s in one_a.data.spans] == [s.name for s in one_b.data.spans]
    assert [s.inputs for s in one_a.data.spans] == [s.inputs for s in one_b.data.spans]
    assert {(x.name, x.value) for x in one_a.info.assessments} == {
        (x.name, x.value) for x in one_b.info.assessments
    }
    sample = by_bulk[0].tags["workbench.sample_id"]
    hits = mlflow_client.search_traces(
        locations=[exp],
        filter_string=f"tag.`workbench.sample_id` = '{sample}' AND feedback.`rouge_l` >= 0",
    )
    assert {t.info.trace_id for t in hits} == {by_store[0].trace_id, by_bulk[0].trace_id}


def test_resume_rewrites_a_half_written_chunk_whole(drafted) -> None:
    mlflow_client, exp, drafts, _, log = drafted
    run_id = mlflow_client.create_run(exp).info.run_id
    written = drafts(run_id)
    write_drafts(mlflow_client, exp, written[:5])  # a complete chunk (one transaction)
    store = mlflow_client._tracking_client.store
    for draft in written[5:8]:  # a crash between a server's start_trace and log_spans
        store.start_trace(draft.entities(exp)[0])
    assert len(existing_samples(mlflow_client, exp, run_id)) == 5

    ids = log(mlflow_client, exp, run_id)  # the rerun

    assert ids == {d.tags["workbench.sample_id"]: d.trace_id for d in written}
    found = mlflow_client.search_traces(locations=[exp], run_id=run_id, max_results=100)
    assert len(found) == len(written)
    expected = {
        d.tags["workbench.sample_id"]: sorted(a.name for a in d.entities(exp)[0].assessments)
        for d in drafts(run_id)
    }
    for trace in found:  # every trace whole, its assessments written once
        assert len(trace.data.spans) == 3
        names = sorted(a.name for a in trace.info.assessments)
        assert names == expected[trace.info.tags["workbench.sample_id"]]


def test_client_path_marks_traces_complete(drafted) -> None:
    """The public-API fallback also leaves the spans-location tag resume looks for."""
    mlflow_client, exp, drafts, _, _ = drafted
    run_id = mlflow_client.create_run(exp).info.run_id
    draft = drafts(run_id)[0]
    retarget_tracer(mlflow_client.tracking_uri)  # as write_public does before this path
    trace_id = write_one(mlflow_client, exp, draft)
    tags = MlflowClient(mlflow_client.tracking_uri).get_trace(trace_id).info.tags
    assert tags.get("mlflow.trace.spansLocation")
    assert existing_samples(mlflow_client, exp, run_id) == {
        draft.tags["workbench.sample_id"]: trace_id
    }


def test_failed_version_probe_does_not_send_traces_down_the_slow_road(
    drafted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over REST, MLflow asks the server's version once per process, without retries, and
    caches a failure. A store that blinked at that moment must still get the traces through
    ``log_spans`` once it answers again, not through the per-span public API."""
    import functools

    from mlflow.store.tracking.rest_store import RestStore

    from tests.servers import mlflow_server
    from workbench.tracking import _trace_public

    _, _, drafts, _, _ = drafted
    with mlflow_server(tmp_path / "server") as server:
        rest = MlflowClient(server.url)
        exp = rest.create_experiment("blip")
        run_id = rest.create_run(exp).info.run_id
        real = RestStore.__dict__["_get_server_version"].__func__.__wrapped__
        probes: list[object] = []

        @functools.lru_cache
        def probe(host_creds: Any) -> Any:  # the first answer is lost, and cached, like MLflow's
            probes.append(host_creds)
            return None if len(probes) == 1 else real(host_creds)

        monkeypatch.setattr(RestStore, "_get_server_version", staticmethod(probe))

        def slow_road(*_a: Any, **_k: Any) -> str:
            raise AssertionError("fell back to the per-span public API")

        monkeypatch.setattr(_trace_public, "write_one", slow_road)
        batch = drafts(run_id)
        done = write_drafts(rest, exp, batch)
        assert len(probes) == 2
        assert existing_samples(rest, exp, run_id) == done and len(done) == len(batch)


# --------------------------------------------------------------------------- stored spans

ODD_TEXTS = ['"quoted"', '{"a": 1}', "[1, 2]", "  [3]", "12", "null", "true", "", "plain", "é ✓"]


def _odd_spans() -> list[SpanDraft]:
    """Every kind of span the workbench writes, with strings MLflow's de-duplication of
    twice-encoded values treats differently (JSON-looking, numbers, blanks, non-ASCII)."""
    spans = []
    for i, text in enumerate(ODD_TEXTS):
        trace = f"tr-{i:032x}"
        base = (trace, 10**30 + i, 5 + i)
        spans += [
            SpanDraft(
                *base, None, "answer", "CHAIN", 1_000, 3_000, True,
                {"question": text}, {"answer": text}, {"workbench.reference": text},
            ),
            SpanDraft(
                *base, 1, "retrieval", "RETRIEVER", 1_000, 2_000, True,
                {"query": text, "k": 3, "retriever": "bm25"},
                [{"page_content": text, "metadata": {"doc_uri": text, "score": 1.5}}] if i % 2 else [],
                {},
            ),
            SpanDraft(
                *base, 1, "generation", "LLM" if i % 2 else "CHAT_MODEL", 2_000, 3_000, i % 3 != 0,
                {"messages": [{"role": "user", "content": text}]},
                {"error": text} if i % 3 == 0 else {"choices": [{"message": {"content": text}}]},
                {"model": text, "prompt": "qa@1", "gen.temperature": 0.0, "gen.seed": i,
                 "cost_usd": -1.0, "cached": bool(i % 2), "note": text},
            ),
        ]  # fmt: skip
    return spans


def test_fast_stored_span_equals_mlflows_translation(drafted) -> None:
    """The bulk writer's stored form of a span, made without MLflow's entity, is exactly
    what MLflow's ``log_spans`` stores (``translate_span_when_storing`` of the entity)."""
    from mlflow.tracing.otel.translation import translate_span_when_storing

    _, exp, drafts, _, _ = drafted
    real = [s for d in drafts("r" * 32) for s in d.bulk_entities(exp)[1]]
    for span in real + _odd_spans():
        assert span.stored_dict() == translate_span_when_storing(span.to_span()), span.name


def test_bulk_writer_translates_where_mlflow_would_change_a_span(
    drafted, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast form is used only for span shapes whose first span MLflow's translation left
    unchanged: a translation that adds something (a future MLflow translator) reaches
    every span of that shape, and the other shapes keep the fast form."""
    import mlflow.tracing.otel.translation as translation

    mlflow_client, exp, drafts, db, _ = drafted
    real = translation.translate_span_when_storing
    calls: list[str] = []

    def newer_mlflow(span: Any) -> dict[str, Any]:
        calls.append(span.name)
        out = real(span)
        if span.name == "generation":
            out["attributes"]["mlflow.newKey"] = '"added"'
        return out

    monkeypatch.setattr(_bulk, "_IDENTITY", {})
    monkeypatch.setattr(translation, "translate_span_when_storing", newer_mlflow)
    run_id = mlflow_client.create_run(exp).info.run_id
    written = drafts(run_id)
    write_drafts(mlflow_client, exp, written)

    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT name, content FROM spans WHERE trace_id IN (%s)" % ",".join("?" * len(written)),
            [d.trace_id for d in written],
        ).fetchall()
    assert len(rows) == 3 * len(written)
    for name, content in rows:
        added = json.loads(content)["attributes"].get("mlflow.newKey")
        assert added == ('"added"' if name == "generation" else None)
    shapes = _bulk._IDENTITY
    assert shapes and all(same == (key[0] != "generation") for key, same in shapes.items())
    # MLflow's translation ran for every generation span, once per shape for the others
    assert calls.count("generation") == len(written)
    assert calls.count("answer") == sum(1 for key in shapes if key[0] == "answer")


def test_a_connection_cut_mid_chunk_is_written_again_once(
    drafted, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server killed while answering cuts the connection mid-response (requests raises
    that outside MLflow's HTTP retries). The chunk is retried: what it completed is kept,
    its half-written traces are rewritten whole, nothing is duplicated."""
    import requests
    from mlflow.exceptions import MlflowException

    from workbench.tracking import _traces

    mlflow_client, exp, drafts, _, log = drafted
    run_id = mlflow_client.create_run(exp).info.run_id
    store = mlflow_client._tracking_client.store
    real = _traces._write_to_store
    attempts: list[int] = []

    def cut(client: Any, exp_id: str, chunk: Any) -> dict[str, str] | None:
        attempts.append(len(chunk))
        if len(attempts) > 1:
            return real(client, exp_id, chunk)
        real(client, exp_id, chunk[:5])  # complete
        for draft in chunk[5:8]:  # started, no spans
            store.start_trace(draft.entities(exp_id)[0])
        try:
            raise requests.exceptions.ChunkedEncodingError("IncompleteRead(0 bytes read)")
        except requests.exceptions.ChunkedEncodingError as exc:
            raise MlflowException(f"API request failed with exception {exc}")  # noqa: B904 (as MLflow does)

    monkeypatch.setattr(_traces, "_write_to_store", cut)
    written = drafts(run_id)
    ids = log(mlflow_client, exp, run_id)

    assert attempts == [len(written), len(written) - 5]
    assert ids == {d.tags["workbench.sample_id"]: d.trace_id for d in written}
    found = mlflow_client.search_traces(locations=[exp], run_id=run_id, max_results=100)
    assert sorted(t.info.trace_id for t in found) == sorted(ids.values())
    assert all(len(t.data.spans) == 3 for t in found)


def _cut_connection() -> Exception:
    """MLflow's error for a dropped connection, the requests error as its context."""
    import requests
    from mlflow.exceptions import MlflowException

    try:
        try:
            raise requests.exceptions.ConnectionError("Connection broken")
        except requests.exceptions.ConnectionError as exc:
            raise MlflowException(f"API request failed with exception {exc}")  # noqa: B904
    except MlflowException as cut:
        return cut


@pytest.mark.parametrize(
    ("road", "error", "tries"),
    [
        ("store", "cut", 3),  # cut every time: given up after three tries
        ("store", "refused", 1),  # any other store error: not retried
        # the public client picks its own trace ids: what a cut left behind there cannot
        # be told from the rest, so that road is not retried (a rerun resumes it)
        ("public", "cut", 1),
    ],
)
def test_which_chunk_failures_are_retried(
    drafted, monkeypatch: pytest.MonkeyPatch, road: str, error: str, tries: int
) -> None:
    from mlflow.exceptions import MlflowException

    from workbench.tracking import _traces

    mlflow_client, exp, _, _, log = drafted
    run_id = mlflow_client.create_run(exp).info.run_id
    attempts: list[int] = []

    def failing(*_a: Any) -> None:
        attempts.append(1)
        raise _cut_connection() if error == "cut" else MlflowException("INVALID_PARAMETER_VALUE")

    if road == "public":
        monkeypatch.setattr(_traces, "_write_to_store", lambda *_a: None)
    monkeypatch.setattr(_traces, "write_public" if road == "public" else "_write_to_store", failing)
    with pytest.raises(MlflowException, match="Connection broken" if error == "cut" else "INVALID"):
        log(mlflow_client, exp, run_id)
    assert len(attempts) == tries
