"""Release gates: a versioned policy applied to a variant's leaderboard row -> a decision.

Every rule is decided on a one-sided 95 % bound that errs against the candidate (the
Wilson *lower* bound of the pass rate, the order-statistic *upper* bound of the p95
latency, ...; see :mod:`workbench.gates._rules`), so a variant cannot pass on a lucky
small sample. Every rule reports its estimate, the value decided on, n and the method.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workbench import _paths
from workbench.errors import ConfigError, NotFoundError, did_you_mean
from workbench.gates._rules import Calibration, bounded_rule, decide, judge_status, number
from workbench.records import GateDecision, RuleResult
from workbench.spec import GatePolicy, parse_rule


def policy_digest(policy: GatePolicy) -> str:
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()[:12]


def load_policy(path: str | Path) -> GatePolicy:
    """A policy YAML file (the same fields as an experiment's ``gates:`` section)."""
    path = Path(path)
    if not _paths.is_file(path):
        raise ConfigError("gate policy file not found", where=path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", where=path) from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(f"cannot read the policy ({type(exc).__name__})", where=path) from None
    try:
        return GatePolicy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field_path = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{field_path}: {first['msg']}", where=path) from None


@dataclass(frozen=True)
class _Bounded:
    """A policy field decided on a leaderboard bound column."""

    field: str
    name: str
    estimate: str
    bound: str
    op: str
    what: str
    rate: bool = False
    fallback: str | None = None


_BOUNDED = (
    _Bounded(
        "min_pass_rate_lower_bound",
        "pass_rate_lower_bound",
        "pass_rate",
        "pass_rate_lb",
        ">=",
        "pass rate",
        rate=True,
        fallback="pass_rate_lo",
    ),
    _Bounded(
        "max_high_severity_rate",
        "high_severity_rate",
        "high_findings_rate",
        "high_findings_rate_ub",
        "<=",
        "finding rate",
        rate=True,
    ),
    _Bounded("max_p95_latency_s", "p95_latency_s", "latency_p95", "latency_p95_ub", "<=", "p95"),
    _Bounded(
        "max_cost_per_success_usd",
        "cost_per_success_usd",
        "cost_per_success",
        "cost_per_success_ub",
        "<=",
        "cost",
    ),
    _Bounded(
        "max_error_rate", "error_rate", "error_rate", "error_rate_ub", "<=", "error rate", rate=True
    ),
)
"""In the order the rules are reported (after the count of high-severity findings)."""


def _findings_rule(row: Mapping[str, Any], limit: int) -> RuleResult:
    count = number(row, "high_findings") if "high_findings" in row else 0.0
    return decide(
        "high_severity_findings",
        count,
        "<=",
        limit,
        estimate=count,
        basis="count",
        method="findings in this run",
    )


def _unscored_rules(row: Mapping[str, Any], limit: float) -> list[RuleResult]:
    return [
        decide(
            f"unscored:{key.removesuffix('_unscored')}",
            number(row, key),
            "<=",
            limit,
            estimate=number(row, key),
            basis="share",
            method="share of this run's applicable samples",
        )
        for key in sorted(k for k in row if str(k).endswith("_unscored"))
    ]


def _metric_rule(row: Mapping[str, Any], policy: GatePolicy, metric: str, text: str) -> RuleResult:
    if metric not in row:
        known = [k for k in row if not str(k).endswith(("_lo", "_hi", "_lb", "_ub", "_unscored"))]
        raise ConfigError(
            f"gates.metrics.{metric}: not a metric of this run",
            hint=did_you_mean(metric, known),
        )
    op, threshold = parse_rule(text)
    name = f"mean:{metric}"
    if op == "==":
        estimate = number(row, metric)
        method = "estimate ('==' has no one-sided bound)"
        return decide(
            name, estimate, op, threshold, estimate=estimate, basis="point", method=method
        )
    lower = op in (">=", ">")
    return bounded_rule(
        row,
        policy,
        name=name,
        key=metric,
        estimate_col=metric,
        bound_col=metric + ("_lb" if lower else "_ub"),
        fallback_col=metric + ("_lo" if lower else "_hi"),
        op=op,
        threshold=threshold,
        what="mean",
        rate=False,
    )


def evaluate(
    row: Mapping[str, Any],
    policy: GatePolicy,
    *,
    run_id: str | None = None,
    calibration: Mapping[str, Calibration] | None = None,
) -> GateDecision:
    """Apply ``policy`` to one leaderboard row (see :func:`workbench.analysis.leaderboard`).

    Every rule is decided on the row's one-sided 95 % bound that errs against the
    candidate (``bound: point`` in the policy: on the estimate). ``calibration`` (per
    LLM-judged metric: Cohen's kappa against people and how many ratings) decides
    whether a rule on such a metric is calibrated; see ``policy.judge_calibration``.
    """
    rules: list[RuleResult] = []
    if policy.max_high_severity_findings is not None:
        rules.append(_findings_rule(row, policy.max_high_severity_findings))
    for spec in _BOUNDED:
        threshold = getattr(policy, spec.field)
        if threshold is None:
            continue
        rules.append(
            bounded_rule(
                row,
                policy,
                name=spec.name,
                estimate_col=spec.estimate,
                bound_col=spec.bound,
                fallback_col=spec.fallback,
                op=spec.op,
                threshold=threshold,
                what=spec.what,
                rate=spec.rate,
            )
        )
    if policy.max_unscored_fraction is not None:
        rules.extend(_unscored_rules(row, policy.max_unscored_fraction))
    for metric, text in policy.metrics.items():
        result = _metric_rule(row, policy, metric, text)
        rules.append(judge_status(metric, result, policy, calibration or {}))
    metrics = {
        str(k): float(v)
        for k, v in row.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    return GateDecision(
        policy=policy.name,
        policy_version=policy.version,
        policy_digest=policy_digest(policy),
        variant_id=str(row["variant_id"]),
        variant=str(row.get("variant", row["variant_id"])),
        passed=all(r.passed for r in rules),
        rules=tuple(rules),
        run_id=run_id,
        metrics=metrics,
    )


def evaluate_board(
    board: Any, policy: GatePolicy, run_ids: Mapping[str, str] | None = None
) -> list[GateDecision]:
    """A decision per variant of a leaderboard, in the board's order."""
    return [
        evaluate(row, policy, run_id=(run_ids or {}).get(str(row["variant_id"])))
        for row in board.to_dict(orient="records")
    ]


def pick(decisions: list[GateDecision], variant: str | None) -> GateDecision:
    """The decision for ``variant`` (id, id prefix or label), or the board's best one."""
    if not decisions:
        raise NotFoundError("no variants to gate")
    if variant is None:
        return decisions[0]
    for d in decisions:
        if variant in (d.variant_id, d.variant) or d.variant_id.startswith(variant):
            return d
    hint = did_you_mean(variant, [d.variant for d in decisions] + [d.variant_id for d in decisions])
    raise NotFoundError(f"unknown variant '{variant}'", hint=hint)
