"""Crash recovery: the write-ahead intent of a decision, and undoing one that died mid-way.

A decision moves two aliases and a version's tags, then appends its audit record. Before
the first move it writes its *intent* (what every touched thing looked like before) on
the registered model. A failure that raises is undone at once; a process that dies
(SIGKILL, power loss) leaves the intent behind, and the next promotion operation on that
experiment finds it, restores the before-state and audits the interrupted attempt.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

from workbench.promotion import _audit
from workbench.promotion._aliases import PromptMove
from workbench.tracking import ensure_store, registry
from workbench.users import User

INTENT_TAG = "workbench.decision_in_progress"
STALE_AFTER_S = 300.0
"""An intent this old is stale even when its process cannot be checked (another host)."""


def write_intent(
    experiment: str,
    record: _audit.AuditRecord,
    actor: User,
    version: str,
    current: str | None,
    moves: Sequence[PromptMove],
    old_tags: dict[str, str | None],
    uri: str,
) -> None:
    """Record on the registered model what the decision ``record`` is about to change."""
    intent = {
        "event_id": record.event_id,
        "action": record.action,
        "who": actor.name,
        "role": actor.role,
        "version": version,
        "champion_before": current,
        "prompts_before": [[move.name, move.before] for move in moves],
        "tags_before": old_tags,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": time.time(),
    }
    registry.set_model_tag(experiment, INTENT_TAG, json.dumps(intent), uri)


def clear_intent(experiment: str, uri: str) -> None:
    """Remove the intent of a decision that finished or was fully undone."""
    try:
        registry.set_model_tag(experiment, INTENT_TAG, None, uri)
    except Exception:  # left behind: the next operation sees its audit record and clears it
        return


def _is_stale(intent: dict[str, Any]) -> bool:
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


def recover_locked(experiment: str, uri: str) -> str | None:
    """Undo a decision whose process died mid-way (caller holds the promotion lock).

    Returns what was done, or None when there was nothing to recover."""
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
    _audit.record_attempt(
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
    uri = ensure_store(tracking_uri)
    with registry.promotion_lock(experiment, uri):
        return recover_locked(experiment, uri)


def repair_quietly(experiment: str, uri: str) -> None:
    """Reads repair what they can; if the store still fails, the intent stays for the next
    operation (a decision then refuses to proceed until it is repaired)."""
    try:
        recover(experiment, tracking_uri=uri)
    except Exception:
        return
