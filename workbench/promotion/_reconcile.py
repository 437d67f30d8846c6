"""Reconciling aliases moved outside the workbench, in one audited step (leads only).

``adopt`` keeps the aliases where they were moved and records who accepts that and why
(the adopted champion's version is tagged as approved); ``revert`` moves them back to
where the last audited decision left them. Either way the audit log then states the
aliases as they are, so :func:`~._integrity.integrity` is consistent again. The moves, the
tags, the description and the audit record go through the same intent and transaction as
a decision (:mod:`._intent`, :mod:`._transaction`).
"""

from __future__ import annotations

from functools import partial
from typing import Literal

from workbench.errors import ConfigError, PromotionError, WorkbenchError
from workbench.promotion import _audit, _roles
from workbench.promotion._aliases import PromptMove, describe, move_steps, texts
from workbench.promotion._describe import append_decision
from workbench.promotion._integrity import Integrity, check, pinned_prompt, record_alarm
from workbench.promotion._intent import clear_intent, recover_locked, write_intent
from workbench.promotion._tags import decision_tags, now
from workbench.promotion._transaction import StepFailed, Transaction
from workbench.promotion._types import Decision
from workbench.tracking import ensure_store, registry
from workbench.users import User

How = Literal["adopt", "revert"]


def reconcile(
    experiment: str,
    *,
    how: How,
    reason: str,
    user: User | None = None,
    tracking_uri: str | None = None,
) -> Decision:
    """Make the aliases and the audit log agree again (leads only): ``adopt`` the aliases
    as they were moved, or ``revert`` them to the last audited decision."""
    uri = ensure_store(tracking_uri)
    actor = _roles.acting_user(user)
    with registry.promotion_lock(experiment, uri):
        recover_locked(experiment, uri)
        records = _audit.audit_log(experiment, tracking_uri=uri)
        state = check(experiment, uri, records)
        context: _audit.Details = {
            "version": state.actual_champion,
            "previous_champion": state.actual_champion,
            "champion_after": state.actual_champion,
            "reason": reason or "",
        }

        def refuse(error: WorkbenchError) -> WorkbenchError:
            return _audit.refuse(uri, actor, experiment, "reconcile", error, **context)

        if not _roles.allowed(actor, "reconcile"):
            raise refuse(_roles.denial(actor, "reconcile", experiment))
        if how not in ("adopt", "revert"):
            raise refuse(ConfigError(f"reconcile how '{how}': choose adopt or revert"))
        if not (reason or "").strip():
            raise refuse(ConfigError("a reason is required to reconcile", hint='--reason "..."'))
        if state.in_progress:
            raise refuse(PromotionError(f"a decision on '{experiment}' is in progress; retry"))
        if state.consistent:
            raise refuse(
                PromotionError(f"nothing to reconcile: {state.message()}", hint="no change needed")
            )
        record_alarm(state, records, uri)
        return _apply(state, how, actor, reason, uri)


def _moves(state: Integrity, how: How, uri: str) -> list[PromptMove]:
    """The prompt moves, as the audit should record them: the ones found (adopt), or the
    ones made to undo them (revert). Adopting another champion also records where its
    own prompt's alias is, so that it is expected there from now on."""
    moves = []
    for alarm in state.alarms:
        if alarm.is_champion:
            continue
        name = alarm.alias.rsplit("@", 1)[0]
        if how == "adopt":
            moves.append(PromptMove(name, alarm.expected, alarm.actual))
        else:
            moves.append(PromptMove(name, alarm.actual, alarm.expected))
    pinned = pinned_prompt(state.experiment, state.actual_champion, uri)
    if how == "adopt" and pinned is not None and pinned[0] not in state.expected_prompts:
        name, version = pinned
        actual = registry.prompt_alias(name, registry.PRODUCTION, uri)
        if actual != version:
            moves.append(PromptMove(name, version, actual))
    return moves


def _apply(state: Integrity, how: How, actor: User, reason: str, uri: str) -> Decision:
    experiment = state.experiment
    moves = _moves(state, how, uri)
    found, audited = state.actual_champion, state.expected_champion
    after = found if how == "adopt" else audited
    found_text = "; ".join(a.text() for a in state.alarms)
    detail = (
        f"adopted the aliases as moved outside the workbench ({found_text})"
        if how == "adopt"
        else f"reverted the aliases moved outside the workbench ({found_text})"
    )
    record = _audit.new_record(
        experiment=experiment,
        action="reconcile",
        outcome="ok",
        who=actor.name,
        role=actor.role,
        version=after,
        previous_champion=found,
        champion_after=after,
        reason=reason,
        detail=detail,
        prompt=describe(moves),
    )
    adopted = how == "adopt" and after is not None and after != audited
    tags = decision_tags("approve", actor, f"adopted: {reason}", now(), audited) if adopted else {}
    info = registry.version(experiment, after, uri) if after is not None else None
    old_tags = {k: info.tags.get(k) for k in tags} if info is not None else {}
    write_intent(
        experiment,
        record,
        actor,
        after or "",
        found,
        moves if how == "revert" else [],
        old_tags,
        uri,
    )
    steps = Transaction()
    try:
        if how == "revert":
            move_steps(steps, experiment, found, after, moves, uri)
        if tags and after is not None:
            steps.run(
                f"tags of version {after}",
                partial(registry.set_version_tags, experiment, after, tags, uri),
                partial(registry.set_version_tags, experiment, after, old_tags, uri),
            )
        if info is not None:
            append_decision(steps, info, "reconcile", f"{how}: {detail}", actor, reason, uri)
        steps.run("audit record", partial(_audit.write, record, tracking_uri=uri))
    except StepFailed as failed:
        problems = steps.undo()
        state_text = (
            "nothing was changed" if not problems else "UNDO INCOMPLETE: " + "; ".join(problems)
        )
        message = (
            f"reconcile of '{experiment}' failed at step '{failed.label}': "
            f"{type(failed.exc).__name__}: {failed.exc}; {state_text}"
        )
        _audit.record_attempt(
            uri, actor, experiment, "reconcile", "failed", detail=message, reason=reason
        )
        if not problems:
            clear_intent(experiment, uri)
        raise PromotionError(message) from failed.exc
    clear_intent(experiment, uri)
    return Decision(
        action="reconcile",
        experiment=experiment,
        version=after,
        previous_champion=found,
        champion=after,
        prompt_moves=texts(moves),
        audit_event=record.event_id,
    )
