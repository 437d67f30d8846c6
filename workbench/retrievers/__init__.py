"""Retrievers: none, bm25, dense, hybrid, and plugins; indexes cached on disk per (corpus, config)."""

from workbench.retrievers._base import BatchRetriever, Passage, Retriever, cached_index, index_key
from workbench.retrievers._impl import BM25Retriever, DenseRetriever, HybridRetriever, NoRetriever
from workbench.retrievers._registry import build_retriever, register, retriever_types

__all__ = [
    "BM25Retriever",
    "BatchRetriever",
    "DenseRetriever",
    "HybridRetriever",
    "NoRetriever",
    "Passage",
    "Retriever",
    "build_retriever",
    "cached_index",
    "index_key",
    "register",
    "retriever_types",
]
