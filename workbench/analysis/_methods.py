"""The interval methods themselves, vectorised over a batch of samples.

Each function takes a batch (one sample per row, or one count per element) and returns
``(lo, hi)`` arrays of equal-tailed two-sided limits at ``confidence``; a one-sided
bound at level ``c`` is one side of the two-sided interval at ``2c - 1``. The public
functions in :mod:`workbench.analysis._intervals` and :mod:`workbench.analysis._bounds`
call these on a batch of one; the coverage test (tests/analysis/test_coverage.py) calls
them on thousands of simulated samples at once, so what is checked is what is reported.

- :func:`wilson_limits`: Wilson (1927) score interval for a proportion.
- :func:`tango_paired_limits`: Tango (1998) score interval for the difference of two
  paired proportions, from the discordant counts.
- :func:`t_limits`: Student's t interval on the mean (of values, or of paired differences).
- :func:`studentized_limits`: studentized (bootstrap-t) interval on the mean (Efron &
  Tibshirani 1993, ch. 12.5): the t statistic's own quantiles from resamples.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = [
    "studentized_limits",
    "t_limits",
    "tango_paired_limits",
    "wilson_limits",
]

Array = npt.NDArray[np.float64]

_CELLS_PER_BATCH = 1_000_000
"""At most this many resampled values (8 MB) in memory at once in
:func:`studentized_limits`; larger batches are drawn in turn, so memory stays bounded at
any n (docs/benchmarks.md, growth)."""


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_limits(p_hat: npt.ArrayLike, n: npt.ArrayLike, confidence: float) -> tuple[Array, Array]:
    """Return the Wilson score limits for observed rates ``p_hat`` over ``n`` trials."""
    p = np.asarray(p_hat, dtype=float)
    m = np.asarray(n, dtype=float)
    z = _z(confidence)
    z2n = z * z / m
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * np.sqrt(p * (1 - p) / m + z2n / (4 * m))
    return np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)


def _tango_statistic(delta: Array, b_only: Array, a_only: Array, n: Array) -> Array:
    """Tango's score statistic for H0: ``p_b - p_a = delta`` (decreasing in ``delta``)."""
    big_a = 2 * n
    big_b = -b_only - a_only + (2 * n - b_only + a_only) * delta
    big_c = -a_only * delta * (1 - delta)
    p_a_only = (np.sqrt(np.maximum(big_b * big_b - 4 * big_a * big_c, 0.0)) - big_b) / (2 * big_a)
    spread = np.sqrt(np.maximum(n * (2 * p_a_only + delta * (1 - delta)), 0.0))
    excess = b_only - a_only - n * delta
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = excess / spread
    # no spread: the statistic is +-inf by the sign of the excess, 0 when there is none
    return np.where(spread > 0, ratio, np.sign(excess) * np.where(excess != 0, np.inf, 0.0))


def tango_paired_limits(
    b_only: npt.ArrayLike, a_only: npt.ArrayLike, n: npt.ArrayLike, confidence: float
) -> tuple[Array, Array]:
    """Return Tango's (1998) score limits for ``p_b - p_a`` of paired proportions.

    ``b_only`` / ``a_only`` count the discordant pairs (only b is 1 / only a is 1) out
    of ``n`` pairs. Each limit is the root of Tango's statistic, whose nuisance
    parameter (the share of a-only pairs) is its constrained maximum-likelihood
    estimate in closed form (Tango 1998, Stat. Med. 17:891; Fagerland, Lydersen &
    Laake 2014, Stat. Med. 33:2850), found by 60 bisection steps on (-1, 1).
    """
    b1 = np.asarray(b_only, dtype=float)
    a1 = np.asarray(a_only, dtype=float)
    m = np.broadcast_to(np.asarray(n, dtype=float), np.broadcast(b1, a1).shape)
    z = _z(confidence)
    limits = []
    for target in (z, -z):
        lo, hi = np.full(m.shape, -1.0), np.full(m.shape, 1.0)
        for _ in range(60):
            mid = (lo + hi) / 2
            right = _tango_statistic(mid, b1, a1, m) > target
            lo, hi = np.where(right, mid, lo), np.where(right, hi, mid)
        limits.append((lo + hi) / 2)
    return limits[0], limits[1]


def t_limits(values: npt.ArrayLike, confidence: float) -> tuple[Array, Array]:
    """Return Student's t limits for the mean of each row of ``values`` (n - 1 df)."""
    x = np.atleast_2d(np.asarray(values, dtype=float))
    n = x.shape[1]
    mean = x.mean(axis=1)
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(axis=1, ddof=1) / np.sqrt(n)
    return mean - half, mean + half


def studentized_limits(
    values: npt.ArrayLike,
    confidence: float,
    rng: np.random.Generator,
    n_resamples: int,
) -> tuple[Array, Array]:
    """Return studentized-bootstrap limits for the mean of each row of ``values``.

    Per row: ``t* = (mean* - mean) / se*`` over ``n_resamples`` resamples of the row,
    then ``(mean - q_hi * se, mean - q_lo * se)`` with ``q`` the t* quantiles
    (resamples whose se* is 0 are left out). Rows are drawn in order from ``rng``.
    """
    x = np.atleast_2d(np.asarray(values, dtype=float))
    rows, n = x.shape
    mean = x.mean(axis=1)
    se = x.std(axis=1, ddof=1) / np.sqrt(n)
    tail = (1 - confidence) / 2
    lo, hi = np.empty(rows), np.empty(rows)
    per_draw = max(1, min(n_resamples, _CELLS_PER_BATCH // n))  # resamples per draw
    chunk = max(1, _CELLS_PER_BATCH // (per_draw * n))  # rows per draw
    for start in range(0, rows, chunk):
        block = x[start : start + chunk]
        centre = mean[start : start + chunk, None]
        parts = []
        for done in range(0, n_resamples, per_draw):
            size = min(per_draw, n_resamples - done)
            idx = rng.integers(0, n, size=(len(block), size, n))
            resampled = np.take_along_axis(block[:, None, :], idx, axis=2)
            se_star = resampled.std(axis=2, ddof=1) / np.sqrt(n)
            with np.errstate(invalid="ignore", divide="ignore"):
                parts.append(
                    np.where(se_star > 0, (resampled.mean(axis=2) - centre) / se_star, np.nan)
                )
        q_lo, q_hi = np.nanquantile(np.concatenate(parts, axis=1), [tail, 1 - tail], axis=1)
        lo[start : start + chunk] = mean[start : start + chunk] - q_hi * se[start : start + chunk]
        hi[start : start + chunk] = mean[start : start + chunk] - q_lo * se[start : start + chunk]
    return lo, hi
