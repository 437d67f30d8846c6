"""Retrievers: none, bm25, dense, hybrid; indexes cached on disk per (corpus, config)."""

from workbench.retrievers._base import Passage, Retriever, cached_index, index_key
from workbench.retrievers._impl import (
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    NoRetriever,
    build_retriever,
)

__all__ = [
    "BM25Retriever",
    "DenseRetriever",
    "HybridRetriever",
    "NoRetriever",
    "Passage",
    "Retriever",
    "build_retriever",
    "cached_index",
    "index_key",
]
