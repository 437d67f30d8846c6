"""The promotion loop with the real parts: local llama.cpp models, real retrieval and
scores, a real MLflow store read back with MlflowClient.

run 1 (Gemma without retrieval) -> gate -> candidate -> approve -> champion alias ->
the champion pipeline answers exactly as logged -> run 2 (the same model with BM25
retrieval and a grounded prompt, version 2 of the same prompt) -> a variant that is not
better is refused with the evidence -> the better one is proposed -> approve -> rollback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb
from tests.conftest import EXPERIMENTS, write_spec
from tests.promotion.conftest import LEAD, SCIENTIST
from workbench import promotion
from workbench.pipeline import run

pytestmark = pytest.mark.slow

SPEC = """\
name: e2e
dataset: {{path: datasets/facts.jsonl, name: acme-facts}}
corpus: {{path: corpora/acme}}
grid:
  prompt: [{prompts}]
  model: [llama_cpp:gemma-3-270m]
  retriever: [{retrievers}]
retrievers:
  bm25: {{type: bm25, k: 2, chunk_size: 80, chunk_overlap: 15}}
params: {{temperature: 0.0, max_tokens: 40, seed: 0}}
scorers: [rouge_l, safety]
thresholds: {{rouge_l: ">= 0.3"}}
gates:
  name: e2e-release
  min_pass_rate_lower_bound: 0.0
  max_high_severity_findings: 0
  max_p95_latency_s: 60
  max_error_rate: 0.1
  # 10 samples: too few to bound a p95 (59) or an error rate of 0.1 (25), or to show a
  # guard non-inferior (20 pairs); tests/promotion/test_candidacy_guards.py covers guards
  bound: {{p95_latency_s: point, error_rate: point}}
  primary_metric: rouge_l
"""


def _aliases(client: MlflowClient) -> tuple[str, str]:
    return (
        str(client.get_model_version_by_alias("e2e", "champion").version),
        str(client.get_prompt_version_by_alias("e2e.qa_terse", "production").version),
    )


def _assert_answers_as_logged(result, variant_id: str) -> None:
    pipeline = wb.load_champion("e2e")
    assert pipeline.variant.variant_id == variant_id
    rows = result.samples[result.samples["variant_id"] == variant_id]
    assert len(rows) == 10
    answers = [pipeline.answer(q) for q in rows["question"]]
    assert answers == list(rows["answer"])


def test_promotion_loop_on_real_models(acme_dir: Path, roles: Path, tmp_path: Path) -> None:
    facts = [
        line
        for line in (EXPERIMENTS / "datasets" / "acme_golden.jsonl").read_text().splitlines()
        if json.loads(line)["category"] == "factual"
    ][:10]
    (acme_dir / "datasets" / "facts.jsonl").write_text("\n".join(facts) + "\n")
    grounded = (acme_dir / "prompts" / "qa_grounded.v1.yaml").read_text()
    (acme_dir / "prompts" / "qa_terse.v2.yaml").write_text(
        grounded.replace("name: qa_grounded", "name: qa_terse").replace("version: 1", "version: 2")
    )
    client = MlflowClient(
        f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}",
        registry_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}",
    )

    # run 1: one variant, no champion yet -> passing the gates is enough
    first = run(
        write_spec(acme_dir, SPEC.format(prompts="qa_terse@1", retrievers="none"), "r1.yaml")
    )
    assert first.gate is not None and first.gate.passed
    (a_id,) = first.variant_run_ids
    v1 = promotion.propose(first, user=SCIENTIST)
    assert (v1.version, v1.variant_id, v1.prompt) == ("1", a_id, "prompts:/e2e.qa_terse/1")
    promotion.approve("1", experiment="e2e", reason="first release", user=LEAD)
    assert _aliases(client) == ("1", "1")
    _assert_answers_as_logged(first, a_id)

    # run 2: the grounded prompt (qa_terse v2) without and with BM25
    second = run(
        write_spec(acme_dir, SPEC.format(prompts="qa_terse@2", retrievers="none, bm25"), "r2.yaml")
    )
    board = second.variants.set_index("variant")
    b_id = board.loc["qa_terse@2 · gemma-3-270m · bm25", "variant_id"]
    with pytest.raises(
        promotion.NotACandidate, match="primary metric rouge_l does not improve"
    ) as refused:
        promotion.propose(second, variant="qa_terse@2 · gemma-3-270m · none", user=SCIENTIST)
    assert refused.value.candidacy.n_shared == 10

    v2 = promotion.propose(second, variant=b_id, user=SCIENTIST)
    primary = v2.evidence["primary"]
    assert primary["metric"] == "rouge_l" and primary["verdict"] == "better"
    assert primary["diff"] > 0.2 and primary["p_holm"] < 0.05
    assert v2.prompt == "prompts:/e2e.qa_terse/2"
    assert client.get_model_version("e2e", "2").tags["approval.status"] == "pending"

    promotion.approve("2", experiment="e2e", reason="retrieval fixes the answers", user=LEAD)
    assert _aliases(client) == ("2", "2")
    _assert_answers_as_logged(second, b_id)

    promotion.rollback("e2e", reason="rolling back for the test", user=LEAD)
    assert _aliases(client) == ("1", "1")
    tags = {v: client.get_model_version("e2e", v).tags for v in ("1", "2")}
    assert (
        tags["1"]["approval.status"] == "approved" and tags["2"]["approval.status"] == "rolled_back"
    )
    assert tags["2"]["champion.previous"] == "1" and tags["2"]["rollback.by"] == "lee"

    log = [
        (r.action, r.outcome, r.who, r.previous_champion, r.champion_after)
        for r in promotion.audit_log("e2e")
    ]
    assert log == [
        ("propose", "ok", "sam", None, None),
        ("approve", "ok", "lee", None, "1"),
        ("propose", "refused", "sam", "1", "1"),
        ("propose", "ok", "sam", "1", "1"),
        ("approve", "ok", "lee", "1", "2"),
        ("rollback", "ok", "lee", "2", "1"),
    ]
    assert promotion.champion("e2e").version == "1"
