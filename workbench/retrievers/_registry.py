"""Retrievers by type name, through the one plugin registry (:data:`workbench.plugins.RETRIEVERS`).

A retriever type is a class (or factory) called as ``cls(spec, corpus)`` that returns a
:class:`Retriever`; built-in types are ``"module:Class"`` strings imported on first use,
installed packages add theirs through the ``workbench.retrievers`` entry-point group, code
through :func:`register`. A spec names the type (``retriever: [bm25, splade]``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from workbench.data import Corpus
from workbench.errors import RetrieverError
from workbench.plugins import RETRIEVERS
from workbench.retrievers._base import BatchRetriever, Passage, Retriever
from workbench.spec import RetrieverSpec


def register(name: str, target: str | Callable[..., Any]) -> None:
    """Register a retriever type: ``register("splade", "pkg.mod:SpladeRetriever")`` (imported
    on first use) or the class itself; it is called as ``SpladeRetriever(spec, corpus)``."""
    RETRIEVERS.register(name, target)


def retriever_types() -> list[str]:
    return RETRIEVERS.names()


class _OneByOne:
    """Batches for a retriever that only answers one query at a time."""

    def __init__(self, inner: Retriever):
        self.inner = inner

    def retrieve(self, query: str, *, k: int) -> list[Passage]:
        return self.inner.retrieve(query, k=k)

    def retrieve_many(self, queries: Sequence[str], *, k: int) -> list[list[Passage]]:
        return [self.inner.retrieve(q, k=k) for q in queries]


def build_retriever(spec: RetrieverSpec, corpus: Corpus | None) -> BatchRetriever:
    """Build (or load from the disk cache) the retriever ``spec`` describes."""
    make = RETRIEVERS.get(spec.type)
    if spec.type != "none" and corpus is None:
        raise RetrieverError(f"retriever '{spec.label}' needs a corpus")
    built = make(spec, corpus)
    if not callable(getattr(built, "retrieve", None)):
        raise RetrieverError(
            f"retriever type '{spec.type}' made a {type(built).__name__}, "
            "which has no retrieve(query, *, k) method"
        )
    return built if callable(getattr(built, "retrieve_many", None)) else _OneByOne(built)
