"""The gate's rules, each decided on a one-sided 95 % bound that errs against the candidate.

A rule reads a leaderboard row (:func:`workbench.analysis.leaderboard`): the estimate
(``pass_rate``, ``latency_p95``, ``<metric>``) and the bound computed where the evidence
is built (``pass_rate_lb``, ``latency_p95_ub``, ``<metric>_lb`` / ``_ub``, with the method
in ``bound_methods``). The gates stay pure and independent of ``workbench.analysis``
(sibling layers): the bounds are columns of the evidence, and the only statistics done
here is the closed-form inverse of the Wilson bound for "how many samples would certify
this" (checked against :func:`workbench.analysis.samples_to_certify` in the tests).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any

from workbench.records import RuleResult, format_number
from workbench.spec import JUDGE_METRICS, RULE_OPS, GatePolicy

CONFIDENCE = 0.95
"""One-sided level of the leaderboard's ``_lb`` / ``_ub`` columns."""
_Z = NormalDist().inv_cdf(CONFIDENCE)
_N_IN_METHOD = re.compile(r"\(n=(\d+)\)\s*$")
_OLD_BOARD = "not in this leaderboard (logged before gate bounds): rerun the experiment"


@dataclass(frozen=True)
class Calibration:
    """How well an LLM judge's verdicts agree with people's on one metric."""

    kappa: float
    """Cohen's kappa at the metric's pass threshold."""
    n: int
    """Rated answers it rests on."""


def number(row: Mapping[str, Any], key: str) -> float:
    value = row.get(key)
    try:
        return math.nan if value is None else float(value)
    except (TypeError, ValueError):
        return math.nan


def bound_methods(row: Mapping[str, Any]) -> dict[str, str]:
    """``bound_methods`` (``"col: method (n=..); ..."``) as a mapping."""
    text = row.get("bound_methods")
    if not isinstance(text, str):
        return {}
    pairs = (part.partition(": ") for part in text.split("; "))
    return {col: method for col, _, method in pairs if col}


def _split_n(method: str) -> tuple[str, int | None]:
    m = _N_IN_METHOD.search(method)
    return (method[: m.start()].rstrip(), int(m.group(1))) if m else (method, None)


def wilson_samples_needed(estimate: float, threshold: float, side: str) -> float:
    """Samples at which the one-sided 95 % Wilson bound at ``estimate`` clears ``threshold``.

    The Wilson interval is the set of rates ``p`` with ``(estimate - p)^2 <= z^2 p (1-p)
    / n``, so its lower bound reaches ``b < estimate`` exactly when ``n >= z^2 b (1-b) /
    (estimate - b)^2`` (upper bound: ``b > estimate``). ``inf`` when the estimate itself
    is on the wrong side of the threshold.
    """
    gap = estimate - threshold if side == "lower" else threshold - estimate
    if not gap > 0:
        return math.inf
    return float(max(1, math.ceil(_Z**2 * threshold * (1 - threshold) / gap**2 - 1e-9)))


def mean_samples_needed(estimate: float, bound: float, threshold: float, n: int) -> float:
    """About how many values a mean's bound needs to clear ``threshold``: the bound's
    distance from the estimate shrinks as ``1 / sqrt(n)``; ``inf`` when the estimate is
    itself on the wrong side."""
    half, gap = abs(estimate - bound), abs(estimate - threshold)
    if (bound < estimate) != (threshold < estimate) or gap == 0:
        return math.inf
    return float(math.ceil(n * (half / gap) ** 2))


def decide(
    name: str,
    value: float,
    op: str,
    threshold: float,
    *,
    estimate: float = math.nan,
    n: int | None = None,
    basis: str = "bound",
    method: str = "",
    note: str = "",
    samples_needed: float | None = None,
) -> RuleResult:
    ok = not math.isnan(value) and bool(RULE_OPS[op](value, threshold))
    if math.isnan(value) and not note:
        note = "value unknown: counts as a failure"
    return RuleResult(
        name,
        value,
        op,
        float(threshold),
        ok,
        note,
        estimate=estimate,
        n=n,
        basis=basis,
        method=method,
        samples_needed=None if ok else samples_needed,
    )


def bounded_rule(
    row: Mapping[str, Any],
    policy: GatePolicy,
    *,
    name: str,
    estimate_col: str,
    bound_col: str,
    op: str,
    threshold: float,
    what: str,
    rate: bool = False,
    fallback_col: str | None = None,
    key: str | None = None,
) -> RuleResult:
    """A rule on ``estimate_col``, decided on ``bound_col`` unless the policy's ``bound``
    says ``point`` for ``key`` (default: the rule's name)."""
    estimate = number(row, estimate_col)
    count = row.get("n")
    n_rows = int(count) if isinstance(count, int | float) and not math.isnan(count) else None
    if policy.bound.get(key or name, "bound") == "point":
        return decide(
            name,
            estimate,
            op,
            threshold,
            estimate=estimate,
            n=n_rows,
            basis="point",
            method="estimate",
        )
    method, n = _split_n(bound_methods(row).get(bound_col, ""))
    if n is None and rate:
        n = n_rows
    if bound_col in row:
        value = number(row, bound_col)
    elif fallback_col is not None and fallback_col in row:  # an older board: stricter bound
        value, method = number(row, fallback_col), "two-sided 95 % bound (older leaderboard)"
    else:
        return decide(
            name, math.nan, op, threshold, estimate=estimate, note=f"{bound_col} {_OLD_BOARD}"
        )
    side = "lower" if op in (">=", ">") else "upper"
    note, needed = "", None
    if math.isnan(value) and method:  # the method says why; the note says what to do
        note = "no bound: counts as a failure"
        if "too few" in method:
            note += f"; collect more samples or set bound: {{{key or name}: point}}"
    elif not math.isnan(value) and not RULE_OPS[op](value, threshold) and n:
        if rate:
            needed = wilson_samples_needed(estimate, threshold, side)
        elif not math.isnan(estimate):
            needed = mean_samples_needed(estimate, value, threshold, n)
        note = _cannot_certify(n, value, side, what, estimate, threshold, needed, rate)
    return decide(
        name,
        value,
        op,
        threshold,
        estimate=estimate,
        n=n,
        method=method,
        note=note,
        samples_needed=needed,
    )


def _cannot_certify(
    n: int,
    value: float,
    side: str,
    what: str,
    estimate: float,
    threshold: float,
    needed: float | None,
    rate: bool,
) -> str:
    reach = "at most" if side == "lower" else "no better than"
    head = f"n={n} can certify {reach} {format_number(value)} at this {what} ({format_number(estimate)})"
    if needed is None or math.isinf(needed):
        return f"{head}; no n can: the {what} itself is not within {threshold:g}"
    about = "" if rate else "about "
    return f"{head}; {about}{int(needed)} samples needed for {threshold:g}"


def judge_status(
    metric: str, result: RuleResult, policy: GatePolicy, calibration: Mapping[str, Calibration]
) -> RuleResult:
    """Mark a rule on an LLM-judged metric whose agreement with people is not shown."""
    if metric not in JUDGE_METRICS:
        return result
    wanted = policy.judge_calibration
    found = calibration.get(metric)
    if found is not None and found.n >= wanted.min_ratings and found.kappa >= wanted.min_kappa:
        return result
    shown = (
        "no human ratings"
        if found is None
        else f"kappa {format_number(found.kappa)} on {found.n} ratings"
    )
    note = (
        f"uncalibrated judge: {shown} (needs kappa >= {wanted.min_kappa:g} on >= "
        f"{wanted.min_ratings} ratings)"
    )
    fails = wanted.uncalibrated == "fail"
    return replace(
        result,
        passed=result.passed and not fails,
        note="; ".join(x for x in (result.note, note) if x),
        status="uncalibrated",
    )
