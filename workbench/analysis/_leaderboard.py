"""One row per variant: pass rate, metric means with CIs, errors, cost, latency, tokens."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from workbench.analysis._bounds import Bound, Side, mean_bound, quantile_bound, rate_bound
from workbench.analysis._errors import AnalysisError
from workbench.analysis._frame import (
    DEFAULT_FACTORS,
    PASS_RATE,
    check_confidence,
    metric_values,
    require_columns,
    resolve_metrics,
    variant_order,
)
from workbench.analysis._intervals import (
    DEFAULT_RESAMPLES,
    WILSON,
    mean_ci,
    wilson_interval,
)
from workbench.errors import NotFoundError, did_you_mean
from workbench.records import MetricInfo

__all__ = ["BOUND_CONFIDENCE", "LOWER_IS_BETTER", "leaderboard", "pareto_front"]

BOUND_CONFIDENCE = 0.95
"""Level of the one-sided bounds the gates are decided on (``_lb`` / ``_ub`` columns)."""

LOWER_IS_BETTER: tuple[str, ...] = (
    "n_errors",
    "error_rate",
    "cost_total",
    "cost_per_success",
    "latency_p50",
    "latency_p95",
    "tokens_in",
    "tokens_out",
    "high_findings",
    "high_findings_rate",
)
"""Leaderboard columns that are not metrics but still have a direction (lower wins)."""

_SIDES: tuple[tuple[Side, str], ...] = (("lower", "_lb"), ("upper", "_ub"))

_RUN_COLUMNS = (
    "variant_id",
    "variant",
    "sample_id",
    "error",
    "latency_s",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
)


def _is_error(errors: pd.Series) -> npt.NDArray[np.bool_]:
    """Return a bool mask: the call failed (a non-empty ``error``)."""
    text = errors.astype("string").fillna("").str.strip()
    return np.asarray((text != "").to_numpy(dtype=bool), dtype=np.bool_)


def _levels(group: pd.DataFrame, vid: str, factors: Sequence[str]) -> dict[str, object]:
    levels: dict[str, object] = {}
    for factor in factors:
        values = pd.unique(group[factor])
        if len(values) > 1:
            raise AnalysisError(
                f"variant '{vid}' has several levels of factor '{factor}': "
                + ", ".join(map(repr, values[:3]))
            )
        levels[factor] = values[0]
    return levels


def _variant_row(
    group: pd.DataFrame,
    vid: str,
    infos: Sequence[MetricInfo],
    factors: Sequence[str],
    *,
    confidence: float,
    seed: int,
    n_resamples: int,
    min_n: int | None,
) -> dict[str, object]:
    n = len(group)
    errors = int(_is_error(group["error"]).sum())
    row: dict[str, object] = {
        "variant_id": vid,
        "variant": str(group["variant"].iloc[0]),
        **_levels(group, vid, factors),
        "n": n,
        "n_errors": errors,
        "error_rate": errors / n,
    }
    passed = metric_values(group, infos[0])
    n_passed = int(passed.sum())
    lo, hi = wilson_interval(n_passed, n, confidence)
    row.update(n_passed=n_passed, pass_rate=n_passed / n, pass_rate_lo=lo, pass_rate_hi=hi)
    methods = [f"{PASS_RATE}: {WILSON}"]
    bounds: dict[str, object] = {"pass_rate_lb": rate_bound(n_passed, n, "lower").bound}
    bound_methods = [f"pass_rate_lb: {WILSON} (n={n})"]
    for info in infos[1:]:
        values = metric_values(group, info)
        scored = values[~np.isnan(values)]
        if info.kind == "binary" and scored.size:
            m_lo, m_hi = wilson_interval(int(scored.sum()), int(scored.size), confidence)
            estimate, method = float(scored.mean()), WILSON
        else:
            ci = mean_ci(scored, confidence, seed=seed, n_resamples=n_resamples, min_n=min_n)
            estimate, m_lo, m_hi, method = ci.estimate, ci.lo, ci.hi, ci.method
        methods.append(f"{info.name}: {method}")
        for side, suffix in _SIDES:
            b = _metric_bound(scored, info, side, min_n=min_n)
            bounds[info.name + suffix] = b.bound
            bound_methods.append(f"{info.name}{suffix}: {b.method} (n={b.n})")
        row.update(
            {
                info.name: estimate,
                f"{info.name}_lo": m_lo,
                f"{info.name}_hi": m_hi,
                f"{info.name}_unscored": _unscored_fraction(group, info.name, scored.size, n),
            }
        )
    row["ci_methods"] = "; ".join(methods)
    if "high_findings" in group.columns:
        findings = pd.to_numeric(group["high_findings"], errors="coerce").fillna(0)
        row["high_findings"] = int(findings.sum())
        with_finding = int((findings > 0).sum())
        row["high_findings_rate"] = with_finding / n
        bounds["high_findings_rate_ub"] = rate_bound(with_finding, n, "upper").bound
        bound_methods.append(f"high_findings_rate_ub: {WILSON} (n={n})")
    bounds["error_rate_ub"] = rate_bound(errors, n, "upper").bound
    bound_methods.append(f"error_rate_ub: {WILSON} (n={n})")
    cost = pd.to_numeric(group["cost_usd"], errors="coerce")
    cost_total = float(cost.sum(min_count=1))
    if math.isnan(cost_total):
        per_success = math.nan
    else:
        per_success = cost_total / n_passed if n_passed else math.inf
    latency = pd.to_numeric(group["latency_s"], errors="coerce")
    p95 = quantile_bound(latency.to_numpy(dtype=float), 0.95, "upper")
    bounds["latency_p95_ub"] = p95.bound
    bound_methods.append(f"latency_p95_ub: {p95.method} (n={p95.n})")
    cost_ub, cost_method = _cost_per_success_bound(cost.to_numpy(dtype=float), n_passed, n)
    bounds["cost_per_success_ub"] = cost_ub
    bound_methods.append(f"cost_per_success_ub: {cost_method}")
    row.update(
        cost_total=cost_total,
        cost_per_success=per_success,
        latency_p50=float(latency.quantile(0.5)),
        latency_p95=float(latency.quantile(0.95)),
        tokens_in=int(pd.to_numeric(group["prompt_tokens"], errors="coerce").sum()),
        tokens_out=int(pd.to_numeric(group["completion_tokens"], errors="coerce").sum()),
    )
    row.update(bounds)
    row["bound_methods"] = "; ".join(bound_methods)
    return row


def _metric_bound(
    scored: npt.NDArray[np.float64], info: MetricInfo, side: Side, *, min_n: int | None
) -> Bound:
    """One-sided bound on a metric's mean: Wilson for binary metrics, else ``mean_bound``."""
    if info.kind == "binary" and scored.size:
        return rate_bound(int(scored.sum()), int(scored.size), side)
    if not scored.size:
        return Bound(math.nan, math.nan, side, "no scored values", 0)
    return mean_bound(scored, side, min_n=min_n)


def _cost_per_success_bound(
    cost: npt.NDArray[np.float64], n_passed: int, n: int
) -> tuple[float, str]:
    """Upper bound on cost per successful task = mean cost / pass rate.

    Bonferroni: the studentized-bootstrap upper bound of the mean cost at 97.5 % over
    the Wilson lower bound of the pass rate at 97.5 %, so both hold together with at
    least 95 %. NaN (with the reason) when the mean cost cannot be bounded.
    """
    known = cost[~np.isnan(cost)]
    if not known.size:
        return math.nan, "no known cost"
    mean_cost = mean_bound(known, "upper", 0.975, method="studentized")
    if math.isnan(mean_cost.bound):
        return math.nan, f"mean cost: {mean_cost.method} (n={mean_cost.n})"
    rate = rate_bound(n_passed, n, "lower", 0.975).bound
    value = mean_cost.bound / rate if rate > 0 else math.inf
    return value, (
        f"mean cost {mean_cost.method} 97.5 % / pass rate {WILSON} 97.5 %, Bonferroni (n={n})"
    )


def _unscored_fraction(group: pd.DataFrame, name: str, n_scored: int, n: int) -> float:
    """Share of the samples a metric applies to that it could not score.

    With an ``unscored`` column (per row: metric -> reason, failures only), a NaN for a
    metric that does not apply to the sample (a rank metric without retrieval) is not a
    failure; without it, every NaN counts.
    """
    if "unscored" not in group.columns:
        return 1.0 - n_scored / n
    failures = sum(
        1 for reasons in group["unscored"] if isinstance(reasons, dict) and name in reasons
    )
    applicable = n_scored + failures
    return failures / applicable if applicable else 0.0


def leaderboard(
    samples: pd.DataFrame,
    metrics: Sequence[MetricInfo] = (),
    *,
    factors: Sequence[str] = DEFAULT_FACTORS,
    sort_by: str = PASS_RATE,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    min_n: int | None = None,
) -> pd.DataFrame:
    """Return one row per variant, best first by ``sort_by`` in that column's direction.

    Columns, in order: ``variant_id``, ``variant``, one per factor, ``n``, ``n_errors``,
    ``error_rate``, ``n_passed``, ``pass_rate``, ``pass_rate_lo``, ``pass_rate_hi`` (Wilson),
    then per metric ``<m>``, ``<m>_lo``, ``<m>_hi`` (mean of scored samples; Wilson for
    binary metrics, :func:`~workbench.analysis.mean_ci` otherwise: t, or a seeded
    studentized bootstrap for skewed values, NaN below ``min_n`` scored values) and
    ``<m>_unscored`` (share of the variant's samples that are NaN), ``ci_methods``
    (``"metric: method; ..."``: the interval method behind each ``_lo`` / ``_hi``, or why
    it is NaN), then ``cost_total`` (sum of known costs; NaN when none is known), ``cost_per_success`` (``cost_total / n_passed``, inf
    when nothing passed), ``latency_p50``, ``latency_p95`` (seconds), ``tokens_in`` and
    ``tokens_out`` (totals). An error is a row whose ``error`` is a non-empty string.

    Then the one-sided 95 % bounds the release gates are decided on
    (:data:`BOUND_CONFIDENCE`, :mod:`workbench.analysis._bounds`): ``pass_rate_lb``
    (Wilson), ``<m>_lb`` / ``<m>_ub`` per metric (:func:`mean_bound`; Wilson for binary
    metrics), ``error_rate_ub`` and, with a ``high_findings`` column,
    ``high_findings_rate`` / ``high_findings_rate_ub`` (Wilson on the share of samples
    with a finding), ``latency_p95_ub`` (order statistic; NaN below 59 latencies),
    ``cost_per_success_ub`` (mean cost over pass rate, Bonferroni; NaN below 100 costs),
    and ``bound_methods`` (``"column: method (n=..); ..."``: how each was obtained, or
    why it is NaN).

    ``attrs``: ``directions`` (column -> higher_is_better, for every metric and every
    column of :data:`LOWER_IS_BETTER`), ``metrics`` (names, ``pass_rate`` first),
    ``factors``, ``confidence``, ``sort_by``. Ties on ``sort_by`` keep label order;
    NaN sorts last. ``sort_by`` may also be ``<m>_lo`` / ``<m>_hi``.
    """
    check_confidence(confidence)
    factors = list(factors)
    require_columns(samples, [*_RUN_COLUMNS, *factors])
    infos = resolve_metrics(samples, metrics)
    order = variant_order(samples)
    groups = dict(list(samples.groupby("variant_id", sort=False)))
    rows = [
        _variant_row(
            groups[vid],
            vid,
            infos,
            factors,
            confidence=confidence,
            seed=seed,
            n_resamples=n_resamples,
            min_n=min_n,
        )
        for vid in order
    ]
    board = pd.DataFrame(rows)
    directions = {i.name: i.higher_is_better for i in infos}
    directions.update(dict.fromkeys(LOWER_IS_BETTER, False))
    base = sort_by.removesuffix("_lo").removesuffix("_hi")
    if sort_by not in board.columns or base not in directions:
        sortable = [
            c for c in board.columns if c.removesuffix("_lo").removesuffix("_hi") in directions
        ]
        raise NotFoundError(
            f"cannot sort the leaderboard by '{sort_by}' (sortable: {', '.join(sortable)})",
            hint=did_you_mean(sort_by, sortable),
        )
    board = board.sort_values(
        [sort_by, "variant"],
        ascending=[not directions[base], True],
        na_position="last",
        kind="stable",
    ).reset_index(drop=True)
    board.attrs.update(
        directions=directions,
        metrics=[i.name for i in infos],
        factors=factors,
        confidence=confidence,
        sort_by=sort_by,
    )
    return board


def pareto_front(
    board: pd.DataFrame,
    *,
    quality: str = PASS_RATE,
    cost: str | None = "cost_per_success",
    latency: str | None = "latency_p95",
) -> pd.DataFrame:
    """Return a copy of ``board`` with a bool ``pareto`` column: not dominated by any row.

    Objectives: maximise ``quality``, minimise ``cost`` and ``latency`` (pass None to
    leave one out). Row i is dominated when some row is at least as good on every
    objective and strictly better on one. Rows with a NaN objective are never on the
    front and dominate nothing; an infinite cost is simply the worst cost.
    """
    columns = [c for c in (quality, cost, latency) if c is not None]
    require_columns(board, columns, what="leaderboard")
    points = np.column_stack(
        [-pd.to_numeric(board[quality], errors="coerce").to_numpy(dtype=float)]
        + [pd.to_numeric(board[c], errors="coerce").to_numpy(dtype=float) for c in columns[1:]]
    )  # every objective now "lower is better"
    valid = ~np.isnan(points).any(axis=1)
    pts = points[valid]
    no_worse = (pts[:, None, :] <= pts[None, :, :]).all(axis=2)  # [j, i]: j no worse than i
    better = (pts[:, None, :] < pts[None, :, :]).any(axis=2)
    dominated = (no_worse & better).any(axis=0)
    front = np.zeros(len(board), dtype=bool)
    front[np.flatnonzero(valid)] = ~dominated
    out = board.copy()
    out["pareto"] = front
    out.attrs = dict(board.attrs)
    return out
