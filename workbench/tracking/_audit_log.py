"""The append-only audit log of promotion decisions (MLflow keeps no history of alias
moves, so the workbench writes its own).

One JSON artifact per event, ``audit/<utc stamp>-<event id>.json``, in a run of the
experiment tagged ``workbench.role=audit``. Names are write-once: an event id that
already exists is refused, and there is no update or delete function.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import TrackingError
from workbench.tracking._runs import TAG_EXPERIMENT, TAG_ROLE
from workbench.tracking._store import experiment_id, process_client

if TYPE_CHECKING:
    from mlflow.entities import Run

AUDIT_DIR = "audit"
AUDIT_ROLE = "audit"
_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


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


def _audit_names(mlflow_client: Any, runs: Sequence[Run]) -> list[str]:
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
    mlflow_client = process_client(uri)
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
