"""The spine with the real parts: local GGUF models through llama.cpp, real retrievers,
ragas scores, a real MLflow store; read back with MlflowClient."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import write_spec
from workbench.pipeline import run

pytestmark = pytest.mark.slow

SPEC = """\
name: local
dataset: {path: datasets/acme_golden.jsonl, sample: 3}
corpus: {path: corpora/acme}
grid:
  prompt: [qa_grounded@1]
  model: [llama_cpp:gemma-3-270m, llama_cpp:smollm2-135m]
  retriever: [none, bm25, dense]
retrievers:
  bm25: {type: bm25, k: 2, chunk_size: 80, chunk_overlap: 10}
  dense: {type: dense, k: 2, chunk_size: 80, chunk_overlap: 10}
params: {max_tokens: 40}
gates: {min_pass_rate_lower_bound: 0.0, max_p95_latency_s: 120}
"""


def test_real_grid_end_to_end(acme_dir: Path, tmp_path: Path) -> None:
    result = run(write_spec(acme_dir, SPEC))
    samples = result.samples
    assert len(samples) == 6 * 3 and samples["error"].isna().all()
    assert (samples["completion_tokens"] > 0).all() and (samples["prompt_tokens"] > 0).all()
    assert (samples["latency_s"] > 0).all() and (samples["cost_usd"] > 0).all()
    assert samples["answer"].str.len().gt(0).all()
    retrieving = samples[samples["retriever"] != "none"]
    assert retrieving["retrieved_doc_ids"].map(len).eq(2).all()
    assert retrieving["hit_at_k"].notna().all() or retrieving["category"].eq("unanswerable").any()
    assert samples["semantic_similarity"].between(-1, 1).all()
    # gemma (base model) ran in completion mode, smollm2 in chat mode
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    modes = {
        client.get_run(r).data.params["model"]: client.get_run(r).data.params["model.mode"]
        for r in result.variant_run_ids.values()
    }
    assert modes == {"gemma-3-270m": "completion", "smollm2-135m": "chat"}
    params = client.get_run(next(iter(result.variant_run_ids.values()))).data.params
    assert len(params["model.digest"]) == 64 and params["gen.max_tokens"] == "40"
    traces = client.search_traces(
        locations=[result.experiment_id], run_id=next(iter(result.variant_run_ids.values()))
    )
    assert len(traces) == 3
    gen = next(s for s in traces[0].data.spans if s.name == "generation")
    assert gen.attributes["prompt_tokens"] > 0 and gen.end_time_ns > gen.start_time_ns
    assert result.gate is not None and result.gate.run_id in result.variant_run_ids.values()
    assert client.get_run(result.gate.run_id).data.tags["gate.verdict"] in {"pass", "fail"}
