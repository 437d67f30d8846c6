"""Promotion: candidates, the queue, lead decisions, rollback, the audit log, the champion.

    import workbench as wb
    from workbench import promotion

    promotion.propose("quickstart")                       # scientist or lead
    promotion.queue("quickstart")                         # pending candidates + evidence
    promotion.approve(3, experiment="quickstart", reason="beats v2 on pass rate")   # lead
    promotion.rollback("quickstart", reason="regression reported")                  # lead
    champion = wb.load_champion("quickstart")
    champion.answer("Who founded Acme Cloud?")

Every proposal, decision and rollback, and every refused or failed attempt, is written to
an append-only audit log in MLflow (:func:`audit_log`).
"""

from workbench.errors import PermissionDenied, PromotionError
from workbench.promotion._audit import AUDIT_COLUMNS, AuditRecord, audit_frame
from workbench.promotion._bundle import Bundle, CorpusPin, DatasetPin, PromptPin
from workbench.promotion._candidates import Candidacy
from workbench.promotion._champion import ChampionPipeline, load_champion
from workbench.promotion._roles import ALLOWED, acting_user
from workbench.promotion._service import (
    Candidate,
    Champion,
    Decision,
    NotACandidate,
    approve,
    audit_log,
    champion,
    check,
    experiments_with_candidates,
    propose,
    queue,
    recover,
    reject,
    rollback,
)

__all__ = [
    "ALLOWED",
    "AUDIT_COLUMNS",
    "AuditRecord",
    "Bundle",
    "Candidacy",
    "Candidate",
    "Champion",
    "ChampionPipeline",
    "CorpusPin",
    "DatasetPin",
    "Decision",
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
    "load_champion",
    "propose",
    "queue",
    "recover",
    "reject",
    "rollback",
]
