"""A content-hash cache of model calls: unchanged calls are never repeated.

Key = model identity (GGUF digest or endpoint + model id) + generation params + the
rendered messages. Only successful generations are stored, so a rerun retries failures.
Used by the runner for the grid's calls and by scoring for the judge's calls; kept in
``<cache dir>/calls.sqlite`` (table ``calls``) through :class:`workbench._kvstore.KVStore`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workbench._kvstore import KVStore
from workbench.models._types import Generation, Message
from workbench.spec import GenerationParams


def call_key(
    identity: Mapping[str, Any], params: GenerationParams, messages: Sequence[Message]
) -> str:
    payload = json.dumps(
        {
            "model": dict(identity),
            "params": params.model_dump(mode="json"),
            "messages": [[m.role, m.content] for m in messages],
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class CallCache:
    """Thread-safe; a broken file raises a ``WorkbenchError`` naming it (the cache is what
    a resumed run relies on, so it does not fail silently)."""

    def __init__(self, path: Path):
        self.path = path
        self._store = KVStore(path, "calls")
        self._count_lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Generation | None:
        stored = self._store.get(key)
        generation = None
        if stored is not None:
            try:
                generation = Generation.model_validate_json(stored)
            except ValidationError:  # written by an incompatible version: call again
                generation = None
        with self._count_lock:
            if generation is None:
                self.misses += 1
            else:
                self.hits += 1
        return generation

    def put(self, key: str, generation: Generation) -> None:
        if generation.ok:
            self._store.put(key, generation.model_dump_json())

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        self._store.close()
