"""The call cache and the embedding cache, on the shared key-value store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from workbench import _paths
from workbench.errors import WorkbenchError
from workbench.models import CallCache, Generation, Message, Usage, call_key, embeddings
from workbench.spec import GenerationParams

MESSAGES = [Message(role="user", content="hi")]


def test_call_cache_keeps_successes_only(tmp_path: Path) -> None:
    cache = CallCache(tmp_path / "calls.sqlite")
    key = call_key({"provider": "x"}, GenerationParams(), MESSAGES)
    cache.put(key, Generation.failed("HTTP 500", attempts=3))
    assert cache.get(key) is None and len(cache) == 0  # a rerun retries failures
    good = Generation(text="hello", usage=Usage(prompt_tokens=3, completion_tokens=1), attempts=2)
    cache.put(key, good)
    assert cache.get(key) == good and len(cache) == 1
    assert (cache.hits, cache.misses) == (1, 1)
    # stored where the resume tooling reads it: table ``calls``, column ``key``
    rows = sqlite3.connect(tmp_path / "calls.sqlite").execute("SELECT key FROM calls").fetchall()
    assert rows == [(key,)]


def test_call_cache_treats_an_unreadable_entry_as_a_miss(tmp_path: Path) -> None:
    cache = CallCache(tmp_path / "calls.sqlite")
    cache._store.put("k", "{not a generation")
    assert cache.get("k") is None


def test_a_corrupted_call_cache_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    path.write_bytes(b"junk" * 1000)
    with pytest.raises(WorkbenchError) as caught:
        CallCache(path).get("k")
    assert caught.value.where == str(path)


def vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=embeddings.DIM).astype("float32")
    return v / np.linalg.norm(v)


def test_embedding_cache_round_trip_follows_the_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = {embeddings._key("a"): vector(1), embeddings._key("b"): vector(2)}
    embeddings._store(keys)
    found = embeddings._cached(set(keys) | {"missing"})
    assert set(found) == set(keys)
    for key, v in keys.items():
        assert np.array_equal(found[key], v)
    assert (_paths.cache_dir() / "embeddings.sqlite").is_file()
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert embeddings._cached(set(keys)) == {}  # another cache dir, another store


def test_embedding_cache_is_best_effort_on_a_corrupted_file() -> None:
    (_paths.cache_dir() / "embeddings.sqlite").write_bytes(b"junk" * 1000)
    embeddings._store({"k": vector(3)})  # dropped, not raised
    assert embeddings._cached({"k"}) == {}


def test_embedding_cache_skips_vectors_of_the_wrong_shape() -> None:
    store = embeddings._store_here()
    assert store is not None
    store.put("short", np.zeros(3, dtype="float32").tobytes())
    assert embeddings._cached({"short"}) == {}
