"""Rank metrics against an independent implementation (pytrec_eval) and hand-computed cases."""

from __future__ import annotations

import math
import random

import pytest
import pytrec_eval

from workbench.scoring._rank import hit_at_k, ndcg_at_k, rank_scores, recall_at_k, reciprocal_rank


def test_hand_computed_case() -> None:
    retrieved = ["a", "b", "a", "c"]  # "a" twice: chunks of one document count once
    relevant = {"b", "c"}
    assert hit_at_k(retrieved, relevant, 1) == 0.0
    assert hit_at_k(retrieved, relevant, 2) == 1.0
    assert recall_at_k(retrieved, relevant, 2) == 0.5
    assert reciprocal_rank(retrieved, relevant) == 0.5
    # de-duplicated ranking a, b, c: DCG = 1/log2(3) + 1/log2(4); IDCG = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(retrieved, relevant, 3) == pytest.approx(expected, abs=1e-12)


def test_unanswerable_is_unscored_not_zero() -> None:
    scores = rank_scores(["a"], [], 3)
    assert all(math.isnan(s.value) and "unanswerable" in (s.reason or "") for s in scores)


def test_agrees_with_pytrec_eval_on_random_runs() -> None:
    rng = random.Random(7)
    docs = [f"d{i}" for i in range(30)]
    for k in (1, 3, 5):
        qrels, run, ours = {}, {}, {}
        for q in range(200):
            relevant = set(rng.sample(docs, rng.randint(1, 4)))
            retrieved = rng.sample(docs, 10)
            qid = f"q{q}"
            qrels[qid] = {d: 1 for d in relevant}
            # scores strictly decreasing so pytrec_eval's ranking equals our order
            run[qid] = {d: float(10 - i) for i, d in enumerate(retrieved)}
            ours[qid] = {m.name: m.value for m in rank_scores(retrieved, sorted(relevant), k)}
        evaluator = pytrec_eval.RelevanceEvaluator(
            qrels, {f"recall.{k}", f"ndcg_cut.{k}", "recip_rank", f"success.{k}"}
        )
        theirs = evaluator.evaluate(run)
        for qid in qrels:
            assert ours[qid]["recall_at_k"] == pytest.approx(theirs[qid][f"recall_{k}"], abs=1e-9)
            assert ours[qid]["ndcg_at_k"] == pytest.approx(theirs[qid][f"ndcg_cut_{k}"], abs=1e-9)
            assert ours[qid]["mrr"] == pytest.approx(theirs[qid]["recip_rank"], abs=1e-9)
            assert ours[qid]["hit_at_k"] == pytest.approx(theirs[qid][f"success_{k}"], abs=1e-9)
