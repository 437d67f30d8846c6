"""A new sqlite store is a copy of MLflow's empty schema (made once per MLflow version by
MLflow's own migrations) and equals a store MLflow makes itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

from workbench.tracking import _store


def _clauses(sql: str | None) -> list[str]:
    """A definition's clauses, in order: MLflow's own migrations emit the runs table's CHECK
    constraints in varying order (two stores MLflow makes in one process can differ)."""
    return sorted(line.strip().rstrip(",").strip() for line in (sql or "").splitlines())


def _dump(db: Path) -> dict[str, list[object]]:
    """Every table's definition and rows (sqlite's own bookkeeping left out)."""
    with sqlite3.connect(db) as con:
        tables = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        out: dict[str, list[object]] = {"schema": [(n, _clauses(sql)) for n, sql in tables]}
        for name, sql in tables:
            if sql and sql.startswith("CREATE TABLE"):
                out[name] = sorted(map(repr, con.execute(f'SELECT * FROM "{name}"')))
    return out


def _uri(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user-cache"
    monkeypatch.setenv("WORKBENCH_USER_CACHE", str(folder))
    return folder


def test_new_store_from_the_template_equals_mlflows_own(
    tmp_path: Path, user_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.store.db.utils as db_utils

    own = tmp_path / "own" / "mlflow.db"  # made by MLflow alone
    own.parent.mkdir()
    SqlAlchemyStore(_uri(own), str(own.parent / "artifacts")).engine.dispose()

    first = tmp_path / "first" / "mlflow.db"
    _store.ensure_store(_uri(first))  # makes the template with MLflow's migrations
    templates = list((user_cache / "mlflow-schema").glob("*.db"))
    assert len(templates) == 1
    made_at = templates[0].stat().st_mtime_ns

    def no_migrations(*_a: object) -> None:
        raise AssertionError("migrations ran for a store the template could make")

    monkeypatch.setattr(db_utils, "_initialize_tables", no_migrations)
    second = tmp_path / "second" / "mlflow.db"
    _store.ensure_store(_uri(second))
    assert templates[0].stat().st_mtime_ns == made_at  # copied, not remade

    expected = _dump(own)
    for made in (first, second):
        got = _dump(made)
        assert got.keys() == expected.keys()
        for table in expected:  # every table's definition and rows, but the experiment's
            if table != "experiments":  # creation time and artifact location
                assert got[table] == expected[table], table
        assert len(got["experiments"]) == 1
        # the default experiment keeps its artifacts beside its own store
        (experiment,) = sqlite3.connect(made).execute("SELECT artifact_location FROM experiments")
        assert experiment[0] == (made.parent / "artifacts" / "0").as_uri()
        assert not list(made.parent.glob(".*.new"))  # no half-copied file left
    assert sqlite3.connect(second).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_broken_template_is_made_again(tmp_path: Path, user_cache: Path) -> None:
    _store.ensure_store(_uri(tmp_path / "a" / "mlflow.db"))
    (template,) = (user_cache / "mlflow-schema").glob("*.db")
    template.write_bytes(b"not a database")

    store = tmp_path / "b" / "mlflow.db"
    _store.ensure_store(_uri(store))
    assert _store._revision(template) == _store._revision(store) is not None
    assert SqlAlchemyStore(_uri(store), str(tmp_path / "b")).get_experiment("0").name == "Default"


def test_no_writable_user_cache_still_makes_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("WORKBENCH_USER_CACHE", str(blocker / "cache"))  # cannot be a folder
    store = tmp_path / "s" / "mlflow.db"
    _store.ensure_store(_uri(store))
    assert _store._revision(store) is not None
    assert not list(store.parent.glob(".*.new"))
