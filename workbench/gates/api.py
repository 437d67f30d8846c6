"""``workbench gate``: evaluate a logged run against a policy and record the decision."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError
from workbench.gates._policy import GateDecision, evaluate_board, load_policy, pick
from workbench.spec import GatePolicy


@dataclass
class GateReport:
    experiment: str
    run_id: str
    policy: GatePolicy
    decisions: list[GateDecision]
    chosen: GateDecision

    @property
    def passed(self) -> bool:
        return self.chosen.passed


def _policy(policy: GatePolicy | str | Path | None, loaded: Any) -> GatePolicy:
    if isinstance(policy, GatePolicy):
        return policy
    if policy is not None:
        return load_policy(policy)
    from workbench.tracking.read import POLICY_FILE, read_json

    logged = read_json(loaded.tracking_uri, loaded.run_id, POLICY_FILE)
    if logged is None:
        raise ConfigError(
            f"run {loaded.run_id} has no gate policy",
            hint="pass --policy FILE, or add a gates: section to the experiment",
        )
    return GatePolicy.model_validate(logged)


def gate(
    experiment_or_run: str,
    *,
    variant: str | None = None,
    policy: GatePolicy | str | Path | None = None,
    tracking_uri: str | None = None,
    record: bool = True,
) -> GateReport:
    """Gate a variant (default: the run's best) of an experiment's newest run, or of a run id.

    The decision is logged to the variant's MLflow run (tags + JSON artifact) when
    ``record`` is true. The policy is ``policy`` or the one the run was logged with.
    """
    from workbench.tracking import log_gate_decision
    from workbench.tracking.read import load_experiment

    loaded = load_experiment(experiment_or_run, tracking_uri=tracking_uri)
    chosen_policy = _policy(policy, loaded)
    decisions = evaluate_board(loaded.board, chosen_policy, loaded.variant_run_ids)
    if variant is not None:
        variant = loaded.variant_ids([variant])[0]
    chosen = pick(decisions, variant)
    if record:
        log_gate_decision(loaded.tracking_uri, chosen)
    return GateReport(loaded.experiment, loaded.run_id, chosen_policy, decisions, chosen)


def decide(result: Any, policy: GatePolicy) -> GateDecision:
    """The decision for a fresh run's best variant (its leaderboard's first row)."""
    decisions = evaluate_board(result.variants, policy, result.variant_run_ids)
    return decisions[0]
