"""Item 2: a grid on the ``openai`` provider pointed at a server that fails 30 % of the
requests (timeouts, 429 + Retry-After, 500s, malformed JSON, truncated bodies, dropped
connections) completes; retries are bounded, back off, and honour Retry-After; what still
fails is recorded per sample with its error; error rate and retries are run metrics.

The server's own request log is the independent count: every attempt the workbench reports
is a request the server saw, and (sequential client) the exact sequence of faults predicts
each sample's attempts, its error, and every wait the client asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import write_spec
from tests.reliability.fault_server import FAULTS, FaultConfig, FaultServer, fault_server
from workbench.models import RetryPolicy
from workbench.pipeline import run

pytestmark = pytest.mark.reliability

SAMPLES = 30
RETRY_AFTER = 7.0  # longer than any backoff of 4 retries (<= 4 s), so it is recognisable
MAX_RETRIES = {"steady": 4, "impatient": 1}
ERROR_TEXT = {
    "timeout": "timeout after 0.5 s",
    "429": "HTTP 429",
    "500": "HTTP 500",
    "malformed": "bad response: JSONDecodeError",
    "truncated": "connection error: peer closed connection",
    "drop": "connection error: Server disconnected",
}


def spec_text(url: str, concurrency: int) -> str:
    return f"""\
name: faulty
dataset: {{path: datasets/acme_golden.jsonl, sample: {SAMPLES}}}
corpus: {{path: corpora/acme}}
models:
  steady: {{provider: openai, base_url: "{url}", model: steady, api_key_env: WB_FAULT_KEY,
           timeout_s: 0.5, max_retries: {MAX_RETRIES["steady"]},
           price: {{input_per_1m: 1.0, output_per_1m: 2.0}}}}
  impatient: {{provider: openai, base_url: "{url}", model: impatient, api_key_env: WB_FAULT_KEY,
              timeout_s: 0.5, max_retries: {MAX_RETRIES["impatient"]}}}
grid:
  prompt: [qa_grounded@1]
  model: [steady, impatient]
  retriever: [none, bm25]
retrievers:
  bm25: {{type: bm25, k: 2, chunk_size: 80}}
thresholds: {{rouge_l: ">= 0.0"}}
scorers: [rank, safety, rouge_l]
execution: {{concurrency: {concurrency}, max_error_rate: 0.2}}
"""


def replay(server: FaultServer) -> tuple[list[dict[str, object]], list[tuple[str, float]]]:
    """From the server's sequence of faults (one client at a time): each call's outcome,
    and each wait the client must have asked for, as (kind, seconds) with seconds < 0
    meaning "a jittered backoff for retry number -seconds"."""
    calls: list[dict[str, object]] = []
    waits: list[tuple[str, float]] = []
    attempt = 0
    for request in server.completions():
        attempt += 1
        limit = MAX_RETRIES[str(request.model)] + 1
        if request.kind == "ok":
            calls.append({"model": request.model, "attempts": attempt, "error": None})
            attempt = 0
        elif attempt == limit:
            calls.append({"model": request.model, "attempts": attempt, "error": request.kind})
            attempt = 0
        else:
            waits.append((request.kind, RETRY_AFTER if request.kind == "429" else -attempt))
    assert attempt == 0, "the server log ends inside a call"
    return calls, waits


def check_mlflow(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    samples = result.samples
    for vid, run_id in result.variant_run_ids.items():
        rows = samples[samples["variant_id"] == vid]
        metrics = client.get_run(run_id).data.metrics
        n_errors = int(rows["error"].notna().sum())
        assert metrics["n_errors"] == n_errors
        assert metrics["error_rate"] == pytest.approx(n_errors / SAMPLES)
        assert metrics["retries"] == float((rows["attempts"] - 1).sum())
        table = client.load_table(result.experiment_id, "samples.json", run_ids=[run_id])
        logged = dict(
            zip(table["sample_id"], table["error"].where(table["error"].notna()), strict=True)
        )
        for sample_id, error in zip(rows["sample_id"], rows["error"], strict=True):
            if error is None:  # read back as NaN
                assert not isinstance(logged[sample_id], str)
            else:
                assert logged[sample_id] == error
        failed = set(rows.loc[rows["error"].notna(), "trace_id"])
        traces = client.search_traces(locations=[result.experiment_id], run_id=run_id)
        states = {t.info.trace_id: str(t.info.state) for t in traces}
        for trace_id in failed:
            assert "ERROR" in states[trace_id]
    parent = client.get_run(result.run_id).data.metrics
    assert parent["error_rate"] == pytest.approx(samples["error"].notna().mean())
    assert parent["n_errors"] == samples["error"].notna().sum()
    assert parent["retries"] == float((samples["attempts"] - 1).sum())


def test_thirty_percent_faults_sequential_client_exact_accounting(
    acme_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_retry_waits: list[float],
    figure: Callable[..., None],
) -> None:
    monkeypatch.setenv("WB_FAULT_KEY", "sk-fault-0000")
    config = FaultConfig(fault_rate=0.3, seed=7, retry_after=str(int(RETRY_AFTER)))
    with fault_server(config) as server:
        result = run(write_spec(acme_dir, spec_text(server.url, concurrency=1)))
        kinds = server.kinds()
        requests = server.completions()
        expected_calls, expected_waits = replay(server)

    n = 4 * SAMPLES
    assert result.status == "FINISHED" and len(result.samples) == n
    faults = sum(kinds[k] for k in FAULTS)
    assert 0.2 <= faults / len(requests) <= 0.4, kinds
    assert all(kinds[k] > 0 for k in FAULTS), kinds

    # Every attempt the workbench reports is a request the server saw.
    samples = result.samples
    assert int(samples["attempts"].sum()) == len(requests)
    # Call by call, in order (one worker runs them first-in first-out).
    assert len(expected_calls) == n
    for row, call in zip(samples.to_dict("records"), expected_calls, strict=True):
        assert row["model"] == call["model"] and row["attempts"] == call["attempts"]
        limit = MAX_RETRIES[row["model"]] + 1
        assert 1 <= row["attempts"] <= limit  # bounded
        if call["error"] is None:
            assert row["error"] is None and row["answer"]
            assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0
            if row["model"] == "steady":
                cost = (row["prompt_tokens"] * 1.0 + row["completion_tokens"] * 2.0) / 1e6
                assert row["cost_usd"] == pytest.approx(cost)
        else:  # recorded with the error of its last attempt, failed, unscored
            assert ERROR_TEXT[str(call["error"])] in row["error"], row["error"]
            assert row["attempts"] == limit and row["answer"] == "" and row["passed"] == 0.0
            assert "model call failed" in str(row["unscored"].get("rouge_l"))
    assert samples["error"].notna().sum() > 0, "the seed should leave some impatient failures"

    # The waits: Retry-After exactly, else exponential backoff with 50-100 % jitter.
    policy = RetryPolicy()
    assert len(no_retry_waits) == len(expected_waits) == int((samples["attempts"] - 1).sum())
    for waited, (kind, expected) in zip(no_retry_waits, expected_waits, strict=True):
        if expected > 0:
            assert waited == expected, (kind, waited)
        else:
            full = min(policy.max_delay_s, policy.base_delay_s * 2 ** (-expected - 1))
            assert full / 2 <= waited <= full, (kind, waited, -expected)
    assert no_retry_waits.count(RETRY_AFTER) == sum(1 for k, _ in expected_waits if k == "429")

    check_mlflow(result, tmp_path)
    figure(
        scenario="30% faults, sequential client",
        requests=len(requests),
        calls=n,
        faults=dict(kinds),
        observed_fault_rate=round(faults / len(requests), 3),
        retries=int((samples["attempts"] - 1).sum()),
        retry_after_waits=no_retry_waits.count(RETRY_AFTER),
        failed_samples=int(samples["error"].notna().sum()),
        failed_by_model=samples.groupby("model")["error"]
        .apply(lambda e: int(e.notna().sum()))
        .to_dict(),
        error_rate=round(result.error_rate, 4),
        wall_s=round(result.wall_s, 2),
    )


def test_thirty_percent_faults_eight_workers(
    acme_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_retry_waits: list[float],
    figure: Callable[..., None],
) -> None:
    monkeypatch.setenv("WB_FAULT_KEY", "sk-fault-0000")
    config = FaultConfig(fault_rate=0.3, seed=11, retry_after=str(int(RETRY_AFTER)))
    with fault_server(config) as server:
        result = run(write_spec(acme_dir, spec_text(server.url, concurrency=8)))
        kinds = server.kinds()
        requests = len(server.completions())
    samples = result.samples
    assert result.status == "FINISHED" and len(samples) == 4 * SAMPLES
    assert int(samples["attempts"].sum()) == requests
    assert len(no_retry_waits) == int((samples["attempts"] - 1).sum())
    # every 429 that was not a call's last attempt was followed by a Retry-After wait
    last_was_429 = int(samples["error"].fillna("").str.contains("HTTP 429").sum())
    assert no_retry_waits.count(RETRY_AFTER) == kinds["429"] - last_was_429
    for model, limit in MAX_RETRIES.items():
        assert samples.loc[samples["model"] == model, "attempts"].max() <= limit + 1
    failed = samples[samples["error"].notna()]
    assert (failed["attempts"] == failed["model"].map(MAX_RETRIES) + 1).all()
    assert not math.isnan(result.error_rate) and result.error_rate < 0.2
    check_mlflow(result, tmp_path)
    figure(
        scenario="30% faults, 8 workers",
        requests=requests,
        calls=len(samples),
        faults=dict(kinds),
        retries=int((samples["attempts"] - 1).sum()),
        failed_samples=len(failed),
        error_rate=round(result.error_rate, 4),
        wall_s=round(result.wall_s, 2),
    )


def test_fault_server_serves_completion_mode_and_checks_the_key(
    acme_dir: Path, monkeypatch: pytest.MonkeyPatch, no_retry_waits: list[float]
) -> None:
    """The same faults in completion mode (``/v1/completions``, base models)."""
    monkeypatch.setenv("WB_FAULT_KEY", "sk-fault-0000")
    config = FaultConfig(fault_rate=0.3, seed=3, api_key="sk-fault-0000")
    with fault_server(config) as server:
        text = spec_text(server.url, concurrency=2).replace(
            "model: steady,", "model: steady, mode: completion,"
        )
        result = run(write_spec(acme_dir, text), track=False)
        paths = {r.path for r in server.completions()}
        unauthorized = [r for r in server.requests if r.kind == "unauthorized"]
    assert "/v1/completions" in paths and "/v1/chat/completions" in paths
    assert not unauthorized
    assert result.status == "FINISHED"
    assert int(result.samples["attempts"].sum()) == len(server.completions())
