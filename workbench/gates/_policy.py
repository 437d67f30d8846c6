"""Release gates: a versioned policy applied to a variant's leaderboard row -> a decision.

The pass-rate rule uses the Wilson *lower* bound, so a variant cannot pass on a lucky
small sample. Every rule reports its value, bound and verdict.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workbench import _paths
from workbench.errors import ConfigError, NotFoundError, did_you_mean
from workbench.scoring._run import parse_rule
from workbench.spec import GatePolicy

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}


@dataclass(frozen=True)
class RuleResult:
    rule: str
    value: float
    op: str
    bound: float
    passed: bool
    note: str = ""

    @property
    def shown_bound(self) -> str:
        return f"{self.op} {self.bound:g}"


@dataclass(frozen=True)
class GateDecision:
    """The verdict on one variant, with every rule's evidence."""

    policy: str
    policy_version: str
    policy_digest: str
    variant_id: str
    variant: str
    passed: bool
    rules: tuple[RuleResult, ...]
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def failed_rules(self) -> list[RuleResult]:
        return [r for r in self.rules if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = "pass" if self.passed else "fail"
        return json.loads(json.dumps(data, default=_json_safe))

    def summary(self) -> str:
        if self.passed:
            return f"{self.variant}: PASS ({len(self.rules)} rules, policy {self.policy} v{self.policy_version})"
        failed = ", ".join(
            f"{r.rule} {_num(r.value)} not {r.shown_bound}" for r in self.failed_rules
        )
        return f"{self.variant}: FAIL ({failed})"


def _json_safe(value: Any) -> Any:
    return (
        None
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value))
        else str(value)
    )


def _num(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf"
    return f"{value:.4g}"


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
    ok = not math.isnan(number) and bool(_OPS[op](number, bound))
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
                f"Wilson 95% lower bound; pass rate {_num(float(row.get('pass_rate', math.nan)))} on n={row.get('n')}",
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
