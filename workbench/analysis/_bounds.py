"""One-sided bounds for gates: the value a candidate is sure (at ``confidence``) to reach.

A gate that errs against the candidate asks for a *lower* bound on what should be high
(a pass rate, a quality mean) and an *upper* bound on what should be low (an error rate,
a p95 latency, a cost). A one-sided bound at level ``c`` is one side of the equal-tailed
two-sided interval at level ``2c - 1``, from the same methods as
:mod:`workbench.analysis._intervals`, so its coverage is checked by the same test.
Quantiles use the distribution-free order-statistic bound; when ``n`` is too small for
any order statistic to bound the quantile, the bound is NaN and the method says why.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats

from workbench.analysis._errors import AnalysisError
from workbench.analysis._frame import check_confidence
from workbench.analysis._intervals import (
    DEFAULT_RESAMPLES,
    MIN_N,
    IntervalMethod,
    mean_ci,
    mean_method,
    wilson_interval,
)

MIN_N_SKEWED_BOUND = 100
"""Fewest values for a one-sided bound on the mean of skewed, unbounded values: the
studentized bootstrap's upper bound covers 91.3 % at n = 20, 92.1 % at 30, 92.8-93.1 %
at 50 and 93.4-93.8 % at 100 on log-normal latencies (sigma 0.8)."""

__all__ = [
    "MIN_N_SKEWED_BOUND",
    "Bound",
    "mean_bound",
    "quantile_bound",
    "quantile_samples_needed",
    "rate_bound",
]

Side = Literal["lower", "upper"]


class Bound(NamedTuple):
    """A point estimate with a one-sided confidence bound and how it was obtained."""

    estimate: float
    bound: float
    """NaN when no bound can be given (``method`` then says why)."""
    side: Side
    method: str
    n: int


def _two_sided(confidence: float) -> float:
    check_confidence(confidence)
    if confidence <= 0.5:
        raise AnalysisError(f"a one-sided bound needs confidence > 0.5, got {confidence!r}")
    return 2 * confidence - 1


def _check_side(side: str) -> None:
    if side not in ("lower", "upper"):
        raise AnalysisError(f"side must be 'lower' or 'upper', got {side!r}")


def rate_bound(successes: int, n: int, side: Side = "lower", confidence: float = 0.95) -> Bound:
    """Return the one-sided Wilson bound on a rate (``successes`` of ``n``)."""
    _check_side(side)
    lo, hi = wilson_interval(successes, n, _two_sided(confidence))
    return Bound(successes / n, lo if side == "lower" else hi, side, "Wilson score", int(n))


def mean_bound(
    values: npt.ArrayLike,
    side: Side = "lower",
    confidence: float = 0.95,
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    method: IntervalMethod = "auto",
    min_n: int | None = None,
) -> Bound:
    """Return a one-sided bound on the mean of ``values`` (NaNs dropped).

    The method is :func:`~workbench.analysis.mean_ci`'s for the same values (Wilson,
    t or studentized bootstrap); fewer than ``min_n`` values give a NaN bound (default
    :data:`MIN_N`, or :data:`MIN_N_SKEWED_BOUND` for the studentized bootstrap).
    """
    _check_side(side)
    if min_n is None:
        auto = method == "auto" and mean_method(values) == "studentized"
        min_n = MIN_N_SKEWED_BOUND if auto or method == "studentized" else MIN_N
    ci = mean_ci(
        values,
        _two_sided(confidence),
        seed=seed,
        n_resamples=n_resamples,
        method=method,
        min_n=min_n,
    )
    return Bound(ci.estimate, ci.lo if side == "lower" else ci.hi, side, ci.method, ci.n)


def _order_index(n: int, q: float, side: Side, confidence: float) -> int | None:
    """Return the 1-based order statistic bounding the q-quantile, or None if none can."""
    ks = np.arange(1, n + 1)
    if side == "upper":  # P(X_(k) >= x_q) = P(Binom(n, q) <= k - 1): smallest k that reaches it
        ok = ks[stats.binom.cdf(ks - 1, n, q) >= confidence]
        return int(ok.min()) if ok.size else None
    # P(X_(k) <= x_q) = P(Binom(n, q) >= k): largest k that reaches it
    ok = ks[stats.binom.sf(ks - 1, n, q) >= confidence]
    return int(ok.max()) if ok.size else None


def quantile_samples_needed(q: float, side: Side = "upper", confidence: float = 0.95) -> int:
    """Return the fewest values for which :func:`quantile_bound` can bound the q-quantile.

    Upper bound: the maximum bounds ``x_q`` with confidence ``1 - q^n``, so
    ``n >= log(1 - confidence) / log(q)`` (59 for the p95 at 95 %); lower: ``q -> 1 - q``.
    """
    _check_side(side)
    check_confidence(confidence)
    if not 0 < q < 1:
        raise AnalysisError(f"q must lie strictly between 0 and 1, got {q!r}")
    p = q if side == "upper" else 1 - q
    return math.ceil(math.log(1 - confidence) / math.log(p) - 1e-12)


def quantile_bound(
    values: npt.ArrayLike, q: float = 0.95, side: Side = "upper", confidence: float = 0.95
) -> Bound:
    """Return a distribution-free one-sided bound on the ``q``-quantile (e.g. p95 latency).

    The bound is the order statistic ``X_(k)`` with the smallest (upper) or largest
    (lower) ``k`` whose binomial coverage reaches ``confidence``: exact for continuous
    data, whatever their shape. NaN with the reason when ``n`` is below
    :func:`quantile_samples_needed`. ``estimate`` is numpy's default (linear) quantile.
    """
    _check_side(side)
    check_confidence(confidence)
    x = np.sort(np.asarray(values, dtype=float).ravel())
    x = x[~np.isnan(x)]
    n = int(x.size)
    if not 0 < q < 1:
        raise AnalysisError(f"q must lie strictly between 0 and 1, got {q!r}")
    estimate = float(np.quantile(x, q)) if n else math.nan
    k = _order_index(n, q, side, confidence) if n else None
    if k is None:
        needed = quantile_samples_needed(q, side, confidence)
        reason = f"too few values: n={n} < {needed} to bound the {q:g}-quantile"
        return Bound(estimate, math.nan, side, reason, n)
    return Bound(estimate, float(x[k - 1]), side, f"order statistic X({k}) of {n}", n)
