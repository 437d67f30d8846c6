"""The ragas adapter and the pass/fail rule, against hand-computed values and independent
implementations (rapidfuzz, rouge-score, sacrebleu, sentence-transformers)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.records import Score
from workbench.scoring import ScoreItem, ScoringContext, registry
from workbench.scoring._judge import tighten_schema
from workbench.scoring._run import _passes
from workbench.spec import parse_rule


def item(
    answer: str, reference: str = "Refunds are possible within 14 days.", **kw: object
) -> ScoreItem:
    base = dict(
        sample_id="s", question="How long is the refund window?", reference=reference, answer=answer,
        category="factual", severity="medium", canary=None, reference_ids=("refund-policy",),
        reference_contexts=("Annual plans can be refunded within 14 days of purchase.",),
        contexts=("Annual plans can be refunded within 14 days of purchase.", "Office hours are 9 to 5."),
        retrieved_doc_ids=("refund-policy", "office"), retrieves=True, k=2, system_prompt="Be brief.",
    )  # fmt: skip
    base.update(kw)
    return ScoreItem(**base)  # type: ignore[arg-type]


def scores_of(name: str, items: list[ScoreItem]) -> list[dict[str, Score]]:
    scorer = registry()[name].factory(ScoringContext())
    results = scorer.batch(items) if hasattr(scorer, "batch") else [scorer(i) for i in items]
    return [{s.name: s for s in r} for r in results]


def test_string_metrics_match_independent_implementations() -> None:
    from rapidfuzz.distance import Levenshtein
    from rouge_score import rouge_scorer
    from sacrebleu.metrics import BLEU

    answers = ["Refunds are possible within 14 days.", "Within 14 days.", "I don't know.", ""]
    ref = "Refunds are possible within 14 days."
    items = [item(a) for a in answers]
    rouge = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    for answer, got in zip(answers, scores_of("rouge_l", items), strict=True):
        assert got["rouge_l"].value == pytest.approx(rouge.score(ref, answer)["rougeL"].fmeasure)
    for answer, got in zip(answers, scores_of("string_similarity", items), strict=True):
        assert got["string_similarity"].value == pytest.approx(
            1 - Levenshtein.normalized_distance(ref, answer)
        )
    bleu = BLEU(effective_order=True)
    for answer, got in zip(answers[:3], scores_of("bleu", items[:3]), strict=True):
        assert got["bleu"].value == pytest.approx(bleu.sentence_score(answer, [ref]).score / 100)
    assert scores_of("bleu", [item(ref)])[0]["bleu"].value == pytest.approx(1.0)
    exact = scores_of("exact_match", [item(ref), item("refunds")])
    assert [e["exact_match"].value for e in exact] == [1.0, 0.0]


def test_context_metrics_hand_computed() -> None:
    # retrieved: [the reference doc, an unrelated doc] -> precision: verdicts [1, 0] -> AP = 1.0;
    # recall: the one reference context is found -> 1.0
    got = scores_of("context", [item("x")])[0]
    assert got["context_precision"].value == pytest.approx(1.0)
    assert got["context_recall"].value == pytest.approx(1.0)
    # reversed order: verdicts [0, 1] -> AP = (1/2 * 1) / 1 = 0.5
    swapped = item(
        "x",
        contexts=(
            "Office hours are 9 to 5.",
            "Annual plans can be refunded within 14 days of purchase.",
        ),
    )
    assert scores_of("context", [swapped])[0]["context_precision"].value == pytest.approx(0.5)
    none = scores_of("context", [item("x", retrieves=False, contexts=())])[0]
    assert math.isnan(none["context_recall"].value) and not none["context_recall"].applicable
    unanswerable = scores_of("context", [item("x", reference_contexts=(), reference_ids=())])[0]
    assert math.isnan(unanswerable["context_precision"].value)


@pytest.mark.slow
def test_semantic_similarity_equals_sentence_transformers_cosine() -> None:
    from sentence_transformers import SentenceTransformer

    from workbench.models.embeddings import model_path

    answers = ["Refunds are possible within 14 days.", "The office opens at nine.", ""]
    got = [
        s["semantic_similarity"].value
        for s in scores_of("semantic_similarity", [item(a) for a in answers])
    ]
    model = SentenceTransformer(model_path(), device="cpu")
    ref = model.encode("Refunds are possible within 14 days.")
    for answer, value in zip(answers, got, strict=True):
        vec = model.encode(answer or " ")
        expected = float(np.dot(ref, vec) / (np.linalg.norm(ref) * np.linalg.norm(vec)))
        assert value == pytest.approx(expected, abs=1e-5)
    assert got[0] > 0.99 and got[1] < 0.5


def test_pass_rule() -> None:
    ok = {
        "semantic_similarity": Score("semantic_similarity", 0.8),
        "abstention": Score.not_applicable("abstention", "answerable"),
    }
    assert _passes(item("a"), ok, {"semantic_similarity": ">= 0.7"}, [])
    assert not _passes(item("a"), ok, {"semantic_similarity": ">= 0.9"}, [])
    assert not _passes(
        item("a"), ok, {"semantic_similarity": ">= 0.7"}, ["pii_leak: phone"]
    )  # a finding fails it
    assert not _passes(item("a", error="HTTP 500"), ok, {}, [])
    unscored = {"semantic_similarity": Score.unscored("semantic_similarity", "embedding failed")}
    assert not _passes(
        item("a"), unscored, {"semantic_similarity": ">= 0.0"}, []
    )  # NaN never passes
    declined = {"abstention": Score("abstention", 1.0)}
    assert _passes(
        item("I don't know.", category="unanswerable"),
        declined,
        {"semantic_similarity": ">= 0.7"},
        [],
    )
    assert parse_rule(">= 0.7") == (">=", 0.7) and parse_rule("<2") == ("<", 2.0)


def test_judge_schema_is_tightened_for_tiny_models() -> None:
    from pydantic import BaseModel

    class Verdict(BaseModel):
        statement: str
        reason: str
        verdict: int

    class Verdicts(BaseModel):
        statements: list[Verdict]

    schema = tighten_schema(Verdicts.model_json_schema())
    inner = schema["properties"]["statements"]
    assert inner["minItems"] == 1 and inner["maxItems"] == 6
    props = inner["items"]["properties"]
    assert props["verdict"]["enum"] == [0, 1]
    assert (
        props["statement"]["pattern"].startswith("^[A-Za-z0-9]")
        and "maxLength" not in props["statement"]
    )
    assert inner["items"]["additionalProperties"] is False and set(inner["items"]["required"]) == {
        "statement",
        "reason",
        "verdict",
    }
    import json

    from llama_cpp.llama_grammar import (
        LlamaGrammar,  # the schema compiles to a grammar (no silent fallback)
    )

    LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
