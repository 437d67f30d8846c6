"""Reading promotion state: the queue, the champion, the audit log. Each read first
repairs an interrupted decision when it can (:func:`._intent.repair_quietly`)."""

from __future__ import annotations

from workbench.promotion import _audit
from workbench.promotion._intent import repair_quietly
from workbench.promotion._tags import PENDING, T_BY, T_REASON, T_SINCE
from workbench.promotion._types import Candidate, Champion
from workbench.tracking import ensure_store, registry


def queue(
    experiment: str | None = None, *, status: str | None = PENDING, tracking_uri: str | None = None
) -> list[Candidate]:
    """Candidates waiting for a decision (``status=None``: every version), newest first."""
    uri = ensure_store(tracking_uri)
    if experiment is not None and not registry.registered_model_exists(experiment, uri):
        return []
    if experiment is not None:
        repair_quietly(experiment, uri)
    found = registry.versions(experiment, status=status, uri=uri)
    champions: dict[str, str | None] = {}
    out = []
    for info in found:
        if "workbench.variant_id" not in info.tags:
            continue
        if info.name not in champions:
            champions[info.name] = registry.champion(info.name, uri)
        out.append(Candidate.from_version(info, uri, champions[info.name]))
    return out


def experiments_with_candidates(*, tracking_uri: str | None = None) -> list[str]:
    """Experiments that have registered bundles."""
    return sorted({c.experiment for c in queue(None, status=None, tracking_uri=tracking_uri)})


def champion(experiment: str, *, tracking_uri: str | None = None) -> Champion | None:
    """What is in production for ``experiment`` and since when (None: no champion)."""
    uri = ensure_store(tracking_uri)
    if not registry.registered_model_exists(experiment, uri):
        return None
    repair_quietly(experiment, uri)
    number = registry.champion(experiment, uri)
    if number is None:
        return None
    info = registry.version(experiment, number, uri)
    candidate = Candidate.from_version(info, uri, number)
    since = info.tags.get(T_SINCE)
    for record in reversed(_audit.audit_log(experiment, tracking_uri=uri)):
        if record.outcome == "ok" and record.action in ("approve", "rollback"):
            if record.champion_after == number:
                since = record.when
            break
    return Champion(
        experiment=experiment,
        version=number,
        since=since,
        approved_by=info.tags.get(T_BY),
        reason=info.tags.get(T_REASON),
        candidate=candidate,
        bundle=candidate.bundle(),
    )


def audit_log(experiment: str, *, tracking_uri: str | None = None) -> list[_audit.AuditRecord]:
    """Every audit record of ``experiment``, oldest first."""
    uri = ensure_store(tracking_uri)
    if registry.registered_model_exists(experiment, uri):
        repair_quietly(experiment, uri)
    return _audit.audit_log(experiment, tracking_uri=uri)
