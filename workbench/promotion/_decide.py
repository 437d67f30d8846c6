"""A lead's decisions: approve, reject, roll back; every attempt audited.

A decision moves the registered-model alias ``champion`` and the prompt's ``production``
alias as one step: the moves, the version tags and the audit record are applied in order
(:mod:`._transaction`) after its intent is written (:mod:`._intent`); if any of them
fails, the ones already applied are undone, so either all of them happen or none does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from workbench.errors import (
    ConfigError,
    NotFoundError,
    PromotionError,
    WorkbenchError,
    did_you_mean,
)
from workbench.promotion import _audit, _roles
from workbench.promotion._aliases import PromptMove, describe, move_steps, prompt_moves, texts
from workbench.promotion._bundle import load_bundle
from workbench.promotion._describe import append_decision
from workbench.promotion._integrity import refuse_if_inconsistent
from workbench.promotion._intent import clear_intent, recover_locked, write_intent
from workbench.promotion._tags import PENDING, T_PREVIOUS, decision_tags, now
from workbench.promotion._transaction import StepFailed, Transaction
from workbench.promotion._types import Decision
from workbench.tracking import ensure_store, experiment_id, registry
from workbench.tracking.read import experiments
from workbench.users import User

if TYPE_CHECKING:
    from workbench.tracking.registry import VersionInfo

Refuse = Callable[[WorkbenchError], WorkbenchError]
"""Audits a refused attempt and returns the error to raise."""


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


@dataclass(frozen=True)
class _Change:
    """What a decision will change, resolved and checked before anything moves."""

    action: str
    experiment: str
    version: str
    """The version the decision is about (as given); its tags record the decision."""
    info: VersionInfo
    current: str | None
    """The champion before."""
    target: str | None
    """The champion after (the same as ``current`` unless it moves)."""
    evidence: list[str]
    moves: list[PromptMove]


def _decide(
    action: str,
    experiment: str,
    number: str | None,
    reason: str,
    user: User | None,
    tracking_uri: str | None,
) -> Decision:
    uri = ensure_store(tracking_uri)
    _require_experiment(experiment, uri)
    actor = _roles.acting_user(user)
    with registry.promotion_lock(experiment, uri):
        try:
            recover_locked(experiment, uri)
        except Exception as exc:
            raise PromotionError(
                f"the last decision on '{experiment}' was interrupted and could not be repaired "
                f"yet ({type(exc).__name__}: {exc}); nothing was changed",
                hint="retry once the MLflow store is reachable",
            ) from exc
        has_model = registry.registered_model_exists(experiment, uri)
        current = registry.champion(experiment, uri) if has_model else None
        context: _audit.Details = {
            "version": number,
            "previous_champion": current,
            "champion_after": current,
            "reason": reason or "",
        }

        def refuse(error: WorkbenchError) -> WorkbenchError:
            return _audit.refuse(uri, actor, experiment, action, error, **context)

        if not _roles.allowed(actor, action):
            raise refuse(_roles.denial(actor, action, experiment))
        if not (reason or "").strip():
            raise refuse(ConfigError(f"a reason is required to {action}", hint='--reason "..."'))
        if not has_model:
            raise refuse(
                NotFoundError(f"'{experiment}' has no candidates yet", hint="workbench propose ...")
            )
        if action != "reject":  # a rejection builds on nothing: allowed while inconsistent
            refuse_if_inconsistent(experiment, uri, refuse)
        target: str | None
        if action == "rollback":
            info, target = _rollback_target(experiment, current, uri, refuse)
            version = info.version  # the champion rolled back from
        else:
            assert number is not None
            info, target = _pending_target(action, experiment, number, current, uri, refuse)
            version = number
        context["version"] = version
        evidence = [
            info.tags.get("workbench.source_run", ""),
            info.tags.get("workbench.variant_run", ""),
        ]
        context["evidence_run_ids"] = evidence  # the same list: a target's run joins it below
        try:
            moves = _moves(experiment, info, current, target, evidence, uri)
        except WorkbenchError as exc:
            raise refuse(exc) from None
        change = _Change(action, experiment, version, info, current, target, evidence, moves)
        return _apply(change, actor, reason, uri)


def _require_experiment(experiment: str, uri: str) -> None:
    if experiment_id(experiment, uri, create=False) is None:
        raise NotFoundError(
            f"no experiment '{experiment}' in the MLflow store",
            hint=did_you_mean(experiment, experiments(uri)) or "run it first: workbench run ...",
        )


def _rollback_target(
    experiment: str, current: str | None, uri: str, refuse: Refuse
) -> tuple[VersionInfo, str]:
    """The champion to roll back from, and the one before it."""
    if current is None:
        raise refuse(PromotionError(f"'{experiment}' has no champion to roll back"))
    info = registry.version(experiment, current, uri)
    target = info.tags.get(T_PREVIOUS)
    if target is None or target in ("", "none"):
        raise refuse(
            PromotionError(
                f"version {current} was the first champion of '{experiment}': "
                "there is no previous champion to roll back to"
            )
        )
    return info, target


def _pending_target(
    action: str, experiment: str, number: str, current: str | None, uri: str, refuse: Refuse
) -> tuple[VersionInfo, str | None]:
    """The pending candidate ``number``, and the champion after approving or rejecting it."""
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
    return info, number if action == "approve" else current


def _moves(
    experiment: str,
    info: VersionInfo,
    current: str | None,
    target: str | None,
    evidence: list[str],
    uri: str,
) -> list[PromptMove]:
    """The prompt alias moves that go with moving the champion from ``current`` to
    ``target`` (each bundle loaded, so a broken one refuses the decision)."""
    if target == current or target is None:
        return []
    target_info = info if target == info.version else registry.version(experiment, target, uri)
    new_bundle = load_bundle(target_info.model_id, tracking_uri=uri)
    if target_info is not info:
        evidence.append(target_info.tags.get("workbench.variant_run", ""))
    old_bundle = None
    if current is not None:
        old_bundle = load_bundle(
            registry.version(experiment, current, uri).model_id, tracking_uri=uri
        )
    return prompt_moves(uri, new_bundle, old_bundle)


def _apply(change: _Change, actor: User, reason: str, uri: str) -> Decision:
    """Write the intent, then move the aliases, tag the version and append the audit
    record as one transaction; undo and report when a step fails."""
    action, experiment, version = change.action, change.experiment, change.version
    current, target, moves = change.current, change.target, change.moves
    tags = decision_tags(action, actor, reason, now(), current)
    record = _audit.new_record(
        experiment=experiment,
        action=action,
        outcome="ok",
        who=actor.name,
        role=actor.role,
        version=version,
        previous_champion=current,
        champion_after=target,
        reason=reason,
        evidence_run_ids=change.evidence,
        prompt=describe(moves),
    )
    old_tags = {k: change.info.tags.get(k) for k in tags}
    write_intent(experiment, record, actor, version, current, moves, old_tags, uri)
    steps = Transaction()
    try:
        move_steps(steps, experiment, current, target, moves, uri)
        steps.run(
            f"tags of version {version}",
            partial(registry.set_version_tags, experiment, version, tags, uri),
            partial(registry.set_version_tags, experiment, version, old_tags, uri),
        )
        moved = f"champion {current or '-'} -> {target or '-'}"
        append_decision(steps, change.info, action, moved, actor, reason, uri)
        steps.run("audit record", partial(_audit.write, record, tracking_uri=uri))
    except StepFailed as failed:
        raise _undone(change, steps, failed, actor, reason, uri) from failed.exc
    clear_intent(experiment, uri)
    return Decision(
        action=action,
        experiment=experiment,
        version=version,
        previous_champion=current,
        champion=target,
        prompt_moves=texts(moves),
        audit_event=record.event_id,
    )


def _undone(
    change: _Change, steps: Transaction, failed: StepFailed, actor: User, reason: str, uri: str
) -> PromotionError:
    """Undo the applied steps, audit the failure; returns the error to raise."""
    problems = steps.undo()
    state = (
        "nothing was changed (every step already taken was undone)"
        if not problems
        else "UNDO INCOMPLETE: " + "; ".join(problems)
    )
    message = (
        f"{change.action} of '{change.experiment}' failed at step '{failed.label}': "
        f"{type(failed.exc).__name__}: {failed.exc}; {state}"
    )
    try:
        _audit.record_attempt(
            uri,
            actor,
            change.experiment,
            change.action,
            "failed",
            detail=message,
            version=change.version,
            previous_champion=change.current,
            champion_after=registry.champion(change.experiment, uri),
            reason=reason,
            evidence_run_ids=change.evidence,
            prompt=describe(change.moves),
        )
    except Exception as exc:
        message += f" (and the failure could not be audited: {type(exc).__name__}: {exc})"
    if not problems:
        clear_intent(change.experiment, uri)
    return PromotionError(message)
