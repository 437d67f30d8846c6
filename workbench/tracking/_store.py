"""The MLflow store: resolve the URI, create the sqlite schema once (WAL), find experiments.

This package is the only one in workbench that imports mlflow.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from workbench import _paths
from workbench.errors import TrackingError

T = TypeVar("T")

_READY: set[str] = set()
_READY_LOCK = threading.Lock()


def resolve_uri(uri: str | None = None) -> str:
    return uri or _paths.default_tracking_uri()


def sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :])


def artifact_root(uri: str) -> str | None:
    """Where artifacts of a local store go: ``artifacts/`` beside the sqlite file (never CWD)."""
    path = sqlite_path(uri)
    if path is None:
        return None  # a server proxies artifacts itself
    return (path.parent / "artifacts").resolve().as_uri()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_store(uri: str | None = None) -> str:
    """Make the store usable, once per process: sqlite schema + WAL, or a reachable server."""
    uri = resolve_uri(uri)
    with _READY_LOCK:
        if uri in _READY:
            return uri
        path = sqlite_path(uri)
        if path is not None:
            _init_sqlite(uri, path)
        elif urlparse(uri).scheme in ("http", "https"):
            _ping_server(uri)
        else:
            _init_database(uri)
        _READY.add(uri)
    return uri


def _init_sqlite(uri: str, path: Path) -> None:
    # A race on a brand-new sqlite file corrupts it: one process creates the schema under a
    # file lock, everyone else waits, then WAL mode (2.5x faster logging) is switched on.
    with file_lock(path.with_name(path.name + ".init.lock")):
        if not path.exists():
            _new_sqlite(path)
        _init_database(uri)
        try:
            with contextlib.closing(sqlite3.connect(str(path), timeout=30)) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise TrackingError(
                f"the MLflow store {path} is not a usable sqlite file ({exc})"
            ) from None


def _new_sqlite(path: Path) -> None:
    """A new store's file: a copy of the empty MLflow schema made once per MLflow version
    on this machine (MLflow's ~60 migrations take ~1.2 s, the copy ~5 ms). MLflow then opens
    it as any store at the current schema, and adds the default experiment. The copy is
    linked into place only if no file is there yet (another program may have just made
    one); any failure leaves no file behind, and MLflow creates the schema itself."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        template = _schema_template()
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, partial)
        os.link(partial, path)  # FileExistsError if one appeared meanwhile: that one stays
    except Exception as exc:  # an optimisation: MLflow's own way still works
        logging.getLogger(__name__).info("no schema template: %s: %s", type(exc).__name__, exc)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()


def _schema_template() -> Path:
    """``<user cache>/mlflow-schema/<mlflow version>.db``: MLflow's tables at their latest
    revision and nothing else (made by MLflow's own migrations, in a temporary file, then
    renamed into place, so a reader never sees half of it)."""
    import mlflow
    from mlflow.store.db.utils import (
        _get_latest_schema_revision,
        _initialize_tables,
        create_sqlalchemy_engine_with_retry,
    )

    folder = _paths.user_cache_dir() / "mlflow-schema"
    template = folder / f"{mlflow.__version__}.db"
    if _revision(template) == _get_latest_schema_revision():
        return template
    folder.mkdir(parents=True, exist_ok=True)
    fresh = folder / f".{template.name}.{os.getpid()}.{threading.get_ident()}"
    try:
        engine = create_sqlalchemy_engine_with_retry(f"sqlite:///{fresh}")
        try:
            _initialize_tables(engine)
        finally:
            engine.dispose()
        os.replace(fresh, template)
    finally:
        with contextlib.suppress(OSError):
            fresh.unlink()
    return template


def _revision(path: Path) -> str | None:
    """The schema revision of a sqlite store, None if it is no readable store."""
    if not path.is_file():
        return None
    try:
        with contextlib.closing(sqlite3.connect(str(path))) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _init_database(uri: str) -> None:
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        SqlAlchemyStore(uri, artifact_root(uri) or "./mlruns").engine.dispose()
    except Exception as exc:  # sqlalchemy / alembic / driver errors
        raise TrackingError(
            f"cannot open the MLflow store {redact(uri)}: {type(exc).__name__}: {str(exc).splitlines()[0]}",
            hint="check MLFLOW_TRACKING_URI, or start the store (make server)",
        ) from None


def _ping_server(uri: str) -> None:
    import httpx

    try:
        response = httpx.get(uri.rstrip("/") + "/health", timeout=10.0)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise TrackingError(
            f"the MLflow server {redact(uri)} is unreachable ({type(exc).__name__})",
            hint="start it with `make server` or fix MLFLOW_TRACKING_URI",
        ) from None


def redact(uri: str) -> str:
    """The URI without a password (postgresql://user:secret@host -> postgresql://user:***@host)."""
    parsed = urlparse(uri)
    if parsed.password:
        return uri.replace(f":{parsed.password}@", ":***@")
    return uri


@cache
def client(uri: str) -> Any:
    from mlflow import MlflowClient

    # MLflow logs a database error with its whole traceback before raising it; the
    # workbench raises it again as a TrackingError naming the store (the cause is chained,
    # `--debug` shows it), so the terminal gets one error line, not a traceback.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def get_client(uri: str | None = None) -> Any:
    return client(ensure_store(uri))


def process_client(uri: str | None = None) -> Any:
    """The client of a ready store that the process's fluent API points at too (registering
    ``models:/<id>`` and logging feedback resolve the store through the global client)."""
    uri = ensure_store(uri)
    set_process_uri(uri)
    return client(uri)


def is_missing(exc: Exception) -> bool:
    """Whether an MLflow error says the thing asked for does not exist."""
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE") or "not found" in str(exc)


def unless_missing(call: Callable[[], T], what: str) -> T | None:
    """``call()``, or None where MLflow says the thing asked for does not exist; any other
    MLflow error raised as a TrackingError saying that ``what`` failed."""
    try:
        return call()
    except Exception as exc:
        if is_missing(exc):
            return None
        raise failed(exc, what) from exc


def delete_unless_missing(call: Callable[[], object]) -> None:
    """Run a deleting ``call``; a thing already gone is no error."""
    try:
        call()
    except Exception as exc:
        if not is_missing(exc):
            raise


def failed(exc: Exception, what: str) -> TrackingError:
    """An MLflow error as a TrackingError saying what failed, in one line."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return TrackingError(f"{what} failed: {type(exc).__name__}: {first}")


def store_of(mlflow_client: Any) -> Any | None:
    """The tracking store behind an ``MlflowClient`` (None where the client hides it)."""
    return getattr(getattr(mlflow_client, "_tracking_client", None), "store", None)


def is_sql_store(store: Any) -> bool:
    """A SQLAlchemy tracking store (sqlite, PostgreSQL, MySQL): a database this process
    writes itself, rather than a server."""
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    except ImportError:
        return False
    return isinstance(store, SqlAlchemyStore)


def experiment_id(name: str, uri: str | None = None, *, create: bool = True) -> str | None:
    """The id of experiment ``name`` (created with its artifacts beside the store)."""
    from mlflow.exceptions import MlflowException

    uri = ensure_store(uri)
    mlflow_client = client(uri)
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            mlflow_client.restore_experiment(found.experiment_id)
        return str(found.experiment_id)
    if not create:
        return None
    root = artifact_root(uri)
    location = f"{root}/{name}" if root else None
    try:
        return str(mlflow_client.create_experiment(name, artifact_location=location))
    except MlflowException:  # another process created it first
        found = mlflow_client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


def set_process_uri(uri: str) -> None:
    """Point mlflow's fluent API (tracing, feedback) at ``uri`` in this process."""
    import mlflow

    if mlflow.get_tracking_uri() != uri:
        mlflow.set_tracking_uri(uri)
    if os.environ.get("MLFLOW_REGISTRY_URI") is None:
        mlflow.set_registry_uri(uri)
