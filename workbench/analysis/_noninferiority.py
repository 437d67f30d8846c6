"""Non-inferiority: is a candidate shown no worse than a baseline by more than a margin?

"No significant regression" is absence of evidence; a guard metric instead asks for
evidence that the candidate's paired difference (in the metric's good direction) is
above ``-margin``: the one-sided ``confidence`` lower bound of the difference must clear
``-margin``, and the p-value is that of the one-sided test of ``H0: diff <= -margin``.

- pass/fail metrics: Tango's score interval and statistic for paired proportions (the
  interval of :func:`~workbench.analysis.paired_diff_ci`; Tango 1998 built it for
  exactly this equivalence / non-inferiority test).
- everything else: Student's t on the per-sample differences (one-sided paired t-test
  of ``d + margin > 0``).

Below :data:`~workbench.analysis.MIN_N` pairs no bound is given and the result fails
with how many pairs would be needed: for continuous metrics
:func:`~workbench.analysis.samples_needed` at the one-sided level and 80 % power, if the
observed difference and spread hold; for pass/fail metrics the pairs at which Tango's
bound clears ``-margin`` if the shares of discordant pairs hold (at least ``min_n``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats

from workbench.analysis._errors import AnalysisError
from workbench.analysis._frame import check_confidence
from workbench.analysis._intervals import MIN_N, _is_binary
from workbench.analysis._methods import _tango_statistic, tango_paired_limits
from workbench.analysis._power import samples_needed

__all__ = ["NonInferiority", "non_inferiority"]


class NonInferiority(NamedTuple):
    """The evidence that ``b`` is no worse than ``a`` by more than ``margin``."""

    diff: float
    """Mean paired difference in the metric's good direction (positive: b is better)."""
    lower: float
    """One-sided lower confidence bound of ``diff`` (NaN below ``min_n`` pairs)."""
    margin: float
    p_value: float
    """One-sided p-value of ``H0: diff <= -margin``."""
    holds: bool
    n: int
    method: str
    samples_needed: float
    """When it does not hold: pairs at which it would be shown (``inf``: the observed
    difference is itself beyond the margin); NaN when it holds."""

    def text(self, baseline: str = "the baseline") -> str:
        """One line of evidence, e.g. "no worse than the champion by more than 0.05 (...)"."""
        if math.isnan(self.lower):
            return (
                f"not shown: {self.method}; about {_count(self.samples_needed)} pairs needed "
                f"to show no worse than -{self.margin:g}"
            )
        verdict = "no worse" if self.holds else "not shown to be no worse"
        line = (
            f"{verdict} than {baseline} by more than {self.margin:g} (diff "
            f"{self.diff:+.3g}, one-sided 95 % lower bound {self.lower:+.3g}, p = "
            f"{self.p_value:.3g}, n={self.n}, {self.method})"
        )
        if not self.holds:
            line += f"; about {_count(self.samples_needed)} pairs needed"
        return line


def _count(n: float) -> str:
    return "no number of" if math.isinf(n) or math.isnan(n) else str(int(n))


def non_inferiority(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    margin: float,
    *,
    higher_is_better: bool = True,
    confidence: float = 0.95,
    min_n: int = MIN_N,
    power: float = 0.8,
) -> NonInferiority:
    """Test that ``b`` (candidate) is no worse than ``a`` (baseline) by more than ``margin``.

    ``a`` and ``b`` are paired per sample; pairs with a NaN are dropped. ``margin`` is in
    the metric's units (>= 0). See the module docstring for the methods.
    """
    check_confidence(confidence)
    if not margin >= 0:
        raise AnalysisError(f"a non-inferiority margin must be >= 0, got {margin!r}")
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise AnalysisError(f"non_inferiority needs equal lengths, got {x.size} and {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if not higher_is_better:
        x, y = -x, -y
    d = y - x
    n = int(d.size)
    diff = float(d.mean()) if n else math.nan
    sd = float(d.std(ddof=1)) if n > 1 else math.nan
    binary = n > 0 and _is_binary(np.abs(x)) and _is_binary(np.abs(y))
    b_only, a_only = int((d > 0).sum()), int((d < 0).sum())

    def needed() -> float:
        if binary:
            count = _binary_needed(b_only, a_only, n, margin, confidence)
        else:
            count = _needed(diff, margin, sd, 1 - confidence, power)
        return count if math.isnan(count) else max(count, float(max(min_n, 2)))

    if n < max(min_n, 2):
        reason = f"too few pairs: n={n} < {max(min_n, 2)}"
        return NonInferiority(diff, math.nan, margin, math.nan, False, n, reason, needed())
    if binary:
        lower = float(tango_paired_limits(b_only, a_only, n, 2 * confidence - 1)[0])
        counts = (np.asarray(float(c)) for c in (b_only, a_only, n))
        statistic = float(_tango_statistic(np.asarray(-margin), *counts))
        p = float(stats.norm.sf(statistic))
        method = "Tango score test"
    elif sd == 0:
        lower, p, method = diff, 0.0 if diff > -margin else 1.0, "no spread in the differences"
    else:
        se = sd / math.sqrt(n)
        lower = diff - float(stats.t.ppf(confidence, n - 1)) * se
        p = float(stats.t.sf((diff + margin) / se, n - 1))
        method = "paired t"
    holds = lower > -margin
    return NonInferiority(diff, lower, margin, p, holds, n, method, math.nan if holds else needed())


def _binary_needed(b_only: int, a_only: int, n: int, margin: float, confidence: float) -> float:
    """Pairs at which Tango's bound clears ``-margin`` if the discordant shares hold."""
    if n == 0 or (b_only - a_only) / n <= -margin:
        return math.inf

    def clears(m: int) -> bool:
        low = tango_paired_limits(b_only * m / n, a_only * m / n, m, 2 * confidence - 1)[0]
        return bool(low > -margin)

    hi = 2
    while not clears(hi):
        hi *= 2
        if hi > 10**7:
            return math.inf
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if clears(mid) else (mid, hi)
    return float(hi)


def _needed(diff: float, margin: float, sd: float, alpha: float, power: float) -> float:
    """Pairs for a one-sided test at ``alpha`` to show ``diff > -margin`` with ``power``."""
    if math.isnan(diff) or math.isnan(sd):
        return math.nan
    if diff + margin <= 0:
        return math.inf
    if sd == 0:
        return 2.0
    return samples_needed(diff + margin, sd, alpha=2 * alpha, power=power)
