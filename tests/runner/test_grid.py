"""Grid expansion and variant identity: ids hash what changes outputs, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench.testing as wt
from tests.conftest import write_spec
from workbench.errors import ConfigError, DatasetError
from workbench.models import Message, call_key
from workbench.pipeline import prepare
from workbench.runner import estimate
from workbench.spec import GenerationParams

SPEC = """\
name: grid
dataset: {path: datasets/acme_golden.jsonl, sample: 10}
corpus: {path: corpora/acme}
grid:
  prompt: [qa_terse@1, qa_grounded@1]
  model: [scripted:echo, scripted:other]
  retriever: [none, bm25]
  params: {temperature: [0.0, 0.5]}
"""


@pytest.fixture(autouse=True)
def _scripts() -> None:
    wt.script("echo", answer="14 days.")
    wt.script("other", answer="I don't know.")


def test_full_product_with_unique_ids(acme_dir: Path) -> None:
    plan = prepare(write_spec(acme_dir, SPEC))
    assert len(plan.variants) == 2 * 2 * 2 * 2
    assert len({v.variant_id for v in plan.variants}) == 16
    assert plan.n_calls == 16 * 10
    labels = {v.label for v in plan.variants}
    assert "qa_terse@1 · echo · bm25 · temperature=0.5" in labels
    assert plan.variants[0].factors()["param.temperature"] == 0.0


def test_variant_id_ignores_retries_timeouts_and_names(acme_dir: Path) -> None:
    base = prepare(write_spec(acme_dir, SPEC))
    ids = {v.label: v.variant_id for v in base.variants}
    tweaked = SPEC.replace(
        "model: [scripted:echo, scripted:other]", "model: [echo, scripted:other]"
    )
    tweaked += "models:\n  echo: {provider: scripted, model: echo, max_retries: 9, timeout_s: 5}\n"
    tweaked += "retrievers:\n  bm25: {type: bm25, name: bm25}\n"
    again = prepare(write_spec(acme_dir, tweaked, name="b.yaml"))
    assert {v.label: v.variant_id for v in again.variants} == ids


def test_variant_id_changes_with_prompt_text_params_and_corpus(acme_dir: Path) -> None:
    before = {v.label: v.variant_id for v in prepare(write_spec(acme_dir, SPEC)).variants}
    prompt = acme_dir / "prompts" / "qa_terse.v1.yaml"
    prompt.write_text(prompt.read_text().replace("one short sentence", "a few words"))
    after = {v.label: v.variant_id for v in prepare(write_spec(acme_dir, SPEC)).variants}
    changed = {label for label in before if before[label] != after[label]}
    assert changed == {label for label in before if label.startswith("qa_terse@1")}
    (acme_dir / "corpora" / "acme" / "new-doc.md").write_text("# New\nA new fact.")
    third = {v.label: v.variant_id for v in prepare(write_spec(acme_dir, SPEC)).variants}
    changed = {label for label in after if after[label] != third[label]}
    assert changed == {
        label for label in after if "· bm25" in label
    }  # no-retrieval variants unaffected


def test_cache_key_covers_model_params_and_messages() -> None:
    msgs = [Message(role="user", content="hi")]
    base = call_key({"provider": "x", "digest": "1"}, GenerationParams(), msgs)
    assert base == call_key({"digest": "1", "provider": "x"}, GenerationParams(), msgs)
    assert base != call_key({"provider": "x", "digest": "2"}, GenerationParams(), msgs)
    assert base != call_key({"provider": "x", "digest": "1"}, GenerationParams(seed=1), msgs)
    assert base != call_key(
        {"provider": "x", "digest": "1"}, GenerationParams(), [Message(role="user", content="hi!")]
    )


def test_bad_references_name_the_field(acme_dir: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"grid.prompt\[1\]: prompt 'qa_grounded' has no version '7'"
    ):
        prepare(write_spec(acme_dir, SPEC.replace("qa_grounded@1", "qa_grounded@7")))
    with pytest.raises(
        ConfigError,
        match=r"grid.prompt\[0\]: unknown prompt 'qa_trese' \(did you mean 'qa_terse'\?\)",
    ):
        prepare(write_spec(acme_dir, SPEC.replace("qa_terse@1", "qa_trese@1")))
    with pytest.raises(
        ConfigError,
        match=r"grid.model\[0\]: unknown local model 'gemma-270m'.*did you mean 'gemma-3-270m'",
    ):
        prepare(write_spec(acme_dir, SPEC.replace("scripted:echo", "llama_cpp:gemma-270m")))
    with pytest.raises(ConfigError, match="are the same variant"):
        prepare(
            write_spec(acme_dir, SPEC.replace("[none, bm25]", "[bm25, {type: bm25, name: again}]"))
        )


def test_unknown_reference_document_is_reported(acme_dir: Path) -> None:
    golden = acme_dir / "datasets" / "acme_golden.jsonl"
    golden.write_text(golden.read_text().replace('"refund-policy"', '"refund-polcy"', 1))
    with pytest.raises(
        DatasetError, match="refund-polcy' is not in corpus.*did you mean 'refund-policy'"
    ):
        prepare(write_spec(acme_dir, SPEC))


def test_dry_run_estimate_counts_calls_without_calling(acme_dir: Path) -> None:
    wt.reset_calls()
    plan = prepare(write_spec(acme_dir, SPEC))
    est = estimate(plan)
    assert est.calls == plan.n_calls == 160
    assert est.n_samples == 10 and est.total_samples >= 60
    with_ctx = [v for v in est.variants if "· bm25" in v.label]
    without = [v for v in est.variants if "· none" in v.label]
    assert min(v.prompt_tokens for v in with_ctx) > max(v.prompt_tokens for v in without)
    assert sum(wt.CALLS.values()) == 0
