"""One small key-value store on sqlite (WAL): what the call, score and embedding caches use.

A store is one table ``(key TEXT PRIMARY KEY, value BLOB)`` in one file; a value is kept
as given (text or bytes). One connection per store, opened on first use and guarded by a
lock, so threads may share a store; other processes may use the same file at the same time
(sqlite's locking, WAL, and a 30 s busy timeout serialise the writers).

A table left by an older layout (other columns) is dropped and made again: it is a cache.
A store opened with ``best_effort=True`` never raises for its file: an unreadable, locked
or corrupted file reads as empty and drops writes. Otherwise a broken file raises a
:class:`~workbench.errors.WorkbenchError` that names it and says how to fix it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from workbench.errors import WorkbenchError

Value = str | bytes
_BATCH = 500  # keys per ``IN (...)`` query, well under sqlite's variable limit
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class KVStore:
    """``get`` / ``get_many`` what was stored under keys, ``put`` / ``put_many`` new values."""

    def __init__(self, path: Path, table: str, *, best_effort: bool = False):
        if not _TABLE_NAME.fullmatch(table):
            raise ValueError(f"not a table name: {table!r}")
        self.path = path
        self.table = table
        self.best_effort = best_effort
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    # ------------------------------------------------------------------ reading and writing

    def get(self, key: str) -> Value | None:
        with self._lock:
            try:
                sql = f"SELECT value FROM {self.table} WHERE key = ?"
                row = self._connection().execute(sql, (key,)).fetchone()
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc, "read")
                return None
        return None if row is None else row[0]

    def get_many(self, keys: Iterable[str]) -> dict[str, Value]:
        """The stored values of those keys that have one."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Value] = {}
        if not wanted:
            return found
        with self._lock:
            try:
                conn = self._connection()
                for start in range(0, len(wanted), _BATCH):
                    part = wanted[start : start + _BATCH]
                    marks = ",".join("?" * len(part))
                    sql = f"SELECT key, value FROM {self.table} WHERE key IN ({marks})"
                    found.update(conn.execute(sql, part).fetchall())
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc, "read")
                return {}
        return found

    def put(self, key: str, value: Value) -> None:
        with self._lock:
            try:
                conn = self._connection()
                with conn:
                    sql = f"INSERT OR REPLACE INTO {self.table} (key, value) VALUES (?, ?)"
                    conn.execute(sql, (key, value))
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc, "write")

    def put_many(self, items: Mapping[str, Value] | Iterable[tuple[str, Value]]) -> None:
        """Store (or replace) values, all in one transaction."""
        rows = list(items.items() if isinstance(items, Mapping) else items)
        if not rows:
            return
        with self._lock:
            try:
                conn = self._connection()
                with conn:  # one transaction: committed, or rolled back on error
                    conn.executemany(
                        f"INSERT OR REPLACE INTO {self.table} (key, value) VALUES (?, ?)", rows
                    )
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc, "write")

    def __len__(self) -> int:
        with self._lock:
            try:
                row = self._connection().execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc, "read")
                return 0
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    # ------------------------------------------------------------------ the connection

    def _connection(self) -> sqlite3.Connection:
        """The open connection (made again in a forked child: one must not cross a fork)."""
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        self._conn = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # safe in WAL; a crash loses no older rows
            self._ensure_table(conn)
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _ensure_table(self, conn: sqlite3.Connection) -> None:
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({self.table})")]
        if columns == ["key", "value"]:
            return
        with conn:
            if columns:  # an older layout of this cache: its entries are not readable here
                conn.execute(f"DROP TABLE IF EXISTS {self.table}")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (key TEXT PRIMARY KEY, value BLOB NOT NULL)"
            )

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def _failed(self, exc: BaseException, action: str) -> None:
        """Best effort: forget the connection (the next use tries again). Else raise."""
        self._drop_connection()
        if self.best_effort:
            return
        raise WorkbenchError(
            f"cannot {action} the cache ({type(exc).__name__}: {exc})",
            where=self.path,
            hint="if the file is damaged, delete it: the cache fills again on the next run",
        ) from exc
