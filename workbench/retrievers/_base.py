"""The retriever contract and the on-disk index cache."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from workbench import _paths
from workbench.data import Chunk, Corpus
from workbench.spec import RetrieverSpec


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk, ranked from 1."""

    chunk_id: str
    doc_id: str
    title: str
    text: str
    score: float
    rank: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@runtime_checkable
class Retriever(Protocol):
    """What a retriever plugin implements: the ``k`` best passages for ``query``."""

    def retrieve(self, query: str, *, k: int) -> list[Passage]: ...


class BatchRetriever(Retriever, Protocol):
    """What :func:`~workbench.retrievers.build_retriever` returns: a retriever that also
    answers many queries at once (one embedding batch for dense retrieval)."""

    def retrieve_many(self, queries: Sequence[str], *, k: int) -> list[list[Passage]]: ...


def index_key(spec: RetrieverSpec, corpus: Corpus, kind: str) -> str:
    """Indexes are built once per (corpus digest, chunking, kind) and reused from disk."""
    payload = json.dumps(
        {
            "kind": kind,
            "corpus": corpus.digest,
            "size": spec.chunk_size,
            "overlap": spec.chunk_overlap,
        },
        sort_keys=True,
    )
    return f"{kind}-{hashlib.sha256(payload.encode()).hexdigest()[:16]}"


def cached_index(key: str, build: Callable[[Path], None]) -> Path:
    """The folder of index ``key``, built by ``build(tmp_dir)`` then renamed into place."""
    root = _paths.cache_dir() / "indexes"
    final = root / key
    if (final / "DONE").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{key}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    build(tmp)
    (tmp / "DONE").write_text("ok")
    try:
        os.replace(tmp, final)
    except OSError:  # another process won the race: theirs is as good as ours
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def to_passages(chunks: Sequence[Chunk], ranked: Sequence[tuple[int, float]]) -> list[Passage]:
    return [
        Passage(
            chunk_id=chunks[i].id,
            doc_id=chunks[i].doc_id,
            title=chunks[i].title,
            text=chunks[i].text,
            score=float(score),
            rank=rank,
        )
        for rank, (i, score) in enumerate(ranked, start=1)
    ]
