"""The append-only audit log of promotion decisions (MLflow keeps no history of alias
moves, so the workbench writes its own).

One JSON artifact per event, ``audit/<utc stamp>-<event id>.json``, in a run of the
experiment tagged ``workbench.role=audit``. Names are write-once: an event id that
already exists is refused, and there is no update or delete function.

The log is a hash chain (sealed by :mod:`workbench.promotion`): each append is given the
chain's head, the ``seq`` and ``digest`` of the record before it, and the new head is kept
as the experiment tag ``workbench.audit.head``, so records deleted from the end of the log
are noticed too. Appends to one experiment's log are serialised (a file lock beside a
local sqlite store).
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import TrackingError
from workbench.tracking._model_registry import side_lock
from workbench.tracking._runs import TAG_EXPERIMENT, TAG_ROLE
from workbench.tracking._store import ensure_store, experiment_id, process_client

if TYPE_CHECKING:
    from mlflow.entities import Run

AUDIT_DIR = "audit"
AUDIT_ROLE = "audit"
HEAD_TAG = "workbench.audit.head"
"""Experiment tag: ``{"seq", "digest", "event_id"}`` of the newest chained record."""
_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

Seal = Callable[[Mapping[str, Any] | None], Mapping[str, Any]]
"""Given the chain's head (None: an empty log), the record to append."""


class AuditRecordExists(TrackingError):
    """An audit event id is already in the log: records are write-once."""


def _audit_runs(mlflow_client: Any, exp_id: str) -> list[Run]:
    return list(
        mlflow_client.search_runs(
            [exp_id],
            filter_string=f"tags.`{TAG_ROLE}` = '{AUDIT_ROLE}'",
            order_by=["attributes.start_time ASC"],
            max_results=100,
        )
    )


def _audit_names(mlflow_client: Any, runs: Sequence[Run]) -> list[tuple[str, str]]:
    """(file name, run id) of every record, in name (= time) order."""
    names: list[tuple[str, str]] = []
    for run in runs:
        names += [
            (Path(a.path).name, run.info.run_id)
            for a in mlflow_client.list_artifacts(run.info.run_id, AUDIT_DIR)
        ]
    return sorted(names)


def _head(
    mlflow_client: Any, exp_id: str, names: Sequence[tuple[str, str]]
) -> dict[str, Any] | None:
    """The chain's head: the head tag, else the newest stored record (None: empty log)."""
    raw = (mlflow_client.get_experiment(exp_id).tags or {}).get(HEAD_TAG)
    if raw:
        with contextlib.suppress(ValueError):
            head = json.loads(raw)
            if isinstance(head, dict):
                return head
    if not names:
        return None
    name, run_id = names[-1]
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow_client.download_artifacts(run_id, f"{AUDIT_DIR}/{name}", tmp)
        try:
            data = json.loads(Path(local).read_text(encoding="utf-8"))
        except ValueError:
            return None
    return data if isinstance(data, dict) else None


def append_audit(
    experiment: str,
    record: Mapping[str, Any],
    uri: str | None = None,
    *,
    seal: Seal | None = None,
) -> str:
    """Append one audit event (``record["event_id"]``, ``record["when"]`` required).

    ``seal``: called with the chain's head, returns the record to write in place of
    ``record`` (same event id); its ``seq`` and ``digest`` become the new head.
    Returns the artifact path. An event id already in the log raises
    :class:`AuditRecordExists`: records are never rewritten."""
    event_id = str(record.get("event_id", ""))
    if not _EVENT_ID.match(event_id):
        raise TrackingError(f"invalid audit event id '{event_id}'")
    uri = ensure_store(uri)
    mlflow_client = process_client(uri)
    exp_id = experiment_id(experiment, uri)
    assert exp_id is not None
    with side_lock("audit", experiment, uri):  # one append at a time per log
        runs = _audit_runs(mlflow_client, exp_id)
        if not runs:
            created = mlflow_client.create_run(
                exp_id,
                run_name="promotion audit log",
                tags={
                    TAG_ROLE: AUDIT_ROLE,
                    TAG_EXPERIMENT: experiment,
                    "mlflow.note.content": "Append-only log of promotion decisions: one JSON "
                    "file per event under audit/, written once by workbench, each carrying "
                    "the digest of the one before it (a hash chain).",
                },
            )
            mlflow_client.set_terminated(created.info.run_id, "FINISHED")
            runs = _audit_runs(mlflow_client, exp_id)  # a racing process may have made one too
        names = _audit_names(mlflow_client, runs)
        if any(name.endswith(f"-{event_id}.json") for name, _ in names):
            raise AuditRecordExists(
                f"audit event {event_id} already exists in '{experiment}'; "
                "audit records are write-once"
            )
        if seal is not None:
            record = seal(_head(mlflow_client, exp_id, names))
            if str(record.get("event_id")) != event_id:
                raise TrackingError("sealing an audit record must keep its event id")
        stamp = re.sub(r"[^0-9]", "", str(record["when"]))[:20]
        name = f"{stamp}-{event_id}.json"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_text(json.dumps(dict(record), indent=1, sort_keys=True, default=str))
            mlflow_client.log_artifact(runs[0].info.run_id, str(path), AUDIT_DIR)
        if record.get("seq") is not None:
            head = {k: record.get(k) for k in ("seq", "digest", "event_id")}
            mlflow_client.set_experiment_tag(exp_id, HEAD_TAG, json.dumps(head, sort_keys=True))
    return f"{AUDIT_DIR}/{name}"


def chain_head(experiment: str, uri: str | None = None) -> dict[str, Any] | None:
    """The head tag of ``experiment``'s log (None: never chained, or the tag is gone)."""
    mlflow_client = process_client(uri)
    exp_id = experiment_id(experiment, uri, create=False)
    if exp_id is None:
        return None
    raw = (mlflow_client.get_experiment(exp_id).tags or {}).get(HEAD_TAG)
    try:
        head = json.loads(raw) if raw else None
    except ValueError:
        return {"unreadable": raw}
    return head if isinstance(head, dict) else {"unreadable": raw}


def read_audit(experiment: str, uri: str | None = None) -> list[dict[str, Any]]:
    """Every audit event of ``experiment``, oldest first (empty when there are none)."""
    mlflow_client = process_client(uri)
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
