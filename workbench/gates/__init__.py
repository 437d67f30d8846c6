"""Release gates: a versioned policy -> a pass/fail decision per variant, with evidence."""

from __future__ import annotations

from workbench.gates._policy import (
    GateDecision,
    RuleResult,
    evaluate,
    evaluate_board,
    load_policy,
    pick,
    policy_digest,
)
from workbench.gates._print import decision_table, print_decision, summary_table
from workbench.spec import GatePolicy, SpecSource


def policy_of(source: SpecSource) -> GatePolicy | None:
    """The experiment's gates: inline, or the policy file it names (relative to the spec)."""
    gates = source.spec.gates
    if gates is None or isinstance(gates, GatePolicy):
        return gates
    return load_policy(source.resolve(gates))


__all__ = [
    "GateDecision",
    "GatePolicy",
    "RuleResult",
    "decision_table",
    "evaluate",
    "evaluate_board",
    "load_policy",
    "pick",
    "policy_digest",
    "policy_of",
    "print_decision",
    "summary_table",
]
