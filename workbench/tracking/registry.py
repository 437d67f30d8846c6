"""The MLflow model registry, logged models, prompt aliases and the promotion audit log.

This module is the only place in workbench that talks to those parts of MLflow; the
promotion service (:mod:`workbench.promotion`) calls it and never imports mlflow.

Storage layout:

- a candidate bundle is a LoggedModel (no weights) of the experiment, ``model_type``
  ``workbench-bundle``, with ``bundle.json`` and ``evidence/*`` artifacts, registered as a
  version of the registered model named after the experiment;
- the queue is the versions tagged ``approval.status=pending``; the production pointer
  is the registered-model alias ``champion`` plus the prompt alias ``production``;
- the audit log is one JSON artifact per event, ``audit/<utc stamp>-<event id>.json``,
  in a run of the experiment tagged ``workbench.role=audit``. Names are write-once: an
  event id that already exists is refused, and there is no update or delete function.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import NotFoundError, TrackingError
from workbench.tracking._store import (
    _file_lock,
    client,
    ensure_store,
    experiment_id,
    set_process_uri,
    sqlite_path,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AUDIT_DIR",
    "BUNDLE_FILE",
    "CHAMPION",
    "PRODUCTION",
    "STATUS",
    "AuditRecordExists",
    "PromptInfo",
    "RunInfo",
    "VersionInfo",
    "append_audit",
    "champion",
    "delete_champion",
    "model_json",
    "model_table",
    "promotion_lock",
    "prompt_alias",
    "prompt_version",
    "read_audit",
    "register_bundle",
    "registered_model_exists",
    "run_info",
    "run_text",
    "set_champion",
    "set_prompt_alias",
    "set_version_tags",
    "version",
    "versions",
]

CHAMPION = "champion"
PRODUCTION = "production"
STATUS = "approval.status"
BUNDLE_FILE = "bundle.json"
MODEL_TYPE = "workbench-bundle"
AUDIT_DIR = "audit"
AUDIT_ROLE = "audit"
TAG_ROLE = "workbench.role"
TAG_EXPERIMENT = "workbench.experiment"
_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class AuditRecordExists(TrackingError):
    """An audit event id is already in the log: records are write-once."""


# --------------------------------------------------------------------------- plain views


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


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    experiment: str
    status: str
    params: dict[str, str]
    tags: dict[str, str]
    parent_id: str | None


@dataclass(frozen=True)
class PromptInfo:
    name: str
    version: str
    template: Any
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"prompts:/{self.name}/{self.version}"


def _mlflow_error(exc: Exception, what: str) -> TrackingError:
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return TrackingError(f"{what} failed: {type(exc).__name__}: {first}")


def _client(uri: str | None) -> tuple[str, Any]:
    uri = ensure_store(uri)
    set_process_uri(uri)  # registering models:/<id> resolves it with the global client
    return uri, client(uri)


def _missing(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE") or "not found" in str(exc)


def _version_info(mv: Any) -> VersionInfo:
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


# --------------------------------------------------------------------------- runs


def run_info(run_id: str, uri: str | None = None) -> RunInfo:
    uri, mlflow_client = _client(uri)
    try:
        run = mlflow_client.get_run(run_id)
    except Exception as exc:
        raise NotFoundError(f"no MLflow run '{run_id}'") from exc
    exp = mlflow_client.get_experiment(run.info.experiment_id)
    return RunInfo(
        run_id=run.info.run_id,
        experiment_id=str(run.info.experiment_id),
        experiment=exp.name,
        status=run.info.status,
        params=dict(run.data.params),
        tags=dict(run.data.tags),
        parent_id=run.data.tags.get("mlflow.parentRunId"),
    )


def run_text(run_id: str, path: str, uri: str | None = None) -> str | None:
    """A text artifact of a run, or None when it has none."""
    uri, mlflow_client = _client(uri)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow_client.download_artifacts(run_id, path, tmp)
        except Exception:
            return None
        return Path(local).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- bundles


def registered_model_exists(name: str, uri: str | None = None) -> bool:
    uri, mlflow_client = _client(uri)
    try:
        mlflow_client.get_registered_model(name)
    except Exception as exc:
        if _missing(exc):
            return False
        raise _mlflow_error(exc, f"reading registered model '{name}'") from exc
    return True


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

    uri, mlflow_client = _client(uri)
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
        raise _mlflow_error(exc, "creating the logged model") from exc
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
        raise _mlflow_error(exc, "registering the candidate bundle") from exc
    return _version_info(mlflow_client.get_model_version(experiment, mv.version))


def version(name: str, number: str | int, uri: str | None = None) -> VersionInfo:
    uri, mlflow_client = _client(uri)
    try:
        mv = mlflow_client.get_model_version(name, str(number))
    except Exception as exc:
        if _missing(exc):
            raise NotFoundError(f"registered model '{name}' has no version {number}") from None
        raise _mlflow_error(exc, f"reading {name} version {number}") from exc
    return _version_info(mv)


def versions(
    name: str | None = None, *, status: str | None = None, uri: str | None = None
) -> list[VersionInfo]:
    """Workbench bundle versions (of one registered model or all), newest first."""
    uri, mlflow_client = _client(uri)
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
    uri, mlflow_client = _client(uri)
    for key, value in tags.items():
        if value is None:
            with contextlib.suppress(Exception):
                mlflow_client.delete_model_version_tag(name, number, key)
        else:
            mlflow_client.set_model_version_tag(name, number, key, value)


def _model_artifact(uri: str, model_id: str, path: str, tmp: str) -> Path:
    import mlflow

    mlflow_client = client(uri)
    logged = mlflow_client.get_logged_model(model_id)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{logged.artifact_location.rstrip('/')}/{path}", dst_path=tmp
    )
    return Path(local)


def model_json(model_id: str, path: str, uri: str | None = None) -> Any:
    """A JSON artifact of a logged model (None when it has none)."""
    uri, _ = _client(uri)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = _model_artifact(uri, model_id, path, tmp)
        except Exception:
            return None
        return json.loads(local.read_text(encoding="utf-8"))


def model_table(model_id: str, path: str, uri: str | None = None) -> pd.DataFrame | None:
    import pandas as pd

    uri, _ = _client(uri)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = _model_artifact(uri, model_id, path, tmp)
        except Exception:
            return None
        return pd.read_json(local, orient="split", dtype=False)


# --------------------------------------------------------------------------- aliases


def champion(name: str, uri: str | None = None) -> str | None:
    """The version the ``champion`` alias points at (None: no champion yet)."""
    uri, mlflow_client = _client(uri)
    try:
        return str(mlflow_client.get_model_version_by_alias(name, CHAMPION).version)
    except Exception as exc:
        if _missing(exc):
            return None
        raise _mlflow_error(exc, f"reading the champion of '{name}'") from exc


def set_champion(name: str, number: str | None, uri: str | None = None) -> None:
    """Point ``champion`` at ``number`` (None removes the alias)."""
    uri, mlflow_client = _client(uri)
    if number is None:
        delete_champion(name, uri)
        return
    mlflow_client.set_registered_model_alias(name, CHAMPION, str(number))


def delete_champion(name: str, uri: str | None = None) -> None:
    uri, mlflow_client = _client(uri)
    try:
        mlflow_client.delete_registered_model_alias(name, CHAMPION)
    except Exception as exc:
        if not _missing(exc):
            raise


def prompt_alias(name: str, alias: str = PRODUCTION, uri: str | None = None) -> str | None:
    """The prompt version ``alias`` points at (None when the alias is not set)."""
    uri, mlflow_client = _client(uri)
    try:
        return str(mlflow_client.get_prompt_version_by_alias(name, alias).version)
    except Exception as exc:
        if _missing(exc):
            return None
        raise _mlflow_error(exc, f"reading prompt alias {name}@{alias}") from exc


def set_prompt_alias(name: str, alias: str, number: str | None, uri: str | None = None) -> None:
    """Point prompt alias ``alias`` at version ``number`` (None removes it)."""
    uri, mlflow_client = _client(uri)
    if number is None:
        try:
            mlflow_client.delete_prompt_alias(name, alias)
        except Exception as exc:
            if not _missing(exc):
                raise
        return
    mlflow_client.set_prompt_alias(name, alias, int(number))


def prompt_version(name: str, number: str | int, uri: str | None = None) -> PromptInfo:
    uri, mlflow_client = _client(uri)
    try:
        pv = mlflow_client.get_prompt_version(name, str(number))
    except Exception as exc:
        raise NotFoundError(f"the Prompt Registry has no prompt {name} version {number}") from exc
    if pv is None:
        raise NotFoundError(f"the Prompt Registry has no prompt {name} version {number}")
    return PromptInfo(
        name=pv.name, version=str(pv.version), template=pv.template, tags=dict(pv.tags or {})
    )


@contextlib.contextmanager
def promotion_lock(name: str, uri: str | None = None) -> Iterator[None]:
    """Serialise decisions on one registered model (a file lock for a local sqlite store;
    a server store relies on the short read-check-move window)."""
    uri = ensure_store(uri)
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    with _file_lock(path.with_name(f"{path.name}.promotion-{safe}.lock")):
        yield


# --------------------------------------------------------------------------- audit


def _audit_runs(mlflow_client: Any, exp_id: str) -> list[Any]:
    return list(
        mlflow_client.search_runs(
            [exp_id],
            filter_string=f"tags.`{TAG_ROLE}` = '{AUDIT_ROLE}'",
            order_by=["attributes.start_time ASC"],
            max_results=100,
        )
    )


def _audit_names(mlflow_client: Any, runs: Sequence[Any]) -> list[str]:
    names: list[str] = []
    for run in runs:
        names += [
            Path(a.path).name for a in mlflow_client.list_artifacts(run.info.run_id, AUDIT_DIR)
        ]
    return names


def append_audit(experiment: str, record: Mapping[str, Any], uri: str | None = None) -> str:
    """Append one audit event (``record["event_id"]``, ``record["when"]`` required).

    Returns the artifact path. An event id already in the log raises
    :class:`AuditRecordExists`: records are never rewritten."""
    event_id = str(record.get("event_id", ""))
    if not _EVENT_ID.match(event_id):
        raise TrackingError(f"invalid audit event id '{event_id}'")
    stamp = re.sub(r"[^0-9]", "", str(record["when"]))[:20]
    uri, mlflow_client = _client(uri)
    exp_id = experiment_id(experiment, uri)
    assert exp_id is not None
    runs = _audit_runs(mlflow_client, exp_id)
    if not runs:
        created = mlflow_client.create_run(
            exp_id,
            run_name="promotion audit log",
            tags={
                TAG_ROLE: AUDIT_ROLE,
                TAG_EXPERIMENT: experiment,
                "mlflow.note.content": "Append-only log of promotion decisions: one JSON file "
                "per event under audit/, written once by workbench.",
            },
        )
        mlflow_client.set_terminated(created.info.run_id, "FINISHED")
        runs = _audit_runs(mlflow_client, exp_id)  # a racing process may have made one too
    if any(name.endswith(f"-{event_id}.json") for name in _audit_names(mlflow_client, runs)):
        raise AuditRecordExists(
            f"audit event {event_id} already exists in '{experiment}'; audit records are write-once"
        )
    name = f"{stamp}-{event_id}.json"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(json.dumps(dict(record), indent=1, sort_keys=True, default=str))
        mlflow_client.log_artifact(runs[0].info.run_id, str(path), AUDIT_DIR)
    return f"{AUDIT_DIR}/{name}"


def read_audit(experiment: str, uri: str | None = None) -> list[dict[str, Any]]:
    """Every audit event of ``experiment``, oldest first (empty when there are none)."""
    uri, mlflow_client = _client(uri)
    exp_id = experiment_id(experiment, uri, create=False)
    if exp_id is None:
        return []
    records: list[dict[str, Any]] = []
    for run in _audit_runs(mlflow_client, exp_id):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                folder = mlflow_client.download_artifacts(run.info.run_id, AUDIT_DIR, tmp)
            except Exception:
                continue
            for path in sorted(Path(folder).glob("*.json")):
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                except json.JSONDecodeError:
                    data = {"event_id": path.stem, "unreadable": True}
                data["_artifact"] = f"{run.info.run_id}/{AUDIT_DIR}/{path.name}"
                records.append(data)
    return sorted(records, key=lambda r: (str(r.get("when", "")), str(r.get("event_id", ""))))


# --------------------------------------------------------------------------- model tags


def model_tag(name: str, key: str, uri: str | None = None) -> str | None:
    """A tag of the registered model ``name`` (None when absent)."""
    uri, mlflow_client = _client(uri)
    try:
        model = mlflow_client.get_registered_model(name)
    except Exception as exc:
        if _missing(exc):
            return None
        raise _mlflow_error(exc, f"reading registered model '{name}'") from exc
    return (model.tags or {}).get(key)


def set_model_tag(name: str, key: str, value: str | None, uri: str | None = None) -> None:
    """Set (None: delete) a tag of the registered model ``name``."""
    uri, mlflow_client = _client(uri)
    if value is None:
        try:
            mlflow_client.delete_registered_model_tag(name, key)
        except Exception as exc:
            if not _missing(exc):
                raise
        return
    mlflow_client.set_registered_model_tag(name, key, value)
