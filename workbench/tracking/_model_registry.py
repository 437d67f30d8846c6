"""Registered models and their versions: the candidate bundles, the ``champion`` alias,
model tags, and the lock that serialises decisions on one model.

A candidate bundle is a LoggedModel (no weights) of the experiment, ``model_type``
``workbench-bundle``, with ``bundle.json`` and ``evidence/*`` artifacts, registered as a
version of the registered model named after the experiment. The queue is the versions
tagged ``approval.status=pending``; the production pointer is the alias ``champion``.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.errors import NotFoundError
from workbench.tracking._runs import TAG_EXPERIMENT
from workbench.tracking._store import (
    delete_unless_missing,
    ensure_store,
    experiment_id,
    failed,
    file_lock,
    process_client,
    sqlite_path,
    unless_missing,
)

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel

T = TypeVar("T")

CHAMPION = "champion"
STATUS = "approval.status"
BUNDLE_FILE = "bundle.json"
MODEL_TYPE = "workbench-bundle"


@dataclass(frozen=True)
class VersionInfo:
    """One registered model version, as the promotion service sees it."""

    name: str
    version: str
    tags: dict[str, str]
    run_id: str | None
    model_id: str | None
    created_ms: int
    aliases: tuple[str, ...] = ()
    description: str = ""

    @property
    def status(self) -> str:
        return self.tags.get(STATUS, "unknown")


def _version_info(mv: ModelVersion) -> VersionInfo:
    source = str(mv.source or "")
    model_id = (
        source.removeprefix("models:/").split("/")[0] if source.startswith("models:/") else None
    )
    return VersionInfo(
        name=mv.name,
        version=str(mv.version),
        tags=dict(mv.tags or {}),
        run_id=mv.run_id,
        model_id=model_id,
        created_ms=int(mv.creation_timestamp or 0),
        aliases=tuple(mv.aliases or ()),
        description=mv.description or "",
    )


def registered_model_exists(name: str, uri: str | None = None) -> bool:
    return _registered_model(name, uri) is not None


def _registered_model(name: str, uri: str | None) -> RegisteredModel | None:
    mlflow_client = process_client(uri)
    return unless_missing(
        lambda: mlflow_client.get_registered_model(name), f"reading registered model '{name}'"
    )


def register_bundle(
    *,
    experiment: str,
    source_run_id: str,
    params: Mapping[str, str],
    tags: Mapping[str, str],
    version_tags: Mapping[str, str],
    artifacts: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame] | None = None,
    description: str = "",
    uri: str | None = None,
) -> VersionInfo:
    """Log a weightless LoggedModel with ``artifacts`` (JSON) and ``tables`` (pandas
    ``split`` JSON), then register it as a new version of the model named ``experiment``."""
    from mlflow.entities import LoggedModelStatus

    mlflow_client = process_client(uri)
    exp_id = experiment_id(experiment, uri)
    try:
        logged = mlflow_client.create_logged_model(
            exp_id,
            name=f"{experiment}-bundle",
            source_run_id=source_run_id,
            params={k: str(v)[:6000] for k, v in params.items()},
            tags=dict(tags),
            model_type=MODEL_TYPE,
        )
    except Exception as exc:
        raise failed(exc, "creating the logged model") from exc
    model_id = logged.model_id
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for name, data in artifacts.items():
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
            for name, frame in (tables or {}).items():
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                frame.to_json(target, orient="split", index=False, default_handler=str)
            mlflow_client.log_model_artifacts(model_id, str(root))
        mlflow_client.finalize_logged_model(model_id, LoggedModelStatus.READY)
        if not registered_model_exists(experiment, uri):
            try:
                mlflow_client.create_registered_model(
                    experiment,
                    tags={TAG_EXPERIMENT: experiment},
                    description=f"Candidate bundles of workbench experiment '{experiment}'.",
                )
            except Exception as exc:  # another process created it first
                if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                    raise
        mv = mlflow_client.create_model_version(
            experiment,
            source=f"models:/{model_id}",
            run_id=source_run_id,
            tags=dict(version_tags),
            description=description,
            model_id=model_id,
        )
        mlflow_client.set_logged_model_tags(
            model_id, {"workbench.registered_version": f"{experiment}/{mv.version}"}
        )
    except Exception as exc:
        with contextlib.suppress(Exception):
            mlflow_client.finalize_logged_model(model_id, LoggedModelStatus.FAILED)
        raise failed(exc, "registering the candidate bundle") from exc
    return _version_info(mlflow_client.get_model_version(experiment, mv.version))


def version(name: str, number: str | int, uri: str | None = None) -> VersionInfo:
    mlflow_client = process_client(uri)
    mv = unless_missing(
        lambda: mlflow_client.get_model_version(name, str(number)),
        f"reading {name} version {number}",
    )
    if mv is None:
        raise NotFoundError(f"registered model '{name}' has no version {number}")
    return _version_info(mv)


def versions(
    name: str | None = None, *, status: str | None = None, uri: str | None = None
) -> list[VersionInfo]:
    """Workbench bundle versions (of one registered model or all), newest first."""
    mlflow_client = process_client(uri)
    parts = [f"tags.`{STATUS}` = '{status}'" if status else f"tags.`{STATUS}` LIKE '%'"]
    if name:
        parts.insert(0, f"name = '{name}'")
    found = []
    token = None
    while True:
        page = mlflow_client.search_model_versions(
            " AND ".join(parts), max_results=1000, page_token=token
        )
        found.extend(page)
        token = getattr(page, "token", None)
        if not token:
            break
    out = [_version_info(mv) for mv in found]
    return sorted(out, key=lambda v: (v.name, -int(v.version)))


def set_version_tags(
    name: str, number: str, tags: Mapping[str, str | None], uri: str | None = None
) -> None:
    """Set tags on a version (``None`` deletes the tag)."""
    mlflow_client = process_client(uri)
    for key, value in tags.items():
        if value is None:
            with contextlib.suppress(Exception):
                mlflow_client.delete_model_version_tag(name, number, key)
        else:
            mlflow_client.set_model_version_tag(name, number, key, value)


def set_version_description(name: str, number: str, text: str, uri: str | None = None) -> None:
    """Replace a version's description (markdown, shown on its page in the MLflow UI)."""
    process_client(uri).update_model_version(name, str(number), description=text)


def _model_artifact(mlflow_client: Any, model_id: str, path: str, tmp: str) -> Path:
    import mlflow

    logged = mlflow_client.get_logged_model(model_id)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{logged.artifact_location.rstrip('/')}/{path}", dst_path=tmp
    )
    return Path(local)


def model_json(model_id: str, path: str, uri: str | None = None) -> Any:
    """A JSON artifact of a logged model (None when it has none)."""
    return _read_model_artifact(
        model_id, path, uri, lambda local: json.loads(local.read_text(encoding="utf-8"))
    )


def model_table(model_id: str, path: str, uri: str | None = None) -> pd.DataFrame | None:
    """A table artifact (pandas ``split`` JSON) of a logged model (None when it has none)."""
    import pandas as pd

    return _read_model_artifact(
        model_id, path, uri, lambda local: pd.read_json(local, orient="split", dtype=False)
    )


def _read_model_artifact(
    model_id: str, path: str, uri: str | None, read: Callable[[Path], T]
) -> T | None:
    mlflow_client = process_client(uri)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = _model_artifact(mlflow_client, model_id, path, tmp)
        except Exception:
            return None
        return read(local)


# --------------------------------------------------------------------------- champion


def champion(name: str, uri: str | None = None) -> str | None:
    """The version the ``champion`` alias points at (None: no champion yet)."""
    mlflow_client = process_client(uri)
    found = unless_missing(
        lambda: mlflow_client.get_model_version_by_alias(name, CHAMPION),
        f"reading the champion of '{name}'",
    )
    return None if found is None else str(found.version)


def set_champion(name: str, number: str | None, uri: str | None = None) -> None:
    """Point ``champion`` at ``number`` (None removes the alias)."""
    mlflow_client = process_client(uri)
    if number is None:
        delete_champion(name, uri)
        return
    mlflow_client.set_registered_model_alias(name, CHAMPION, str(number))


def delete_champion(name: str, uri: str | None = None) -> None:
    mlflow_client = process_client(uri)
    delete_unless_missing(lambda: mlflow_client.delete_registered_model_alias(name, CHAMPION))


def model_tag(name: str, key: str, uri: str | None = None) -> str | None:
    """A tag of the registered model ``name`` (None when absent)."""
    model = _registered_model(name, uri)
    return None if model is None else (model.tags or {}).get(key)


def set_model_tag(name: str, key: str, value: str | None, uri: str | None = None) -> None:
    """Set (None: delete) a tag of the registered model ``name``."""
    mlflow_client = process_client(uri)
    if value is None:
        delete_unless_missing(lambda: mlflow_client.delete_registered_model_tag(name, key))
    else:
        mlflow_client.set_registered_model_tag(name, key, value)


@contextlib.contextmanager
def side_lock(kind: str, name: str, uri: str | None = None) -> Iterator[None]:
    """A file lock ``<store>.<kind>-<name>.lock`` beside a local sqlite store (a server
    store: no lock; it relies on the short read-check-write window)."""
    uri = ensure_store(uri)
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    with file_lock(path.with_name(f"{path.name}.{kind}-{safe}.lock")):
        yield


def promotion_lock(name: str, uri: str | None = None) -> contextlib.AbstractContextManager[None]:
    """Serialise decisions on one registered model."""
    return side_lock("promotion", name, uri)
