"""The one key-value store behind the call, score and embedding caches."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from workbench._kvstore import KVStore
from workbench.errors import WorkbenchError


def test_put_get_round_trip_keeps_text_and_bytes(tmp_path: Path) -> None:
    store = KVStore(tmp_path / "sub" / "kv.sqlite", "things")
    assert store.get("a") is None and len(store) == 0
    store.put("a", "text")
    values: dict[str, str | bytes] = {"b": b"\x00\xffbytes", "c": "3"}
    store.put_many(values)
    store.put("c", "replaced")
    assert store.get("a") == "text" and store.get("b") == b"\x00\xffbytes"
    assert store.get_many(["c", "missing", "a", "c"]) == {"c": "replaced", "a": "text"}
    assert store.get_many([]) == {} and len(store) == 3
    store.close()
    again = KVStore(tmp_path / "sub" / "kv.sqlite", "things")  # persisted, WAL on
    assert again.get("b") == b"\x00\xffbytes"
    mode = sqlite3.connect(tmp_path / "sub" / "kv.sqlite").execute("PRAGMA journal_mode")
    assert mode.fetchone()[0] == "wal"


def test_many_keys_are_read_in_batches(tmp_path: Path) -> None:
    store = KVStore(tmp_path / "kv.sqlite", "t")
    store.put_many((f"k{i}", str(i)) for i in range(1234))
    found = store.get_many(f"k{i}" for i in range(0, 2000, 3))
    assert found == {f"k{i}": str(i) for i in range(0, 1234, 3)}


def test_concurrent_writers_from_threads(tmp_path: Path) -> None:
    store = KVStore(tmp_path / "kv.sqlite", "t")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(100):
                store.put(f"{n}-{i}", f"{n}:{i}")
                assert store.get(f"{n}-{i}") == f"{n}:{i}"
            store.put_many({f"{n}-batch-{i}": "b" for i in range(50)})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(store) == 8 * 150
    assert len(KVStore(tmp_path / "kv.sqlite", "t")) == 8 * 150  # another connection agrees


def test_concurrent_writers_from_processes(tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite"
    code = (
        "import sys; from pathlib import Path; from workbench._kvstore import KVStore\n"
        "s = KVStore(Path(sys.argv[1]), 't')\n"
        "for i in range(200): s.put(f'{sys.argv[2]}-{i}', 'v')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), str(n)]) for n in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert len(KVStore(path, "t")) == 800


def test_two_tables_share_a_file(tmp_path: Path) -> None:
    a, b = KVStore(tmp_path / "kv.sqlite", "a"), KVStore(tmp_path / "kv.sqlite", "b")
    a.put("k", "from a")
    b.put("k", "from b")
    assert (a.get("k"), b.get("k")) == ("from a", "from b")


def test_a_table_of_an_older_layout_is_made_again(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE calls (key TEXT PRIMARY KEY, generation TEXT, created_at REAL)")
        conn.execute("INSERT INTO calls VALUES ('old', '{}', 0)")
    store = KVStore(path, "calls")
    assert store.get("old") is None
    store.put("new", "v")
    assert store.get("new") == "v" and len(store) == 1


def corrupt(path: Path) -> None:
    path.write_bytes(b"this is not a sqlite database, it is junk" * 100)


def test_a_corrupted_file_raises_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    corrupt(path)
    store = KVStore(path, "calls")
    with pytest.raises(WorkbenchError, match="cannot read the cache") as caught:
        store.get("k")
    assert caught.value.where == str(path) and "delete it" in str(caught.value)
    with pytest.raises(WorkbenchError, match="cannot write the cache"):
        store.put("k", "v")


def test_a_best_effort_store_reads_a_corrupted_file_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "embeddings.sqlite"
    corrupt(path)
    store = KVStore(path, "vectors", best_effort=True)
    assert store.get_many(["a", "b"]) == {} and store.get("a") is None
    store.put("a", b"v")  # dropped, not raised
    assert len(store) == 0
    path.unlink()  # once the file is gone, the same store works again
    store.put("a", b"v")
    assert store.get("a") == b"v"


def test_a_best_effort_store_survives_an_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = KVStore(blocker / "kv.sqlite", "t", best_effort=True)
    store.put("a", "v")
    assert store.get("a") is None


def test_table_names_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a table name"):
        KVStore(tmp_path / "kv.sqlite", "x; DROP TABLE y")
