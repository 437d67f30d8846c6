"""The runner's logic with scripted models and a real MLflow store in tmp_path:
caching, resume after an interrupted logging phase, the error budget, idempotent logging."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench.testing as wt
from tests.conftest import script_smart_and_dull, write_spec
from workbench.pipeline import RunFailed, run

SPEC = """\
name: unit
dataset: {path: datasets/acme_golden.jsonl, sample: 8}
corpus: {path: corpora/acme}
grid:
  prompt: [qa_terse@1, qa_grounded@1]
  model: [scripted:smart, scripted:dull]
  retriever: [none, bm25]
thresholds: {rouge_l: ">= 0.0"}
scorers: [rank, safety, rouge_l]
"""


@pytest.fixture(autouse=True)
def _scripts() -> None:
    script_smart_and_dull()


def _client(tmp_path: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")


def test_run_logs_parent_children_tables_and_traces(acme_dir: Path, tmp_path: Path) -> None:
    result = run(write_spec(acme_dir, SPEC))
    assert len(result.variants) == 8 and len(result.samples) == 64
    assert result.model_calls == 64 and result.cached_calls == 0
    client = _client(tmp_path)
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["workbench.complete"] == "true"
    children = client.search_runs(
        [result.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{result.run_id}'"
    )
    assert {c.data.tags["workbench.variant_id"] for c in children} == set(result.variant_run_ids)
    child = client.get_run(result.variant_run_ids[result.variants["variant_id"].iloc[0]])
    assert child.data.params["dataset.digest"] and child.data.params[
        "prompt.registry_uri"
    ].startswith("prompts:/unit.")
    assert child.data.metrics["n"] == 8 and "pass_rate_lo" in child.data.metrics
    assert child.data.tags["mlflow.linkedPrompts"]
    table = client.load_table(result.experiment_id, "samples.json", run_ids=[child.info.run_id])
    assert len(table) == 8 and {"answer", "rouge_l", "passed"} <= set(table.columns)
    traces = client.search_traces(locations=[result.experiment_id], run_id=child.info.run_id)
    assert len(traces) == 8
    names = {a.name for a in traces[0].info.assessments}
    assert {"rouge_l", "pii_leak", "passed"} <= names
    # the table links each answer's trace
    assert set(table["trace_id"]) == {t.info.trace_id for t in traces}
    spans = {s.name for s in traces[0].data.spans}
    assert spans == {"answer", "retrieval", "generation"}


def test_unchanged_rerun_makes_zero_model_calls(acme_dir: Path) -> None:
    spec = write_spec(acme_dir, SPEC)
    first = run(spec)
    wt.reset_calls()
    second = run(spec)
    assert sum(wt.CALLS.values()) == 0
    assert second.model_calls == 0 and second.cached_calls == 64
    assert second.run_id != first.run_id  # a completed run is not resumed: a new parent
    assert second.variants["pass_rate"].tolist() == first.variants["pass_rate"].tolist()


def test_changing_one_prompt_reruns_only_its_variants(acme_dir: Path) -> None:
    spec = write_spec(acme_dir, SPEC)
    run(spec)
    prompt = acme_dir / "prompts" / "qa_terse.v1.yaml"
    prompt.write_text(prompt.read_text().replace("one short sentence", "a few words"))
    wt.reset_calls()
    result = run(spec)
    assert result.model_calls == 32  # qa_terse's 4 variants x 8 samples
    assert sum(wt.CALLS.values()) == 32


def test_interrupted_logging_resumes_without_duplicates(
    acme_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.tracking import _log_run

    spec = write_spec(acme_dir, SPEC)
    calls = {"n": 0}
    real = _log_run.log_traces

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise ConnectionError("store went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(_log_run, "log_traces", flaky)
    from workbench.errors import TrackingError

    with pytest.raises(TrackingError, match="rerun the same command"):
        run(spec)
    monkeypatch.setattr(_log_run, "log_traces", real)
    wt.reset_calls()
    result = run(spec)
    assert sum(wt.CALLS.values()) == 0
    client = _client(tmp_path)
    parents = client.search_runs(
        [result.experiment_id], filter_string="tags.`workbench.role` = 'parent'"
    )
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.tags["workbench.resumed"] == "1"
    for run_id in result.variant_run_ids.values():
        traces = client.search_traces(
            locations=[result.experiment_id], run_id=run_id, include_spans=False
        )
        samples = [t.info.tags["workbench.sample_id"] for t in traces]
        assert len(samples) == 8 and len(set(samples)) == 8
        assert len(client.load_table(result.experiment_id, "samples.json", run_ids=[run_id])) == 8


def test_error_budget_fails_the_run_but_logs_it(acme_dir: Path, tmp_path: Path) -> None:
    wt.script("dull", answer="FAIL: HTTP 500: upstream error")
    with pytest.raises(RunFailed, match=r"50% of calls failed") as info:
        run(
            write_spec(
                acme_dir, SPEC.replace("name: unit", "name: unit\nexecution: {max_error_rate: 0.1}")
            )
        )
    result = info.value.result
    assert result.status == "FAILED"
    parent = _client(tmp_path).get_run(result.run_id)
    assert (
        parent.info.status == "FAILED" and "max_error_rate" in parent.data.tags["workbench.failure"]
    )
    failed = result.samples[result.samples["model"] == "dull"]
    assert failed["error"].eq("HTTP 500: upstream error").all() and failed["passed"].eq(0).all()
    # failures are not cached: the next run retries them
    wt.script("dull", answer="Maybe.")
    wt.reset_calls()
    again = run(write_spec(acme_dir, SPEC))
    assert again.model_calls == 32 and wt.CALLS["dull"] == 32


def test_concurrency_gives_the_same_records(acme_dir: Path) -> None:
    one = run(write_spec(acme_dir, SPEC), track=False)
    wt.reset_calls()
    spec = SPEC.replace("name: unit", "name: unit\nexecution: {concurrency: 8, cache: false}")
    many = run(write_spec(acme_dir, spec, name="b.yaml"), track=False)
    assert sum(wt.CALLS.values()) == 64
    cols = ["variant_id", "sample_id", "answer", "passed"]
    a = one.samples[cols].sort_values(cols[:2]).reset_index(drop=True)
    b = many.samples[cols].sort_values(cols[:2]).reset_index(drop=True)
    assert a.equals(b)


def test_scorers_warm_up_at_the_first_real_call_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import workbench.pipeline as pipeline
    from workbench.pipeline import _WarmUpOnFirstCall
    from workbench.records import NullProgress

    started: list[object] = []

    def fake_warm_up(spec: object) -> threading.Thread:
        started.append(spec)
        thread = threading.Thread(target=lambda: None)
        thread.start()
        return thread

    monkeypatch.setattr(pipeline, "warm_up", fake_warm_up)
    sink = _WarmUpOnFirstCall(NullProgress(), "spec")
    sink.advance(cached=True)
    sink.advance(3, cached=True)
    assert started == []  # an all-cached rerun loads nothing
    sink.advance()
    sink.advance(error=True)
    sink.join()
    assert started == ["spec"]  # once, at the first answer a model really made


def test_warm_up_loads_what_the_scorers_need() -> None:
    """In a fresh process (so nothing was imported before): the warm-up thread imports
    the libraries of the named scorers, and only what they need."""
    import subprocess
    import sys

    code = """
import sys
from workbench.scoring import warm_up
from workbench.spec import load_spec
spec = load_spec({"name": "w", "dataset": {"path": "d.jsonl"}, "scorers": ["rouge_l", "bleu"],
    "grid": {"prompt": ["p@1"], "model": ["llama_cpp:smollm2-135m"], "retriever": ["none"]}}).spec
assert "rouge_score" not in sys.modules
warm_up(spec).join(120)
print(sorted(m for m in ("rouge_score", "sacrebleu", "sentence_transformers") if m in sys.modules))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "['rouge_score', 'sacrebleu']"


def test_logging_pauses_the_garbage_collector_and_restores_it(
    acme_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full collections over every live object cost seconds when logging a big grid: the
    collector is off while logging, and on again afterwards, even when logging failed."""
    import gc

    from workbench.errors import TrackingError
    from workbench.tracking import _log_run

    seen: list[bool] = []
    real = _log_run.log_traces

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        if len(seen) == 2:
            raise ConnectionError("store went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(_log_run, "log_traces", watched)
    assert gc.isenabled()
    with pytest.raises(TrackingError):
        run(write_spec(acme_dir, SPEC))
    assert seen == [False, False] and gc.isenabled()
