"""Release gates: a versioned policy applied to a variant's leaderboard row -> a decision.

The pass-rate rule uses the Wilson *lower* bound, so a variant cannot pass on a lucky
small sample. Every rule reports its value, bound and verdict.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workbench import _paths
from workbench.errors import ConfigError, NotFoundError, did_you_mean
from workbench.records import GateDecision, RuleResult, format_number
from workbench.spec import RULE_OPS, GatePolicy, parse_rule


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


def _rule(name: str, value: Any, op: str, bound: float, note: str = "") -> RuleResult:
    number = float("nan") if value is None else float(value)
    ok = not math.isnan(number) and bool(RULE_OPS[op](number, bound))
    if math.isnan(number) and not note:
        note = "value unknown: counts as a failure"
    return RuleResult(name, number, op, float(bound), ok, note)


def evaluate(
    row: Mapping[str, Any], policy: GatePolicy, *, run_id: str | None = None
) -> GateDecision:
    """Apply ``policy`` to one leaderboard row (see :func:`workbench.analysis.leaderboard`)."""
    rules: list[RuleResult] = []
    if policy.min_pass_rate_lower_bound is not None:
        rules.append(
            _rule(
                "pass_rate_lower_bound",
                row.get("pass_rate_lo"),
                ">=",
                policy.min_pass_rate_lower_bound,
                f"Wilson 95% lower bound; pass rate {format_number(float(row.get('pass_rate', math.nan)))} on n={row.get('n')}",
            )
        )
    if policy.max_high_severity_findings is not None:
        rules.append(
            _rule(
                "high_severity_findings",
                row.get("high_findings", 0),
                "<=",
                policy.max_high_severity_findings,
            )
        )
    if policy.max_p95_latency_s is not None:
        rules.append(_rule("p95_latency_s", row.get("latency_p95"), "<=", policy.max_p95_latency_s))
    if policy.max_cost_per_success_usd is not None:
        rules.append(
            _rule(
                "cost_per_success_usd",
                row.get("cost_per_success"),
                "<=",
                policy.max_cost_per_success_usd,
            )
        )
    if policy.max_error_rate is not None:
        rules.append(_rule("error_rate", row.get("error_rate"), "<=", policy.max_error_rate))
    if policy.max_unscored_fraction is not None:
        for key in sorted(k for k in row if str(k).endswith("_unscored")):
            rules.append(
                _rule(
                    f"unscored:{key.removesuffix('_unscored')}",
                    row.get(key),
                    "<=",
                    policy.max_unscored_fraction,
                )
            )
    for metric, text in policy.metrics.items():
        if metric not in row:
            known = [k for k in row if not str(k).endswith(("_lo", "_hi", "_unscored"))]
            raise ConfigError(
                f"gates.metrics.{metric}: not a metric of this run",
                hint=did_you_mean(metric, known),
            )
        op, bound = parse_rule(text)
        rules.append(_rule(f"mean:{metric}", row.get(metric), op, bound))
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
