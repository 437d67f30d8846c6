"""The tags promotion writes on a registered version: its status, the proposal's evidence
and who decided what, when and why. :class:`~workbench.promotion.Candidate` reads them back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from workbench.promotion._bundle import Bundle
from workbench.promotion._candidates import Candidacy
from workbench.tracking import registry
from workbench.users import User

PENDING, APPROVED, REJECTED, ROLLED_BACK = "pending", "approved", "rejected", "rolled_back"
T_BY, T_AT, T_REASON = "approval.by", "approval.at", "approval.reason"
T_PREVIOUS = "champion.previous"
T_SINCE = "champion.since"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def proposal_tags(
    bundle: Bundle, candidacy: Candidacy, actor: User, champion: str | None, when: str
) -> dict[str, str]:
    """A new candidate version's tags: pending, what it is, who proposed it, its evidence."""
    summary = candidacy.summary()
    return {
        registry.STATUS: PENDING,
        "workbench.experiment": candidacy.experiment,
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
        "workbench.proposed_at": when,
        "workbench.champion_at_proposal": champion or "none",
        "workbench.gate": f"{summary['gate']['verdict']} ({summary['gate']['policy']})",
        "workbench.evidence": json.dumps(summary, default=str)[:4900],
    }


def decision_tags(
    action: str, actor: User, reason: str, when: str, current: str | None
) -> dict[str, str]:
    """The tags an approve / reject / rollback sets on the version it decides."""
    if action == "approve":
        return {
            registry.STATUS: APPROVED,
            T_BY: actor.name,
            T_AT: when,
            T_REASON: reason[:4000],
            T_PREVIOUS: current or "none",
            T_SINCE: when,
        }
    if action == "reject":
        return {registry.STATUS: REJECTED, T_BY: actor.name, T_AT: when, T_REASON: reason[:4000]}
    return {
        registry.STATUS: ROLLED_BACK,
        "rollback.by": actor.name,
        "rollback.at": when,
        "rollback.reason": reason[:4000],
    }
