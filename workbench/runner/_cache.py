"""A content-hash cache of model calls (sqlite, WAL): unchanged calls are never repeated.

Key = model identity (GGUF digest or endpoint + model id) + generation params + the
rendered messages. Only successful generations are stored, so a rerun retries failures.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.models import Generation, Message
from workbench.spec import GenerationParams

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    generation TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""


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
    """Thread-safe; one connection guarded by a lock (writes are tiny and rare next to a call)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(_SCHEMA)
        self._conn.commit()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Generation | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT generation FROM calls WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        return Generation.model_validate_json(row[0])

    def put(self, key: str, generation: Generation) -> None:
        if not generation.ok:
            return
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO calls (key, generation, created_at) VALUES (?, ?, ?)",
                (key, generation.model_dump_json(), time.time()),
            )
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
