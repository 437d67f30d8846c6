"""Retrieval rank metrics at the document level, from the reference document ids.

Chunks are mapped to their document and de-duplicated (first rank kept), so a document
retrieved as three chunks counts once. Relevance is binary. Samples without reference
documents (unanswerable questions) are not scored: NaN with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from workbench.records import NA, Score


def dedupe(doc_ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(doc_ids))


def hit_at_k(retrieved: Sequence[str], relevant: set[str], k: int) -> float:
    return float(any(d in relevant for d in dedupe(retrieved)[:k]))


def recall_at_k(retrieved: Sequence[str], relevant: set[str], k: int) -> float:
    return len(set(dedupe(retrieved)[:k]) & relevant) / len(relevant)


def reciprocal_rank(retrieved: Sequence[str], relevant: set[str]) -> float:
    for rank, doc in enumerate(dedupe(retrieved), start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(retrieved: Sequence[str], relevant: set[str], k: int) -> float:
    gains = [1.0 if d in relevant else 0.0 for d in dedupe(retrieved)[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal


def rank_scores(
    retrieved_doc_ids: Sequence[str], reference_ids: Sequence[str], k: int
) -> list[Score]:
    """hit@k, recall@k, mrr, ndcg@k for one sample (k = the retriever's k)."""
    names = ("hit_at_k", "recall_at_k", "mrr", "ndcg_at_k")
    relevant = set(reference_ids)
    if not relevant:
        return [
            Score.unscored(n, f"{NA}no reference documents (unanswerable question)") for n in names
        ]
    return [
        Score("hit_at_k", hit_at_k(retrieved_doc_ids, relevant, k)),
        Score("recall_at_k", recall_at_k(retrieved_doc_ids, relevant, k)),
        Score("mrr", reciprocal_rank(retrieved_doc_ids, relevant)),
        Score("ndcg_at_k", ndcg_at_k(retrieved_doc_ids, relevant, k)),
    ]
