"""Confidence intervals: Wilson for proportions, seeded bootstrap (BCa) for means.

Every bootstrap here is ``scipy.stats.bootstrap`` with a ``numpy`` Generator built from
the caller's ``seed``, so the same inputs give the same interval in the app and in a
notebook. Degenerate inputs (no values, one value, all values equal, two values, a BCa
that cannot be computed) fall back to a stated method instead of failing.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats

from workbench.analysis._errors import AnalysisError
from workbench.analysis._frame import check_confidence

__all__ = [
    "DEFAULT_RESAMPLES",
    "Interval",
    "mean_ci",
    "paired_diff_ci",
    "wilson_bounds",
    "wilson_interval",
]

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
    """``BCa``, ``percentile (BCa undefined)``, ``t (n < 3)``, ``all values equal``,
    ``single value``, or ``no values``."""
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
    for method, label in (("BCa", "BCa"), ("percentile", "percentile (BCa undefined)")):
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


def _small_sample(values: npt.NDArray[np.float64], confidence: float) -> Interval | None:
    """Return the interval for the degenerate cases (n < 3 or all equal), else None."""
    n = len(values)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, "no values", 0)
    mean = float(np.mean(values))
    if n == 1:
        return Interval(mean, math.nan, math.nan, "single value", 1)
    if np.all(values == values[0]):
        value = float(values[0])
        return Interval(value, value, value, "all values equal", n)
    if n == 2:
        sem = float(stats.sem(values))
        lo, hi = stats.t.interval(confidence, df=n - 1, loc=mean, scale=sem)
        return Interval(mean, float(lo), float(hi), "t (n < 3)", n)
    return None


def _mean(x: npt.NDArray[np.float64], axis: int = -1) -> npt.NDArray[np.float64]:
    return np.asarray(np.mean(x, axis=axis), dtype=np.float64)


def _mean_diff(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], axis: int = -1
) -> npt.NDArray[np.float64]:
    return np.asarray(np.mean(y - x, axis=axis), dtype=np.float64)


def mean_ci(
    values: npt.ArrayLike,
    confidence: float = 0.95,
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> Interval:
    """Return the mean of ``values`` (NaNs dropped) with a seeded bootstrap BCa interval.

    Falls back, and says so in ``Interval.method``: no values -> NaNs; one value -> no
    interval; all values equal -> a zero-width interval; two values -> a t interval;
    BCa undefined -> percentile.
    """
    check_confidence(confidence)
    x = np.asarray(values, dtype=float).ravel()
    x = x[~np.isnan(x)]
    small = _small_sample(x, confidence)
    if small is not None:
        return small
    return _bootstrap(
        (x,),
        _mean,
        estimate=float(np.mean(x)),
        paired=False,
        confidence=confidence,
        seed=seed,
        n_resamples=n_resamples,
    )


def paired_diff_ci(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    confidence: float = 0.95,
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> Interval:
    """Return the mean paired difference ``mean(b - a)`` with a seeded paired bootstrap interval.

    Pairs with a NaN on either side are dropped first. The bootstrap resamples pairs
    (``scipy.stats.bootstrap(..., paired=True)``), BCa, with the fall-backs of :func:`mean_ci`.
    """
    check_confidence(confidence)
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise AnalysisError(f"paired_diff_ci needs equal lengths, got {x.size} and {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    small = _small_sample(y - x, confidence)
    if small is not None:
        return small
    return _bootstrap(
        (x, y),
        _mean_diff,
        estimate=float(np.mean(y - x)),
        paired=True,
        confidence=confidence,
        seed=seed,
        n_resamples=n_resamples,
    )
