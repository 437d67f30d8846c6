"""What the promotion service returns: candidates, the champion, decisions, and the error
that carries the evidence when a variant is not a candidate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.errors import PromotionError
from workbench.promotion._bundle import Bundle, load_bundle
from workbench.promotion._candidates import Candidacy
from workbench.ratings import summarize
from workbench.tracking import registry
from workbench.tracking.feedback import load_ratings

if TYPE_CHECKING:
    import pandas as pd

    from workbench.tracking.registry import VersionInfo


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

    @classmethod
    def from_version(cls, info: VersionInfo, uri: str, champion: str | None) -> Candidate:
        """The candidate a registered version holds (``champion``: the champion's version)."""
        tags = info.tags
        try:
            evidence = json.loads(tags.get("workbench.evidence", "{}"))
        except json.JSONDecodeError:
            evidence = {}
        return cls(
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

    @property
    def champion_at_proposal(self) -> str | None:
        value = self.tags.get("workbench.champion_at_proposal")
        return None if value in (None, "none") else value

    def bundle(self) -> Bundle:
        return load_bundle(self.model_id, tracking_uri=self.tracking_uri)

    def comparison(self) -> pd.DataFrame | None:
        """The paired comparison with the champion at proposal time (``compare_grid`` rows)."""
        if not self.model_id:
            return None
        return registry.model_table(self.model_id, "evidence/comparison.json", self.tracking_uri)

    def gate_decision(self) -> dict[str, Any] | None:
        if not self.model_id:
            return None
        return registry.model_json(self.model_id, "evidence/gate_decision.json", self.tracking_uri)

    def rating_summary(self) -> pd.DataFrame | None:
        """PM ratings of the candidate's run, when there are any: win rates and
        Bradley-Terry strengths per variant (:func:`workbench.ratings.summarize`)."""
        if not self.run_id:
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
    """The version in production for an experiment, since when, and who approved it."""

    experiment: str
    version: str
    since: str | None
    approved_by: str | None
    reason: str | None
    candidate: Candidate
    bundle: Bundle
