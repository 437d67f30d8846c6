"""The promotion audit log: one immutable record per proposal, decision, rollback and
refused or failed attempt, stored with MLflow (see :mod:`workbench.tracking.registry`).

The public API can append and read records; there is no update or delete path. Each
record carries a digest of its content, so an edit made behind the workbench's back
(in the artifact store) shows up as ``intact=False``; and each record written since the
chain was introduced carries its place (``seq``) and the digest of the record before it
(``previous_digest``), a hash chain per experiment that :func:`._chain.verify_chain`
walks to find deleted, reordered or rewritten records. Older records without these fields
stay readable: the chain starts at the first record that has them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

from workbench.errors import WorkbenchError
from workbench.tracking import registry
from workbench.users import User

if TYPE_CHECKING:
    import pandas as pd

Outcome = Literal["ok", "refused", "failed"]


@dataclass(frozen=True)
class AuditRecord:
    """Who did (or tried) what, when, to which version, and why."""

    event_id: str
    experiment: str
    action: str
    """propose | approve | reject | rollback | reconcile | integrity"""
    outcome: str
    """ok | refused (not allowed or not valid) | failed (an error; nothing changed) |
    alarm (an integrity alarm: the aliases disagree with the audit)"""
    who: str
    role: str
    when: str
    """ISO 8601, UTC."""
    version: str | None = None
    previous_champion: str | None = None
    """The champion version before the action."""
    champion_after: str | None = None
    """The champion version after the action (the same as before unless it moved)."""
    reason: str = ""
    evidence_run_ids: tuple[str, ...] = ()
    detail: str = ""
    """Why it was refused or failed, or a summary of the evidence."""
    prompt: str | None = None
    """Prompt alias moves, e.g. ``quickstart.qa_terse@production: 1 -> 2``."""
    seq: int | None = None
    """The record's place in the chain (1 = the first chained record; None: written
    before the chain existed)."""
    previous_digest: str | None = None
    """The digest of the record before it ("" for the first record of a log)."""
    digest: str = ""
    intact: bool = True
    """False when the stored content no longer matches its digest."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["evidence_run_ids"] = list(self.evidence_run_ids)
        data.pop("intact")
        return data


_CHAIN = ("seq", "previous_digest")
_CONTENT = tuple(f.name for f in fields(AuditRecord) if f.name not in ("digest", "intact"))


def content_digest(data: Mapping[str, Any]) -> str:
    """sha256 of a record's content (its chain fields included when it has them)."""
    chained = data.get("seq") is not None
    payload = {k: data.get(k) for k in _CONTENT if chained or k not in _CHAIN}
    payload["evidence_run_ids"] = list(payload.get("evidence_run_ids") or ())
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def new_record(
    *,
    experiment: str,
    action: str,
    outcome: str,
    who: str,
    role: str,
    version: str | None = None,
    previous_champion: str | None = None,
    champion_after: str | None = None,
    reason: str = "",
    evidence_run_ids: Sequence[str] = (),
    detail: str = "",
    prompt: str | None = None,
) -> AuditRecord:
    data: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "experiment": experiment,
        "action": action,
        "outcome": outcome,
        "who": who,
        "role": role,
        "when": datetime.now(UTC).isoformat(timespec="microseconds"),
        "version": None if version is None else str(version),
        "previous_champion": previous_champion,
        "champion_after": champion_after,
        "reason": reason,
        "evidence_run_ids": tuple(dict.fromkeys(r for r in evidence_run_ids if r)),
        "detail": detail,
        "prompt": prompt,
    }
    return AuditRecord(**data, digest=content_digest(data))


def sealed(record: AuditRecord, head: Mapping[str, Any] | None) -> AuditRecord:
    """``record`` as the next link after ``head`` (the chain's newest record, or its
    ``seq`` / ``digest``; None: an empty log)."""
    seq = 1
    if head is not None and head.get("seq") is not None:
        try:
            seq = int(head["seq"]) + 1
        except (TypeError, ValueError):
            seq = 1
    previous = "" if head is None else str(head.get("digest") or "")
    data = {**record.to_dict(), "seq": seq, "previous_digest": previous}
    return replace(record, seq=seq, previous_digest=previous, digest=content_digest(data))


def write(record: AuditRecord, *, tracking_uri: str | None = None) -> str:
    """Append ``record`` to its experiment's log as the chain's next link (refused when
    its event id exists)."""
    return registry.append_audit(
        record.experiment,
        record.to_dict(),
        uri=tracking_uri,
        seal=lambda head: sealed(record, head).to_dict(),
    )


class Details(TypedDict, total=False):
    """What an attempt says about itself in its record (see :class:`AuditRecord`), bar the
    ``detail`` that its outcome adds."""

    version: str | None
    previous_champion: str | None
    champion_after: str | None
    reason: str
    evidence_run_ids: Sequence[str]
    prompt: str | None


def record_attempt(
    uri: str,
    user: User,
    experiment: str,
    action: str,
    outcome: str,
    detail: str = "",
    **details: Unpack[Details],
) -> AuditRecord:
    """Write the record of ``user``'s attempt at ``action`` and return it."""
    record = new_record(
        experiment=experiment,
        action=action,
        outcome=outcome,
        who=user.name,
        role=user.role,
        detail=detail,
        **details,
    )
    write(record, tracking_uri=uri)
    return record


def refuse(
    uri: str,
    user: User,
    experiment: str,
    action: str,
    error: WorkbenchError,
    **details: Unpack[Details],
) -> WorkbenchError:
    """Audit a refused attempt; returns the error to raise."""
    record_attempt(uri, user, experiment, action, "refused", str(error), **details)
    return error


def _from_stored(data: dict[str, Any]) -> AuditRecord:
    known = {f.name for f in fields(AuditRecord)} - {"intact"}
    values: dict[str, Any] = {k: data.get(k) for k in known if k in data}
    values.setdefault("event_id", "?")
    for key in ("experiment", "action", "outcome", "who", "role", "when"):
        values[key] = str(values.get(key) or "")
    for key in ("reason", "detail", "digest"):
        values[key] = str(values.get(key) or "")
    values["evidence_run_ids"] = tuple(values.get("evidence_run_ids") or ())
    try:
        values["seq"] = None if values.get("seq") is None else int(values["seq"])
    except (TypeError, ValueError):
        values["seq"] = -1  # not a number: not a record the workbench wrote
    if values.get("previous_digest") is not None:
        values["previous_digest"] = str(values["previous_digest"])
    intact = not data.get("unreadable") and data.get("digest") == content_digest(data)
    return AuditRecord(**values, intact=bool(intact))


def audit_log(experiment: str, *, tracking_uri: str | None = None) -> list[AuditRecord]:
    """Every audit record of ``experiment``, oldest first."""
    return [_from_stored(d) for d in registry.read_audit(experiment, uri=tracking_uri)]


AUDIT_COLUMNS = (
    "when",
    "action",
    "outcome",
    "who",
    "role",
    "version",
    "previous_champion",
    "champion_after",
    "reason",
    "detail",
    "prompt",
    "evidence_run_ids",
    "event_id",
    "seq",
    "intact",
)


def audit_frame(experiment: str, *, tracking_uri: str | None = None) -> pd.DataFrame:
    """The audit log as a DataFrame (newest first), for the app and notebooks."""
    import pandas as pd

    rows = []
    for record in reversed(audit_log(experiment, tracking_uri=tracking_uri)):
        row = asdict(record)
        row["evidence_run_ids"] = ", ".join(record.evidence_run_ids)
        row["seq"] = "" if record.seq is None else str(record.seq)
        rows.append({c: row[c] for c in AUDIT_COLUMNS})
    return pd.DataFrame(rows, columns=list(AUDIT_COLUMNS))
