"""none, bm25 (bm25s), dense (MiniLM), hybrid (reciprocal-rank fusion)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.data import Corpus
from workbench.retrievers._base import Passage, cached_index, index_key, to_passages
from workbench.spec import RetrieverSpec

_STOPWORDS = "en"


class NoRetriever:
    """No retrieval: the model answers from what it knows."""

    def __init__(self, spec: RetrieverSpec, corpus: Corpus | None = None):
        self.spec = spec

    def retrieve(self, query: str, *, k: int) -> list[Passage]:
        return []

    def retrieve_many(self, queries: Sequence[str], *, k: int) -> list[list[Passage]]:
        return [[] for _ in queries]


class BM25Retriever:
    """Okapi BM25 (bm25s, Lucene variant) over the chunks, English stopwords removed."""

    def __init__(self, spec: RetrieverSpec, corpus: Corpus):
        import bm25s

        self.spec = spec
        self.chunks = corpus.chunks(spec.chunk_size, spec.chunk_overlap)

        def build(folder: Path) -> None:
            tokens = bm25s.tokenize(
                [f"{c.title}\n{c.text}" for c in self.chunks],
                stopwords=_STOPWORDS,
                show_progress=False,
            )
            index = bm25s.BM25()
            index.index(tokens, show_progress=False)
            index.save(str(folder), show_progress=False)
            (folder / "chunks.json").write_text(json.dumps([c.id for c in self.chunks]))

        folder = cached_index(index_key(spec, corpus, "bm25"), build)
        self._index = bm25s.BM25.load(str(folder), show_progress=False)

    def scores(self, query: str) -> Any:
        import bm25s

        tokens = bm25s.tokenize(
            [query], stopwords=_STOPWORDS, return_ids=False, show_progress=False
        )[0]
        known = [t for t in tokens if t in self._index.vocab_dict]
        import numpy as np

        if not known:
            return np.zeros(len(self.chunks), dtype="float32")
        return self._index.get_scores(known)

    def retrieve(self, query: str, *, k: int) -> list[Passage]:
        import numpy as np

        scores = self.scores(query)
        order = np.argsort(-scores, kind="stable")[: min(k, len(self.chunks))]
        return to_passages(
            self.chunks, [(int(i), float(scores[i])) for i in order if scores[i] > 0]
        )

    def retrieve_many(self, queries: Sequence[str], *, k: int) -> list[list[Passage]]:
        return [self.retrieve(q, k=k) for q in queries]


class DenseRetriever:
    """Cosine similarity of MiniLM embeddings (packaged with the workbench, offline)."""

    def __init__(self, spec: RetrieverSpec, corpus: Corpus):
        import numpy as np

        from workbench.models.embeddings import embed

        self.spec = spec
        self.chunks = corpus.chunks(spec.chunk_size, spec.chunk_overlap)

        def build(folder: Path) -> None:
            vectors = embed([f"{c.title}\n{c.text}" for c in self.chunks])
            np.save(folder / "embeddings.npy", vectors)
            (folder / "chunks.json").write_text(json.dumps([c.id for c in self.chunks]))

        folder = cached_index(index_key(spec, corpus, "dense"), build)
        self._vectors = np.load(folder / "embeddings.npy")

    def similarities(self, queries: Sequence[str]) -> Any:
        from workbench.models.embeddings import embed

        return embed(list(queries)) @ self._vectors.T

    def retrieve(self, query: str, *, k: int) -> list[Passage]:
        return self.retrieve_many([query], k=k)[0]

    def retrieve_many(self, queries: Sequence[str], *, k: int) -> list[list[Passage]]:
        import numpy as np

        sims = self.similarities(queries)
        out = []
        for row in sims:
            order = np.argsort(-row, kind="stable")[: min(k, len(self.chunks))]
            out.append(to_passages(self.chunks, [(int(i), float(row[i])) for i in order]))
        return out


class HybridRetriever:
    """Reciprocal-rank fusion of BM25 and dense rankings: score = sum 1 / (rrf_k + rank)."""

    def __init__(self, spec: RetrieverSpec, corpus: Corpus):
        self.spec = spec
        self.bm25 = BM25Retriever(spec, corpus)
        self.dense = DenseRetriever(spec, corpus)
        self.chunks = self.bm25.chunks

    def retrieve(self, query: str, *, k: int) -> list[Passage]:
        return self.retrieve_many([query], k=k)[0]

    def retrieve_many(self, queries: Sequence[str], *, k: int) -> list[list[Passage]]:
        depth = max(4 * k, 20)
        dense = self.dense.retrieve_many(queries, k=depth)
        out = []
        for query, dense_hits in zip(queries, dense, strict=True):
            fused: dict[int, float] = {}
            index = {c.id: i for i, c in enumerate(self.chunks)}
            for hits in (self.bm25.retrieve(query, k=depth), dense_hits):
                for p in hits:
                    i = index[p.chunk_id]
                    fused[i] = fused.get(i, 0.0) + 1.0 / (self.spec.rrf_k + p.rank)
            ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
            out.append(to_passages(self.chunks, ranked))
        return out
