"""Promotion: candidates, the queue, lead decisions, rollback, the audit log.

    import workbench as wb
    from workbench import promotion

    promotion.propose("quickstart")                       # scientist or lead
    promotion.queue("quickstart")                         # pending candidates + evidence
    promotion.approve(3, experiment="quickstart", reason="beats v2 on pass rate")   # lead
    promotion.rollback("quickstart", reason="regression reported")                  # lead
    promotion.integrity("quickstart")   # the aliases against the audit log (alarms)
    promotion.verify_chain("quickstart")  # the audit log's hash chain
    promotion.reconcile("quickstart", how="revert", reason="moved in the MLflow UI")  # lead
    champion = wb.load_champion("quickstart")              # workbench.serving
    champion.answer("Who founded Acme Cloud?")

Every proposal, decision and rollback, and every refused or failed attempt, is written to
an append-only audit log in MLflow (:func:`audit_log`).

Where things live: ``_propose`` (check, propose), ``_decide`` (approve, reject, rollback),
``_queries`` (queue, champion, audit log), ``_types`` (what they return), ``_candidates``
(does a variant qualify), ``_bundle`` (what a candidate pins), ``_aliases`` (the champion
and prompt aliases a decision moves), ``_transaction`` and ``_intent`` (all-or-nothing
decisions and crash recovery), ``_tags`` (the tags on a version), ``_audit`` (the log),
``_roles`` (who may do what), ``_chain`` (the audit log's hash chain), ``_integrity``
(the aliases against the audit log), ``_reconcile`` (adopt or revert a move made outside
the workbench), ``_describe`` and ``_links`` (the evidence as the version's MLflow
description).
"""

from workbench.errors import PermissionDenied, PromotionError
from workbench.promotion._audit import AUDIT_COLUMNS, AuditRecord, audit_frame
from workbench.promotion._bundle import (
    Bundle,
    CorpusPin,
    DatasetPin,
    PromptPin,
    load_bundle,
    materialize,
)
from workbench.promotion._candidates import Candidacy
from workbench.promotion._chain import ChainProblem, ChainReport, verify_chain
from workbench.promotion._decide import approve, reject, rollback
from workbench.promotion._integrity import AliasAlarm, Integrity, IntegrityAlarm, integrity
from workbench.promotion._intent import recover
from workbench.promotion._propose import check, propose
from workbench.promotion._queries import audit_log, champion, experiments_with_candidates, queue
from workbench.promotion._reconcile import reconcile
from workbench.promotion._roles import ALLOWED, acting_user
from workbench.promotion._types import Candidate, Champion, Decision, NotACandidate

__all__ = [
    "ALLOWED",
    "AUDIT_COLUMNS",
    "AliasAlarm",
    "AuditRecord",
    "Bundle",
    "Candidacy",
    "Candidate",
    "ChainProblem",
    "ChainReport",
    "Champion",
    "CorpusPin",
    "DatasetPin",
    "Decision",
    "Integrity",
    "IntegrityAlarm",
    "NotACandidate",
    "PermissionDenied",
    "PromotionError",
    "PromptPin",
    "acting_user",
    "approve",
    "audit_frame",
    "audit_log",
    "champion",
    "check",
    "experiments_with_candidates",
    "integrity",
    "load_bundle",
    "materialize",
    "propose",
    "queue",
    "reconcile",
    "recover",
    "reject",
    "rollback",
    "verify_chain",
]
