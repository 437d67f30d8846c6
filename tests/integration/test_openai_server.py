"""The openai provider against a real llama.cpp OpenAI-compatible server on 127.0.0.1,
and an LLM judge (ragas metrics) served the same way."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import write_spec
from tests.servers import llama_server
from workbench.pipeline import run

pytestmark = pytest.mark.slow
KEY = "sk-test-5f1c9a2b7d"


@pytest.fixture(scope="module")
def server() -> str:
    with llama_server(api_key=KEY) as url:
        yield url


def spec_text(url: str, extra: str = "") -> str:
    return f"""\
name: remote
dataset: {{path: datasets/acme_golden.jsonl, sample: 3}}
corpus: {{path: corpora/acme}}
models:
  local-server: {{provider: openai, base_url: "{url}", model: smollm2, api_key_env: WB_TEST_KEY,
                 price: {{input_per_1m: 0.5, output_per_1m: 1.5}}}}
grid:
  prompt: [qa_grounded@1]
  model: [local-server]
  retriever: [bm25]
retrievers:
  bm25: {{type: bm25, k: 2, chunk_size: 80}}
params: {{max_tokens: 40}}
execution: {{concurrency: 2}}
{extra}"""


def test_openai_provider_records_tokens_cost_and_never_logs_the_key(
    server: str, acme_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WB_TEST_KEY", KEY)
    result = run(write_spec(acme_dir, spec_text(server)))
    samples = result.samples
    assert samples["error"].isna().all(), samples["error"].tolist()
    assert (samples["prompt_tokens"] > 0).all() and (samples["completion_tokens"] > 0).all()
    expected = (samples["prompt_tokens"] * 0.5 + samples["completion_tokens"] * 1.5) / 1e6
    assert samples["cost_usd"].tolist() == pytest.approx(expected.tolist())
    # the key appears nowhere in the store: params, tags, artifacts, traces
    store = tmp_path / "mlruns"
    for path in store.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    run_ = client.get_run(next(iter(result.variant_run_ids.values())))
    assert run_.data.params["model.base_url"] == server
    assert KEY not in str(run_.data.params) and KEY not in str(run_.data.tags)


def test_wrong_key_and_unreachable_endpoint_fail_before_the_grid(
    server: str, acme_dir: Path
) -> None:
    env_key = {"WB_TEST_KEY": "sk-wrong"}
    cli = [sys.executable, "-m", "workbench.cli", "run"]
    import os

    out = subprocess.run(
        [*cli, str(write_spec(acme_dir, spec_text(server)))],
        capture_output=True,
        text=True,
        env={**os.environ, **env_key},
    )
    assert (
        out.returncode == 2
        and "refused the key (HTTP 401)" in out.stderr
        and "Traceback" not in out.stderr
    )
    dead = spec_text("http://127.0.0.1:9/v1")
    out = subprocess.run(
        [*cli, str(write_spec(acme_dir, dead, name="dead.yaml"))],
        capture_output=True,
        text=True,
        env={**os.environ, **env_key},
    )
    assert out.returncode == 2 and "cannot reach http://127.0.0.1:9/v1" in out.stderr
    assert out.stderr.strip().startswith("error:") and "Traceback" not in out.stderr


def test_llm_judge_metrics_are_scores_or_nan_with_reason(
    server: str, acme_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WB_TEST_KEY", KEY)
    extra = "judge: {model: local-server, max_tokens: 384, timeout_s: 240}\n"
    text = spec_text(server, extra).replace(
        "model: [local-server]", "model: [llama_cpp:smollm2-135m]"
    )
    result = run(write_spec(acme_dir, text))
    names = {m.name for m in result.metrics}
    assert {"faithfulness", "answer_relevancy", "llm_context_precision"} <= names
    for metric in ("faithfulness", "answer_relevancy", "llm_context_precision"):
        for _, row in result.samples.iterrows():
            value = row[metric]
            if math.isnan(value):
                assert metric in row["unscored"], (
                    metric,
                    row["unscored"],
                )  # NaN always has its reason
            else:
                assert 0.0 <= value <= 1.0
    assert result.samples["answer_relevancy"].notna().any()
    judged = [m for m in result.metrics if m.name == "faithfulness"][0]
    assert judged.source == "LLM_JUDGE"
