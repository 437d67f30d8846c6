"""Proposing: check a variant's evidence, and register a qualifying one as a pending
candidate (a bundle version with its evidence), every attempt audited."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import NotFoundError, PromotionError, WorkbenchError
from workbench.promotion import _audit, _roles
from workbench.promotion._bundle import Bundle, bundle_from_run, load_bundle
from workbench.promotion._candidates import Candidacy, evaluate
from workbench.promotion._describe import proposal_markdown
from workbench.promotion._integrity import refuse_if_inconsistent
from workbench.promotion._tags import PENDING, now, proposal_tags
from workbench.promotion._types import Candidate, NotACandidate
from workbench.records import RunResult
from workbench.tracking import ensure_store, registry
from workbench.tracking.read import load_experiment
from workbench.users import User

if TYPE_CHECKING:
    from workbench.spec import GatePolicy
    from workbench.tracking.registry import VersionInfo


def _source_run(source: str | RunResult) -> str:
    if isinstance(source, RunResult):
        if not source.run_id:
            raise PromotionError(
                "this run was not tracked in MLflow (track=False): nothing to propose"
            )
        return source.run_id
    return str(source)


def _variant_of(source: str, variant: str | None, uri: str) -> str | None:
    """A variant's own (child) run id as ``source`` means that variant."""
    if variant is not None or not re.fullmatch(r"[0-9a-f]{32}", source):
        return variant
    try:
        info = registry.run_info(source, uri)
    except NotFoundError:
        return None
    return info.tags.get("workbench.variant_id") if info.parent_id else None


def check(
    source: str | RunResult,
    *,
    variant: str | None = None,
    policy: GatePolicy | str | Path | None = None,
    tracking_uri: str | None = None,
    record_gate: bool = False,
) -> Candidacy:
    """The evidence on a variant (default: the run's best) without registering anything.

    ``source``: an experiment name (its newest run), an MLflow run id (a variant's own
    run means that variant), or a ``RunResult``."""
    # on use: the pipeline loads analysis (pandas, scipy), too heavy for `import workbench.promotion`
    from workbench.pipeline import gate

    uri = ensure_store(tracking_uri)
    run_id = _source_run(source)
    variant = _variant_of(run_id, variant, uri)
    loaded = load_experiment(run_id, tracking_uri=uri)
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
    source: str | RunResult,
    *,
    variant: str | None = None,
    user: User | None = None,
    policy: GatePolicy | str | Path | None = None,
    tracking_uri: str | None = None,
    reason: str = "",
) -> Candidate:
    """Register a qualifying variant as a pending candidate (scientists and leads).

    ``reason``: why (default: the evidence in one line); it heads the version's MLflow
    description, which carries the evidence as markdown (:mod:`._describe`).
    Refusals (role, aliases moved outside the workbench, gates, no significant
    improvement, a guard regression, a duplicate) raise and are audited;
    :class:`NotACandidate` carries the evidence."""
    uri = ensure_store(tracking_uri)
    actor = _roles.acting_user(user)
    run_id = _source_run(source)
    variant = _variant_of(run_id, variant, uri)
    loaded = load_experiment(run_id, tracking_uri=uri)
    experiment = loaded.experiment
    context: _audit.Details = {"evidence_run_ids": [loaded.run_id], "reason": reason}

    def refuse(error: WorkbenchError) -> WorkbenchError:
        return _audit.refuse(uri, actor, experiment, "propose", error, **context)

    if not _roles.allowed(actor, "propose"):
        raise refuse(_roles.denial(actor, "propose", experiment))
    with registry.promotion_lock(experiment, uri):
        refuse_if_inconsistent(experiment, uri, refuse)
        try:
            candidacy = check(
                loaded.run_id, variant=variant, policy=policy, tracking_uri=uri, record_gate=True
            )
        except WorkbenchError as exc:
            raise refuse(exc) from None
        champion = candidacy.champion
        evidence = candidacy.evidence_run_ids
        context.update(
            {
                "previous_champion": champion,
                "champion_after": champion,
                "evidence_run_ids": evidence,
            }
        )
        if not candidacy.qualifies:
            raise refuse(NotACandidate(candidacy))
        pending = _pending_twin(experiment, candidacy.variant_id, uri)
        if pending is not None:
            raise refuse(
                PromotionError(
                    f"{candidacy.variant} is already pending as version {pending.version}",
                    hint=f"decide on it: workbench approve|reject {pending.version} "
                    f"--experiment {experiment} --reason ...",
                )
            )
        try:
            bundle = bundle_from_run(candidacy.variant_run_id, tracking_uri=uri)
        except WorkbenchError as exc:
            raise refuse(exc) from None
        try:
            info = _register(bundle, candidacy, actor, reason, uri)
        except WorkbenchError as exc:
            _audit.record_attempt(
                uri, actor, experiment, "propose", "failed", detail=str(exc), **context
            )
            raise
        _audit.record_attempt(
            uri,
            actor,
            experiment,
            "propose",
            "ok",
            detail=candidacy.text(),
            version=info.version,
            previous_champion=champion,
            champion_after=champion,
            evidence_run_ids=evidence,
            reason=reason,
        )
        return Candidate.from_version(info, uri, champion)


def _pending_twin(experiment: str, variant_id: str, uri: str) -> VersionInfo | None:
    """The pending version of the same variant, if there is one."""
    if not registry.registered_model_exists(experiment, uri):
        return None
    for pending in registry.versions(experiment, status=PENDING, uri=uri):
        if pending.tags.get("workbench.variant_id") == variant_id:
            return pending
    return None


def _register(
    bundle: Bundle, candidacy: Candidacy, actor: User, reason: str, uri: str
) -> VersionInfo:
    """The bundle as a new version of the experiment's registered model, with its evidence
    (in artifacts, tags and, for the MLflow UI, the version's markdown description)."""
    experiment = candidacy.experiment
    when = now()
    tables = {}
    if candidacy.comparison is not None:
        tables["evidence/comparison.json"] = candidacy.comparison
    return registry.register_bundle(
        experiment=experiment,
        source_run_id=bundle.variant_run_id,
        params=bundle.flat_params(),
        tags={
            "workbench.experiment": experiment,
            "workbench.variant_id": bundle.variant_id,
            "workbench.proposed_by": actor.name,
            "workbench.source_run": bundle.source_run_id,
        },
        version_tags=proposal_tags(bundle, candidacy, actor, candidacy.champion, when),
        artifacts={
            registry.BUNDLE_FILE: bundle.to_json(),
            "evidence/gate_decision.json": candidacy.gate.to_dict(),
            "evidence/policy.json": candidacy.policy.model_dump(mode="json"),
            "evidence/summary.json": {
                **candidacy.summary(),
                "text": candidacy.text(),
                "runs": candidacy.evidence_run_ids,
            },
        },
        tables=tables,
        description=proposal_markdown(candidacy, bundle, actor, reason, when, uri),
        uri=uri,
    )
