"""Confidence intervals chosen per kind of data, each checked for coverage at n >= 20.

- a rate (0/1 values): Wilson score interval;
- a paired difference of 0/1 values: Tango's score interval for paired proportions;
- a paired difference of other values: Student's t on the differences;
- a mean of values in [0, 1] (scores, rank metrics): t;
- a mean of other values (latency, cost: skewed, unbounded): studentized bootstrap.

docs/statistics.md gives the simulated coverage behind these choices
(tests/analysis/test_coverage.py re-runs it). Below :data:`MIN_N` values (pairs) no
interval except Wilson's is reported: the bounds are NaN and ``Interval.method`` says
why. Bootstraps draw from a ``numpy`` Generator seeded by the caller's ``seed``, so the
same inputs give the same interval in the app and in a notebook. The BCa bootstrap of
earlier versions stays available as ``method="bca"``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats

from workbench.analysis._errors import AnalysisError
from workbench.analysis._frame import check_confidence
from workbench.analysis._methods import (
    studentized_limits,
    t_limits,
    tango_paired_limits,
)

__all__ = [
    "DEFAULT_RESAMPLES",
    "MIN_N",
    "MIN_N_SKEWED",
    "Interval",
    "mean_ci",
    "paired_diff_ci",
    "wilson_bounds",
    "wilson_interval",
]

MIN_N = 20
"""Fewest values (pairs) for which a mean or paired-difference interval is reported; the
smallest n at which the coverage test shows every kind of metric within 95 +- 2 %."""

MIN_N_SKEWED = 30
"""Fewest values for the studentized bootstrap (skewed, unbounded values): at n = 20 it
covers 92.8 % on log-normal latencies (sigma 0.8), at n = 30 93.3 %."""

WILSON = "Wilson score"
TANGO = "Tango score (paired proportions)"
T_DIFF = "t on paired differences"
T_MEAN = "t"
STUDENTIZED = "studentized bootstrap"
BCA = "BCa bootstrap"

IntervalMethod = Literal["auto", "wilson", "tango", "t", "studentized", "bca"]
"""``auto`` picks by the data (module docstring); the others force one method."""

DEFAULT_RESAMPLES = 5000
"""Bootstrap resamples unless the caller says otherwise (scipy's default is 9999)."""

_BATCH_CELLS = 2_000_000
"""At most this many resampled values in memory at once. Unbatched, scipy holds
``n_resamples x n`` resampled values and an ``n x n`` jackknife for BCa: 1.7 GB at
n = 10,000 (docs/benchmarks.md, growth). Batching draws the same random numbers in the
same order, so the intervals are identical."""


class Interval(NamedTuple):
    """A point estimate with its confidence interval and how the interval was obtained."""

    estimate: float
    lo: float
    hi: float
    method: str
    """How ``lo`` / ``hi`` were obtained (``Wilson score``, ``Tango score (paired
    proportions)``, ``t on paired differences``, ``t``, ``studentized bootstrap``,
    ``BCa bootstrap``), or why they are NaN or degenerate (``too few values: n=12 < 20``,
    ``all values equal``, ``single value``, ``no values``)."""
    n: int
    """Number of (non-NaN) values or pairs the interval is based on."""


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Return the two-sided Wilson score interval ``(lo, hi)`` for ``successes`` out of ``n``.

    Computed by ``scipy.stats.binomtest(...).proportion_ci(method="wilson")`` (no
    continuity correction). Raises AnalysisError unless ``0 <= successes <= n`` and ``n >= 1``.
    """
    check_confidence(confidence)
    k, total = int(successes), int(n)
    if k != successes or total != n:
        raise AnalysisError(f"wilson_interval needs whole counts, got {successes!r} of {n!r}")
    if total < 1 or not 0 <= k <= total:
        raise AnalysisError(
            f"wilson_interval needs 0 <= successes <= n and n >= 1, got {k} of {total}"
        )
    ci = stats.binomtest(k, total).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def wilson_bounds(p_hat: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Return the Wilson interval ``(lo, hi)`` for an observed rate ``p_hat`` over ``n`` trials.

    The closed form (Wilson 1927), for rates whose count is not a whole number (ties
    counted as half a win) or for "what if we had n samples at this rate". Equals
    :func:`wilson_interval` when ``p_hat * n`` is whole.
    """
    check_confidence(confidence)
    if n <= 0 or not 0.0 <= p_hat <= 1.0:
        raise AnalysisError(f"wilson_bounds needs n > 0 and 0 <= p_hat <= 1, got {p_hat!r}, {n!r}")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    z2n = z * z / n
    centre = (p_hat + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p_hat * (1 - p_hat) / n + z2n / (4 * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _bootstrap(
    data: tuple[npt.NDArray[np.float64], ...],
    statistic: Callable[..., Any],
    *,
    estimate: float,
    paired: bool,
    confidence: float,
    seed: int,
    n_resamples: int,
) -> Interval:
    """Return a seeded BCa interval, or a percentile one when BCa is undefined."""
    n = len(data[0])
    for method, label in (("BCa", BCA), ("percentile", "percentile bootstrap (BCa undefined)")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DegenerateDataWarning / divide: handled below
            result = stats.bootstrap(
                data,
                statistic,
                n_resamples=n_resamples,
                batch=max(1, _BATCH_CELLS // max(n, 1)),
                vectorized=True,
                paired=paired,
                confidence_level=confidence,
                method=method,
                rng=np.random.default_rng(seed),
            )
        lo, hi = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if math.isfinite(lo) and math.isfinite(hi):
            return Interval(estimate, lo, hi, label, n)
    return Interval(estimate, math.nan, math.nan, "bootstrap undefined", n)


def _mean(x: npt.NDArray[np.float64], axis: int = -1) -> npt.NDArray[np.float64]:
    return np.asarray(np.mean(x, axis=axis), dtype=np.float64)


def _is_binary(values: npt.NDArray[np.float64]) -> bool:
    return bool(np.all((values == 0.0) | (values == 1.0)))


def _degenerate(values: npt.NDArray[np.float64]) -> Interval | None:
    """Return the interval for no values, one value or all values equal, else None."""
    n = len(values)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, "no values", 0)
    if n == 1:
        return Interval(float(values[0]), math.nan, math.nan, "single value", 1)
    if np.all(values == values[0]):
        value = float(values[0])
        return Interval(value, value, value, "all values equal", n)
    return None


def _too_few(estimate: float, n: int, min_n: int) -> Interval:
    reason = f"too few values: n={n} < {min_n}, no interval holds its coverage"
    return Interval(estimate, math.nan, math.nan, reason, n)


def _continuous(
    x: npt.NDArray[np.float64],
    method: str,
    label_t: str,
    *,
    confidence: float,
    seed: int,
    n_resamples: int,
) -> Interval:
    """Return the t, studentized-bootstrap or BCa interval for the mean of ``x``."""
    estimate, n = float(np.mean(x)), len(x)
    if method == "bca":
        return _bootstrap(
            (x,),
            _mean,
            estimate=estimate,
            paired=False,
            confidence=confidence,
            seed=seed,
            n_resamples=n_resamples,
        )
    if method == "studentized":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-equal resample: dropped
            lo, hi = studentized_limits(x, confidence, np.random.default_rng(seed), n_resamples)
        return Interval(estimate, float(lo[0]), float(hi[0]), STUDENTIZED, n)
    lo, hi = t_limits(x, confidence)
    return Interval(estimate, float(lo[0]), float(hi[0]), label_t, n)


def mean_method(values: npt.ArrayLike) -> str:
    """Return the method ``mean_ci(..., method="auto")`` uses for these (non-NaN) values.

    ``wilson`` for 0/1 values; ``t`` for values in [0, 1] (scores, rank metrics: bounded,
    so the mean's sampling distribution is close to normal from n = 20, while the
    bootstrap over-covers on their ties); ``studentized`` for anything else (latencies,
    costs, token counts: skewed and unbounded, where t under-covers).
    """
    x = np.asarray(values, dtype=float).ravel()
    x = x[~np.isnan(x)]
    if x.size and _is_binary(x):
        return "wilson"
    if x.size == 0 or (x.min() >= 0.0 and x.max() <= 1.0):
        return "t"
    return "studentized"


def mean_ci(
    values: npt.ArrayLike,
    confidence: float = 0.95,
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    method: IntervalMethod = "auto",
    min_n: int | None = None,
) -> Interval:
    """Return the mean of ``values`` (NaNs dropped) with a confidence interval.

    ``method="auto"`` (see :func:`mean_method`): Wilson for 0/1 values (any n >= 1); t
    for values in [0, 1]; a seeded studentized bootstrap (``n_resamples``) for others
    (skewed, unbounded: latencies, costs). Fewer than ``min_n`` values (by default
    :data:`MIN_N`, or :data:`MIN_N_SKEWED` for the studentized bootstrap; Wilson has no
    minimum) give NaN bounds and the reason in ``Interval.method``. No values, one value
    or (for non-binary data) all values equal are reported as such.
    """
    check_confidence(confidence)
    x = np.asarray(values, dtype=float).ravel()
    x = x[~np.isnan(x)]
    n = len(x)
    chosen = mean_method(x) if method == "auto" else method
    if chosen == "wilson" and n:
        if not _is_binary(x):
            raise AnalysisError("mean_ci(method='wilson') needs 0/1 values")
        lo, hi = wilson_bounds(float(x.mean()), n, confidence)
        return Interval(float(x.mean()), lo, hi, WILSON, n)
    degenerate = _degenerate(x)
    if degenerate is not None:
        return degenerate
    floor = min_n if min_n is not None else MIN_N_SKEWED if chosen == "studentized" else MIN_N
    if n < floor:
        return _too_few(float(x.mean()), n, floor)
    if chosen not in ("t", "studentized", "bca"):
        raise AnalysisError(f"mean_ci has no method '{method}' (auto, wilson, t, studentized, bca)")
    return _continuous(x, chosen, T_MEAN, confidence=confidence, seed=seed, n_resamples=n_resamples)


def paired_diff_ci(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    confidence: float = 0.95,
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    method: IntervalMethod = "auto",
    min_n: int | None = None,
) -> Interval:
    """Return the mean paired difference ``mean(b - a)`` with a confidence interval.

    Pairs with a NaN on either side are dropped first. ``method="auto"``: Tango's score
    interval when both sides hold only 0 and 1 (pass/fail), else Student's t on the
    differences. ``"studentized"`` and ``"bca"`` (the paired bootstrap of earlier
    versions) can be asked for. Fewer than ``min_n`` pairs (default :data:`MIN_N`) give
    NaN bounds and the reason in ``Interval.method`` (pass a smaller ``min_n`` to get a
    number anyway).
    """
    check_confidence(confidence)
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise AnalysisError(f"paired_diff_ci needs equal lengths, got {x.size} and {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    d = y - x
    n = len(d)
    binary = n > 0 and _is_binary(x) and _is_binary(y)
    chosen = ("tango" if binary else "t") if method == "auto" else method
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, "no values", 0)
    floor = MIN_N if min_n is None else min_n
    if n < floor:
        return _too_few(float(d.mean()), n, floor)
    if chosen == "tango":
        if not binary:
            raise AnalysisError("paired_diff_ci(method='tango') needs 0/1 values on both sides")
        b_only, a_only = int((d > 0).sum()), int((d < 0).sum())
        lo, hi = tango_paired_limits(b_only, a_only, n, confidence)
        return Interval(float(d.mean()), float(lo), float(hi), TANGO, n)
    degenerate = _degenerate(d)
    if degenerate is not None:
        return degenerate
    if chosen not in ("t", "studentized", "bca"):
        raise AnalysisError(
            f"paired_diff_ci has no method '{method}' (auto, tango, t, studentized, bca)"
        )
    return _continuous(d, chosen, T_DIFF, confidence=confidence, seed=seed, n_resamples=n_resamples)
