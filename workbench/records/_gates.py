"""A release-gate decision: every rule's value, bound and verdict (pure data)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RuleResult:
    """One rule's verdict. ``value`` is the number decided on (the one-sided bound, or the
    estimate when the policy asks for ``point``); ``bound`` is the policy's threshold."""

    rule: str
    value: float
    op: str
    bound: float
    passed: bool
    note: str = ""
    estimate: float = math.nan
    """The point estimate (the pass rate, the p95, the mean), NaN when unknown."""
    n: int | None = None
    """How many values the estimate and its bound rest on."""
    basis: str = "bound"
    """``bound`` (a one-sided 95 % bound), ``point`` (the estimate), ``count`` or ``share``."""
    method: str = ""
    """How ``value`` was obtained (``Wilson score``, ``order statistic X(58) of 60``, ...)."""
    samples_needed: float | None = None
    """For a failed bound: samples needed for it to clear the threshold at this estimate
    (``inf``: no number would)."""
    status: str = ""
    """``uncalibrated``: an LLM-judged metric whose agreement with people is unproven."""

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
        return _json_safe(json.loads(json.dumps(data, default=str)))

    def summary(self) -> str:
        if self.passed:
            return f"{self.variant}: PASS ({len(self.rules)} rules, policy {self.policy} v{self.policy_version})"
        failed = ", ".join(
            f"{r.rule} {format_number(r.value)} not {r.shown_bound}" for r in self.failed_rules
        )
        return f"{self.variant}: FAIL ({failed})"


def _json_safe(value: Any) -> Any:
    """NaN and infinities as ``null`` (``json.dumps`` would write them as bare ``NaN``,
    which is not JSON), everywhere in a nested structure."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def format_number(value: float) -> str:
    """A number as the gate tables show it (n/a for NaN)."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf"
    return f"{value:.4g}"
