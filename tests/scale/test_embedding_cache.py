"""MiniLM embeddings are cached by content: an unchanged rerun embeds nothing and never
loads the model (it was half of such a rerun's time, benchmarks/cache_rerun.py).

A fake encoder stands in for MiniLM here (this tests the cache's logic); the real
model goes through the same code in the retriever and scorer tests."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.models import embeddings


class _Encoder:
    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def encode(self, texts, **kwargs):
        self.seen.append(list(texts))
        rng = [np.random.default_rng(abs(hash(t)) % 2**32) for t in texts]
        vectors = np.stack([r.normal(size=embeddings.DIM) for r in rng])
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def encoder(monkeypatch: pytest.MonkeyPatch) -> _Encoder:
    fake = _Encoder()
    monkeypatch.setattr(embeddings, "embedder", lambda: fake)
    return fake


def test_each_text_is_embedded_once_across_calls(encoder: _Encoder) -> None:
    first = embeddings.embed(["alpha", "beta", "alpha"])
    assert encoder.seen == [["alpha", "beta"]]
    assert first.shape == (3, embeddings.DIM) and first.dtype == np.float32
    assert np.array_equal(first[0], first[2])

    second = embeddings.embed(["beta", "gamma"])
    assert encoder.seen == [["alpha", "beta"], ["gamma"]]  # only the new text
    assert np.array_equal(second[0], first[1])


def test_a_rerun_never_loads_the_model(encoder: _Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["Who founded Acme Cloud?", "Maya Okafor and Tomas Brennan."]
    before = embeddings.embed(texts)

    def no_model():
        raise AssertionError("the model was loaded for cached texts")

    monkeypatch.setattr(embeddings, "embedder", no_model)
    again = embeddings.embed(texts)
    assert np.array_equal(before, again)
    with pytest.raises(AssertionError, match="model was loaded"):
        embeddings.embed(["a text never seen"])
