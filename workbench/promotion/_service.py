"""The promotion service: propose, approve, reject, roll back; every attempt audited.

Role checks live here (not in the UI): every surface (Python, CLI, app) goes through
these functions. A decision moves the registered-model alias ``champion`` and the
prompt's ``production`` alias as one step: the moves, the version tags and the audit
record are applied in order and, if any of them fails, the ones already applied are
undone, so either all of them happen or none does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import (
    ConfigError,
    NotFoundError,
    PermissionDenied,
    PromotionError,
    WorkbenchError,
)
from workbench.promotion import _audit, _roles
from workbench.promotion._bundle import Bundle, bundle_from_run, load_bundle
from workbench.promotion._candidates import Candidacy, evaluate
from workbench.users import User

if TYPE_CHECKING:
    import pandas as pd

    from workbench.spec import GatePolicy

T_BY, T_AT, T_REASON = "approval.by", "approval.at", "approval.reason"
T_PREVIOUS = "champion.previous"
T_SINCE = "champion.since"
PENDING, APPROVED, REJECTED, ROLLED_BACK = "pending", "approved", "rejected", "rolled_back"


class NotACandidate(PromotionError):
    """The variant does not qualify; ``candidacy`` holds the evidence."""

    def __init__(self, candidacy: Candidacy):
        self.candidacy = candidacy
        super().__init__(
            f"{candidacy.variant} is not a candidate for '{candidacy.experiment}': "
            + "; ".join(candidacy.reasons)
        )


@dataclass(frozen=True)
class Candidate:
    """A registered bundle version (pending, approved, rejected or rolled back)."""

    experiment: str
    version: str
    status: str
    variant: str
    variant_id: str
    proposed_by: str
    proposed_at: str
    model_id: str | None
    run_id: str | None
    variant_run_id: str | None
    prompt: str
    evidence: dict[str, Any]
    is_champion: bool
    tags: dict[str, str] = field(default_factory=dict)
    tracking_uri: str | None = None

    @property
    def champion_at_proposal(self) -> str | None:
        value = self.tags.get("workbench.champion_at_proposal")
        return None if value in (None, "none") else value

    def bundle(self) -> Bundle:
        return load_bundle(self.model_id, tracking_uri=self.tracking_uri)

    def comparison(self) -> pd.DataFrame | None:
        """The paired comparison with the champion at proposal time (``compare_grid`` rows)."""
        from workbench.tracking import registry

        if not self.model_id:
            return None
        return registry.model_table(self.model_id, "evidence/comparison.json", self.tracking_uri)

    def gate_decision(self) -> dict[str, Any] | None:
        from workbench.tracking import registry

        if not self.model_id:
            return None
        return registry.model_json(self.model_id, "evidence/gate_decision.json", self.tracking_uri)

    def rating_summary(self) -> pd.DataFrame | None:
        """PM ratings of the candidate's run, when there are any: win rates and
        Bradley-Terry strengths per variant (:func:`workbench.ratings.summarize`)."""
        if not self.run_id:
            return None
        try:
            from workbench.ratings import summarize
            from workbench.tracking.ratings import load_ratings
        except ImportError:  # the ratings feature is not installed
            return None
        ratings = load_ratings(self.run_id, tracking_uri=self.tracking_uri)
        if ratings is None or len(ratings) == 0:
            return None
        return summarize(ratings).strengths


@dataclass(frozen=True)
class Decision:
    """What an approve / reject / rollback did."""

    action: str
    experiment: str
    version: str | None
    previous_champion: str | None
    champion: str | None
    prompt_moves: tuple[str, ...]
    audit_event: str


@dataclass(frozen=True)
class Champion:
    experiment: str
    version: str
    since: str | None
    approved_by: str | None
    reason: str | None
    candidate: Candidate
    bundle: Bundle


# --------------------------------------------------------------------------- helpers


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _store(tracking_uri: str | None) -> str:
    from workbench.tracking import ensure_store

    return ensure_store(tracking_uri)


def _require_experiment(experiment: str, uri: str) -> None:
    from workbench.tracking import experiment_id
    from workbench.tracking.read import experiments

    if experiment_id(experiment, uri, create=False) is None:
        from workbench.errors import did_you_mean

        raise NotFoundError(
            f"no experiment '{experiment}' in the MLflow store",
            hint=did_you_mean(experiment, experiments(uri)) or "run it first: workbench run ...",
        )


def _record(
    uri: str, user: User, experiment: str, action: str, outcome: str, **fields: Any
) -> _audit.AuditRecord:
    record = _audit.new_record(
        experiment=experiment,
        action=action,
        outcome=outcome,
        who=user.name,
        role=user.role,
        **fields,
    )
    _audit.write(record, tracking_uri=uri)
    return record


def _refuse(
    uri: str, user: User, experiment: str, action: str, error: WorkbenchError, **fields: Any
) -> WorkbenchError:
    """Audit a refused attempt; returns the error to raise."""
    _record(uri, user, experiment, action, "refused", detail=str(error), **fields)
    return error


def _candidate(info: Any, uri: str, champion: str | None) -> Candidate:
    tags = info.tags
    try:
        evidence = json.loads(tags.get("workbench.evidence", "{}"))
    except json.JSONDecodeError:
        evidence = {}
    return Candidate(
        experiment=info.name,
        version=info.version,
        status=info.status,
        variant=tags.get("workbench.variant", ""),
        variant_id=tags.get("workbench.variant_id", ""),
        proposed_by=tags.get("workbench.proposed_by", ""),
        proposed_at=tags.get("workbench.proposed_at", ""),
        model_id=info.model_id,
        run_id=tags.get("workbench.source_run"),
        variant_run_id=tags.get("workbench.variant_run") or info.run_id,
        prompt=tags.get("workbench.prompt", ""),
        evidence=evidence,
        is_champion=champion == info.version,
        tags=dict(tags),
        tracking_uri=uri,
    )


# --------------------------------------------------------------------------- crash safety
#
# A decision moves two aliases and a version's tags, then appends its audit record. Before
# the first move it writes its *intent* (what every touched thing looked like before) on
# the registered model. A failure that raises is undone at once; a process that dies
# (SIGKILL, power loss) leaves the intent behind, and the next promotion operation on that
# experiment finds it, restores the before-state and audits the interrupted attempt.

INTENT_TAG = "workbench.decision_in_progress"
STALE_AFTER_S = 300.0
"""An intent this old is stale even when its process cannot be checked (another host)."""


def _intent(
    record: Any,
    actor: User,
    version: str,
    current: str | None,
    moves: list[tuple[str, str | None, str | None]],
    old_tags: dict[str, Any],
) -> str:
    import json
    import os
    import socket
    import time

    return json.dumps(
        {
            "event_id": record.event_id,
            "action": record.action,
            "who": actor.name,
            "role": actor.role,
            "version": version,
            "champion_before": current,
            "prompts_before": [[name, before] for name, before, _ in moves],
            "tags_before": old_tags,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": time.time(),
        }
    )


def _is_stale(intent: dict[str, Any]) -> bool:
    import os
    import socket
    import time

    if time.time() - float(intent.get("started", 0)) > STALE_AFTER_S:
        return True
    if intent.get("host") != socket.gethostname():
        return False  # another machine: only age tells
    pid = int(intent.get("pid", 0))
    if pid == os.getpid():
        return True  # this process is not deciding while it recovers
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _recover(experiment: str, uri: str) -> str | None:
    """Undo a decision whose process died mid-way (caller holds the promotion lock).

    Returns what was done, or None when there was nothing to recover."""
    import json

    from workbench.tracking import registry

    if not registry.registered_model_exists(experiment, uri):
        return None
    raw = registry.model_tag(experiment, INTENT_TAG, uri)
    if not raw:
        return None
    try:
        intent = json.loads(raw)
    except ValueError:
        registry.set_model_tag(experiment, INTENT_TAG, None, uri)
        return None
    if not _is_stale(intent):
        return None  # a decision is running right now in another process
    done = {r.event_id for r in _audit.audit_log(experiment, tracking_uri=uri)}
    if intent.get("event_id") in done:  # it finished; only the intent was left behind
        registry.set_model_tag(experiment, INTENT_TAG, None, uri)
        return None
    half = registry.champion(experiment, uri)
    registry.set_champion(experiment, intent.get("champion_before"), uri)
    for name, before in intent.get("prompts_before", []):
        registry.set_prompt_alias(name, registry.PRODUCTION, before, uri)
    version = intent.get("version")
    if version and intent.get("tags_before"):
        registry.set_version_tags(experiment, str(version), intent["tags_before"], uri)
    detail = (
        f"{intent.get('action')} by {intent.get('who')} was interrupted (its process ended mid-way, "
        f"champion was at {half or '-'}); every step was undone: champion back to "
        f"{intent.get('champion_before') or '-'}"
    )
    _record(
        uri,
        User(str(intent.get("who")), intent.get("role", "lead")),
        experiment,
        str(intent.get("action")),
        "failed",
        detail=detail,
        version=version,
        previous_champion=intent.get("champion_before"),
        champion_after=intent.get("champion_before"),
        reason="(recovered after an interrupted decision)",
    )
    registry.set_model_tag(experiment, INTENT_TAG, None, uri)
    return detail


def recover(experiment: str, *, tracking_uri: str | None = None) -> str | None:
    """Repair an experiment whose last decision was interrupted (safe to call any time)."""
    from workbench.tracking import registry

    uri = _store(tracking_uri)
    with registry.promotion_lock(experiment, uri):
        return _recover(experiment, uri)


def _repair_quietly(experiment: str, uri: str) -> None:
    """Reads repair what they can; if the store still fails, the intent stays for the next
    operation (a decision then refuses to proceed until it is repaired)."""
    try:
        recover(experiment, tracking_uri=uri)
    except Exception:
        return


class _Steps:
    """Apply steps in order; on failure undo the applied ones in reverse."""

    def __init__(self) -> None:
        self.done: list[tuple[str, Callable[[], None]]] = []

    def run(self, label: str, do: Callable[[], None], undo: Callable[[], None]) -> None:
        try:
            do()
        except Exception as exc:
            raise _StepFailed(label, exc) from exc
        self.done.append((label, undo))

    def undo(self) -> list[str]:
        problems = []
        for label, undo in reversed(self.done):
            try:
                undo()
            except Exception as exc:
                problems.append(f"could not undo {label}: {type(exc).__name__}: {exc}")
        self.done.clear()
        return problems


def _call(fn: Callable[..., Any], *args: Any) -> Callable[[], None]:
    """A step (or its undo): ``fn(*args)`` with the arguments bound now."""

    def step() -> None:
        fn(*args)

    return step


def _write(record: _audit.AuditRecord, uri: str) -> None:
    _audit.write(record, tracking_uri=uri)


def _nothing() -> None:
    return None


class _StepFailed(Exception):
    def __init__(self, label: str, exc: Exception):
        self.label = label
        self.exc = exc
        super().__init__(f"{label} failed: {type(exc).__name__}: {exc}")


def _prompt_moves(
    uri: str, new: Bundle | None, old: Bundle | None
) -> list[tuple[str, str | None, str | None]]:
    """(registry prompt name, alias version before, after) so that ``production`` points
    at exactly the new champion's prompt version (and no longer at the old one's)."""
    from workbench.tracking import registry

    moves: list[tuple[str, str | None, str | None]] = []
    if new is not None:
        name = new.prompt.registry_name
        before = registry.prompt_alias(name, registry.PRODUCTION, uri)
        if before != new.prompt.registry_version:
            moves.append((name, before, new.prompt.registry_version))
    if old is not None and (new is None or old.prompt.registry_name != new.prompt.registry_name):
        name = old.prompt.registry_name
        before = registry.prompt_alias(name, registry.PRODUCTION, uri)
        if before is not None:
            moves.append((name, before, None))
    return moves


def _describe_moves(moves: list[tuple[str, str | None, str | None]]) -> str | None:
    if not moves:
        return None
    return "; ".join(f"{n}@production: {b or '-'} -> {a or '-'}" for n, b, a in moves)


# --------------------------------------------------------------------------- proposals


def _source_run(source: Any) -> str:
    run_id = getattr(source, "run_id", None)
    if run_id is not None or hasattr(source, "variant_run_ids"):
        if not run_id:
            raise PromotionError(
                "this run was not tracked in MLflow (track=False): nothing to propose"
            )
        return str(run_id)
    return str(source)


def _variant_of(source: str, variant: str | None, uri: str) -> str | None:
    """A variant's own (child) run id as ``source`` means that variant."""
    import re

    from workbench.tracking import registry

    if variant is not None or not re.fullmatch(r"[0-9a-f]{32}", source):
        return variant
    try:
        info = registry.run_info(source, uri)
    except NotFoundError:
        return None
    return info.tags.get("workbench.variant_id") if info.parent_id else None


def check(
    source: Any,
    *,
    variant: str | None = None,
    policy: GatePolicy | str | Path | None = None,
    tracking_uri: str | None = None,
    record_gate: bool = False,
) -> Candidacy:
    """The evidence on a variant (default: the run's best) without registering anything.

    ``source``: an experiment name (its newest run), an MLflow run id (a variant's own
    run means that variant), or a ``RunResult``."""
    from workbench.gates.api import gate
    from workbench.tracking import registry
    from workbench.tracking.read import load_experiment

    uri = _store(tracking_uri)
    source = _source_run(source)
    variant = _variant_of(source, variant, uri)
    loaded = load_experiment(source, tracking_uri=uri)
    report = gate(
        loaded.run_id, variant=variant, policy=policy, tracking_uri=uri, record=record_gate
    )
    champion = None
    champion_bundle = None
    if registry.registered_model_exists(loaded.experiment, uri):
        champion = registry.champion(loaded.experiment, uri)
        if champion is not None:
            info = registry.version(loaded.experiment, champion, uri)
            champion_bundle = load_bundle(info.model_id, tracking_uri=uri)
    return evaluate(
        loaded,
        report.chosen,
        report.policy,
        champion=champion,
        champion_bundle=champion_bundle,
        tracking_uri=uri,
    )


def propose(
    source: Any,
    *,
    variant: str | None = None,
    user: User | None = None,
    policy: GatePolicy | str | Path | None = None,
    tracking_uri: str | None = None,
) -> Candidate:
    """Register a qualifying variant as a pending candidate (scientists and leads).

    Refusals (role, gates, no significant improvement, a guard regression, a duplicate)
    raise and are audited; :class:`NotACandidate` carries the evidence."""
    from workbench.tracking import registry
    from workbench.tracking.read import load_experiment

    uri = _store(tracking_uri)
    actor = _roles.acting_user(user)
    source = _source_run(source)
    variant = _variant_of(source, variant, uri)
    loaded = load_experiment(source, tracking_uri=uri)
    experiment = loaded.experiment
    if not _roles.allowed(actor, "propose"):
        raise _refuse(
            uri,
            actor,
            experiment,
            "propose",
            _roles.denial(actor, "propose", experiment),
            evidence_run_ids=[loaded.run_id],
        )
    with registry.promotion_lock(experiment, uri):
        try:
            candidacy = check(
                loaded.run_id, variant=variant, policy=policy, tracking_uri=uri, record_gate=True
            )
        except WorkbenchError as exc:
            raise _refuse(
                uri, actor, experiment, "propose", exc, evidence_run_ids=[loaded.run_id]
            ) from None
        evidence = candidacy.evidence_run_ids
        champion = candidacy.champion
        if not candidacy.qualifies:
            raise _refuse(
                uri,
                actor,
                experiment,
                "propose",
                NotACandidate(candidacy),
                previous_champion=champion,
                champion_after=champion,
                evidence_run_ids=evidence,
            )
        if registry.registered_model_exists(experiment, uri):
            for pending in registry.versions(experiment, status=PENDING, uri=uri):
                if pending.tags.get("workbench.variant_id") == candidacy.variant_id:
                    raise _refuse(
                        uri,
                        actor,
                        experiment,
                        "propose",
                        PromotionError(
                            f"{candidacy.variant} is already pending as version {pending.version}",
                            hint=f"decide on it: workbench approve|reject {pending.version} "
                            f"--experiment {experiment} --reason ...",
                        ),
                        previous_champion=champion,
                        champion_after=champion,
                        evidence_run_ids=evidence,
                    )
        try:
            bundle = bundle_from_run(candidacy.variant_run_id, tracking_uri=uri)
        except WorkbenchError as exc:
            raise _refuse(
                uri,
                actor,
                experiment,
                "propose",
                exc,
                previous_champion=champion,
                champion_after=champion,
                evidence_run_ids=evidence,
            ) from None
        summary = candidacy.summary()
        now = _now()
        version_tags = {
            registry.STATUS: PENDING,
            "workbench.experiment": experiment,
            "workbench.variant_id": bundle.variant_id,
            "workbench.variant": bundle.variant,
            "workbench.source_run": bundle.source_run_id,
            "workbench.variant_run": bundle.variant_run_id,
            "workbench.prompt": bundle.prompt.registry_uri,
            "workbench.model": bundle.model.label,
            "workbench.retriever": bundle.retriever.label,
            "workbench.dataset_digest": bundle.dataset.digest,
            "workbench.proposed_by": actor.name,
            "workbench.proposed_role": actor.role,
            "workbench.proposed_at": now,
            "workbench.champion_at_proposal": champion or "none",
            "workbench.gate": f"{summary['gate']['verdict']} ({summary['gate']['policy']})",
            "workbench.evidence": json.dumps(summary, default=str)[:4900],
        }
        tables = {}
        if candidacy.comparison is not None:
            tables["evidence/comparison.json"] = candidacy.comparison
        try:
            info = registry.register_bundle(
                experiment=experiment,
                source_run_id=bundle.variant_run_id,
                params=bundle.flat_params(),
                tags={
                    "workbench.experiment": experiment,
                    "workbench.variant_id": bundle.variant_id,
                    "workbench.proposed_by": actor.name,
                    "workbench.source_run": bundle.source_run_id,
                },
                version_tags=version_tags,
                artifacts={
                    registry.BUNDLE_FILE: bundle.to_json(),
                    "evidence/gate_decision.json": candidacy.gate.to_dict(),
                    "evidence/policy.json": candidacy.policy.model_dump(mode="json"),
                    "evidence/summary.json": {
                        **summary,
                        "text": candidacy.text(),
                        "runs": evidence,
                    },
                },
                tables=tables,
                description=f"{bundle.variant}: {candidacy.text()}"[:4000],
                uri=uri,
            )
        except WorkbenchError as exc:
            _record(
                uri,
                actor,
                experiment,
                "propose",
                "failed",
                detail=str(exc),
                previous_champion=champion,
                champion_after=champion,
                evidence_run_ids=evidence,
            )
            raise
        _record(
            uri,
            actor,
            experiment,
            "propose",
            "ok",
            version=info.version,
            previous_champion=champion,
            champion_after=champion,
            evidence_run_ids=evidence,
            detail=candidacy.text(),
        )
        return _candidate(info, uri, champion)


# --------------------------------------------------------------------------- reading


def queue(
    experiment: str | None = None, *, status: str | None = PENDING, tracking_uri: str | None = None
) -> list[Candidate]:
    """Candidates waiting for a decision (``status=None``: every version), newest first."""
    from workbench.tracking import registry

    uri = _store(tracking_uri)
    if experiment is not None and not registry.registered_model_exists(experiment, uri):
        return []
    if experiment is not None:
        _repair_quietly(experiment, uri)
    found = registry.versions(experiment, status=status, uri=uri)
    champions: dict[str, str | None] = {}
    out = []
    for info in found:
        if "workbench.variant_id" not in info.tags:
            continue
        if info.name not in champions:
            champions[info.name] = registry.champion(info.name, uri)
        out.append(_candidate(info, uri, champions[info.name]))
    return out


def experiments_with_candidates(*, tracking_uri: str | None = None) -> list[str]:
    """Experiments that have registered bundles."""
    return sorted({c.experiment for c in queue(None, status=None, tracking_uri=tracking_uri)})


def champion(experiment: str, *, tracking_uri: str | None = None) -> Champion | None:
    """What is in production for ``experiment`` and since when (None: no champion)."""
    from workbench.tracking import registry

    uri = _store(tracking_uri)
    if not registry.registered_model_exists(experiment, uri):
        return None
    _repair_quietly(experiment, uri)
    number = registry.champion(experiment, uri)
    if number is None:
        return None
    info = registry.version(experiment, number, uri)
    candidate = _candidate(info, uri, number)
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
    from workbench.tracking import registry

    uri = _store(tracking_uri)
    if registry.registered_model_exists(experiment, uri):
        _repair_quietly(experiment, uri)
    return _audit.audit_log(experiment, tracking_uri=uri)


# --------------------------------------------------------------------------- decisions


def approve(
    version: str | int,
    *,
    experiment: str,
    reason: str,
    user: User | None = None,
    tracking_uri: str | None = None,
) -> Decision:
    """Make a pending candidate the champion (leads only): ``champion`` alias and the
    prompt's ``production`` alias move together, or neither does."""
    return _decide("approve", experiment, str(version), reason, user, tracking_uri)


def reject(
    version: str | int,
    *,
    experiment: str,
    reason: str,
    user: User | None = None,
    tracking_uri: str | None = None,
) -> Decision:
    """Reject a pending candidate (leads only)."""
    return _decide("reject", experiment, str(version), reason, user, tracking_uri)


def rollback(
    experiment: str, *, reason: str, user: User | None = None, tracking_uri: str | None = None
) -> Decision:
    """Move ``champion`` (and the prompt alias) back to the previous champion (leads only)."""
    return _decide("rollback", experiment, None, reason, user, tracking_uri)


def _decide(
    action: str,
    experiment: str,
    number: str | None,
    reason: str,
    user: User | None,
    tracking_uri: str | None,
) -> Decision:
    from workbench.tracking import registry

    uri = _store(tracking_uri)
    _require_experiment(experiment, uri)
    actor = _roles.acting_user(user)
    with registry.promotion_lock(experiment, uri):
        try:
            _recover(experiment, uri)
        except Exception as exc:
            raise PromotionError(
                f"the last decision on '{experiment}' was interrupted and could not be repaired "
                f"yet ({type(exc).__name__}: {exc}); nothing was changed",
                hint="retry once the MLflow store is reachable",
            ) from exc
        has_model = registry.registered_model_exists(experiment, uri)
        current = registry.champion(experiment, uri) if has_model else None
        context: dict[str, Any] = {
            "version": number,
            "previous_champion": current,
            "champion_after": current,
            "reason": reason or "",
        }

        def refuse(error: WorkbenchError) -> WorkbenchError:
            return _refuse(uri, actor, experiment, action, error, **context)

        if not _roles.allowed(actor, action):
            raise refuse(_roles.denial(actor, action, experiment))
        if not (reason or "").strip():
            raise refuse(ConfigError(f"a reason is required to {action}", hint='--reason "..."'))
        if not has_model:
            raise refuse(
                NotFoundError(f"'{experiment}' has no candidates yet", hint="workbench propose ...")
            )
        if action == "rollback":
            if current is None:
                raise refuse(PromotionError(f"'{experiment}' has no champion to roll back"))
            info = registry.version(experiment, current, uri)
            target = info.tags.get(T_PREVIOUS)
            if target in (None, "", "none"):
                raise refuse(
                    PromotionError(
                        f"version {current} was the first champion of '{experiment}': "
                        "there is no previous champion to roll back to"
                    )
                )
            context["version"] = current
        else:
            assert number is not None
            try:
                info = registry.version(experiment, number, uri)
            except NotFoundError as exc:
                raise refuse(exc) from None
            if info.status != PENDING:
                raise refuse(
                    PromotionError(
                        f"version {number} of '{experiment}' is {info.status}; only a pending "
                        f"candidate can be {'approved' if action == 'approve' else 'rejected'}"
                    )
                )
            target = number if action == "approve" else current
        evidence = [
            info.tags.get("workbench.source_run", ""),
            info.tags.get("workbench.variant_run", ""),
        ]
        context["evidence_run_ids"] = evidence
        try:
            new_bundle = old_bundle = None
            if target != current:
                assert target is not None
                target_info = (
                    info if target == info.version else registry.version(experiment, target, uri)
                )
                new_bundle = load_bundle(target_info.model_id, tracking_uri=uri)
                if target_info is not info:
                    evidence.append(target_info.tags.get("workbench.variant_run", ""))
                if current is not None:
                    old_bundle = load_bundle(
                        registry.version(experiment, current, uri).model_id, tracking_uri=uri
                    )
            moves = _prompt_moves(uri, new_bundle, old_bundle) if new_bundle else []
        except WorkbenchError as exc:
            raise refuse(exc) from None
        now = _now()
        tags = _decision_tags(action, actor, reason, now, current)
        steps = _Steps()
        record = _audit.new_record(
            experiment=experiment,
            action=action,
            outcome="ok",
            who=actor.name,
            role=actor.role,
            version=context["version"],
            previous_champion=current,
            champion_after=target,
            reason=reason,
            evidence_run_ids=evidence,
            prompt=_describe_moves(moves),
        )
        tagged = str(context["version"])
        old_tags = {k: info.tags.get(k) for k in tags}
        registry.set_model_tag(
            experiment, INTENT_TAG, _intent(record, actor, tagged, current, moves, old_tags), uri
        )
        try:
            if target != current:
                steps.run(
                    f"alias {experiment}@champion",
                    _call(registry.set_champion, experiment, target, uri),
                    _call(registry.set_champion, experiment, current, uri),
                )
            for name, before, after in moves:
                steps.run(
                    f"alias {name}@production",
                    _call(registry.set_prompt_alias, name, registry.PRODUCTION, after, uri),
                    _call(registry.set_prompt_alias, name, registry.PRODUCTION, before, uri),
                )
            steps.run(
                f"tags of version {tagged}",
                _call(registry.set_version_tags, experiment, tagged, tags, uri),
                _call(registry.set_version_tags, experiment, tagged, old_tags, uri),
            )
            steps.run("audit record", _call(_write, record, uri), _call(_nothing))
        except _StepFailed as failed:
            problems = steps.undo()
            state = (
                "nothing was changed (every step already taken was undone)"
                if not problems
                else "UNDO INCOMPLETE: " + "; ".join(problems)
            )
            message = (
                f"{action} of '{experiment}' failed at step '{failed.label}': "
                f"{type(failed.exc).__name__}: {failed.exc}; {state}"
            )
            try:
                _record(
                    uri,
                    actor,
                    experiment,
                    action,
                    "failed",
                    detail=message,
                    version=context["version"],
                    previous_champion=current,
                    champion_after=registry.champion(experiment, uri),
                    reason=reason,
                    evidence_run_ids=evidence,
                    prompt=_describe_moves(moves),
                )
            except Exception as exc:
                message += f" (and the failure could not be audited: {type(exc).__name__}: {exc})"
            if not problems:
                _clear_intent(experiment, uri)
            raise PromotionError(message) from failed.exc
        _clear_intent(experiment, uri)
        return Decision(
            action=action,
            experiment=experiment,
            version=context["version"],
            previous_champion=current,
            champion=target,
            prompt_moves=tuple((_describe_moves(moves) or "").split("; ")) if moves else (),
            audit_event=record.event_id,
        )


def _clear_intent(experiment: str, uri: str) -> None:
    from workbench.tracking import registry

    try:
        registry.set_model_tag(experiment, INTENT_TAG, None, uri)
    except Exception:  # left behind: the next operation sees its audit record and clears it
        return


def _decision_tags(
    action: str, actor: User, reason: str, now: str, current: str | None
) -> dict[str, str]:
    from workbench.tracking import registry

    if action == "approve":
        return {
            registry.STATUS: APPROVED,
            T_BY: actor.name,
            T_AT: now,
            T_REASON: reason[:4000],
            T_PREVIOUS: current or "none",
            T_SINCE: now,
        }
    if action == "reject":
        return {registry.STATUS: REJECTED, T_BY: actor.name, T_AT: now, T_REASON: reason[:4000]}
    return {
        registry.STATUS: ROLLED_BACK,
        "rollback.by": actor.name,
        "rollback.at": now,
        "rollback.reason": reason[:4000],
    }


__all__ = [
    "Candidacy",
    "Candidate",
    "Champion",
    "Decision",
    "NotACandidate",
    "PermissionDenied",
    "approve",
    "audit_log",
    "champion",
    "check",
    "experiments_with_candidates",
    "propose",
    "queue",
    "recover",
    "reject",
    "rollback",
]
