"""Release gates: a versioned policy -> a pass/fail decision per variant, with evidence."""

from __future__ import annotations

from workbench.gates._policy import evaluate, evaluate_board, load_policy, pick, policy_digest
from workbench.gates._rules import Calibration
from workbench.records import GateDecision, RuleResult
from workbench.spec import GatePolicy, SpecSource


def policy_of(source: SpecSource) -> GatePolicy | None:
    """The experiment's gates: inline, or the policy file it names (relative to the spec)."""
    gates = source.spec.gates
    if gates is None or isinstance(gates, GatePolicy):
        return gates
    return load_policy(source.resolve(gates))


__all__ = [
    "Calibration",
    "GateDecision",
    "GatePolicy",
    "RuleResult",
    "evaluate",
    "evaluate_board",
    "load_policy",
    "pick",
    "policy_digest",
    "policy_of",
]
