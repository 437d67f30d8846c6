"""How many samples an inconclusive comparison (or a pass-rate gate) would need.

Continuous metrics use the paired t-test approximation (``statsmodels`` ``TTestPower``
on the differences); the Wilcoxon test actually run needs about 5 % more pairs on
normal data (asymptotic relative efficiency 3/pi). Binary metrics use Connor's (1987)
normal approximation to McNemar's test. The pass-rate gate uses the Wilson lower bound.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.power import TTestPower

from workbench.analysis._errors import AnalysisError, InsufficientDataError
from workbench.analysis._frame import check_confidence
from workbench.analysis._intervals import wilson_bounds

__all__ = [
    "mcnemar_min_detectable_difference",
    "mcnemar_samples_needed",
    "min_detectable_difference",
    "power_columns",
    "samples_needed",
    "samples_to_certify",
]

_MAX_N = 10**9


def _scalar(value: object) -> float:
    """Return statsmodels' answer (a float or a 1-element array) as a float."""
    return float(np.asarray(value, dtype=float).ravel()[0])


def _check(alpha: float, power: float) -> None:
    check_confidence(alpha, name="alpha")
    check_confidence(power, name="power")


def min_detectable_difference(
    sd_diff: float, n: int, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Return the smallest |mean paired difference| detectable with ``n`` pairs.

    Two-sided paired t-test at level ``alpha`` with the given ``power``
    (``TTestPower().solve_power`` for Cohen's dz, times ``sd_diff``), in the metric's
    units. NaN when ``sd_diff`` is 0 or NaN (no spread: the approximation says nothing).
    """
    _check(alpha, power)
    if n < 2:
        raise InsufficientDataError(f"min_detectable_difference needs n >= 2 pairs, got {n}")
    if not sd_diff > 0:
        return math.nan
    dz = TTestPower().solve_power(nobs=n, alpha=alpha, power=power, alternative="two-sided")
    return _scalar(dz) * float(sd_diff)


def samples_needed(
    observed_diff: float, sd_diff: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Return the total number of pairs at which ``observed_diff`` would be detected.

    Two-sided paired t-test (``TTestPower().solve_power`` with dz = |diff| / sd),
    rounded up, at least 2. ``math.inf`` when the difference is 0; NaN when ``sd_diff``
    is 0 or either input is NaN.
    """
    _check(alpha, power)
    if math.isnan(observed_diff) or math.isnan(sd_diff) or sd_diff <= 0:
        return math.nan
    dz = abs(observed_diff) / sd_diff
    if dz < 1e-6:
        return math.inf
    n = TTestPower().solve_power(effect_size=dz, alpha=alpha, power=power, alternative="two-sided")
    return float(max(2, math.ceil(_scalar(n) - 1e-9)))


def _connor_n(discordant: float, delta: float, alpha: float, power: float) -> float:
    """Connor (1987): pairs needed for McNemar to detect ``delta`` at discordant rate psi."""
    z_a = stats.norm.ppf(1 - alpha / 2)
    z_b = stats.norm.ppf(power)
    root = z_a * math.sqrt(discordant) + z_b * math.sqrt(max(discordant - delta**2, 0.0))
    return float(root**2 / delta**2)


def mcnemar_samples_needed(
    p_b_only: float, p_a_only: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Return the total number of pairs for McNemar's test to detect the observed difference.

    ``p_b_only`` / ``p_a_only`` are the shares of pairs where only b / only a is 1.
    Connor's normal approximation ``n = (z_a sqrt(psi) + z_b sqrt(psi - d^2))^2 / d^2``
    with ``psi = p_b_only + p_a_only`` and ``d = p_b_only - p_a_only``, rounded up.
    ``math.inf`` when ``d`` is 0.
    """
    _check(alpha, power)
    if not (0 <= p_b_only <= 1 and 0 <= p_a_only <= 1 and p_b_only + p_a_only <= 1):
        raise AnalysisError(
            f"discordant shares must be in [0, 1] and sum to at most 1, got {p_b_only}, {p_a_only}"
        )
    delta = p_b_only - p_a_only
    if delta == 0:
        return math.inf
    return float(max(2, math.ceil(_connor_n(p_b_only + p_a_only, delta, alpha, power) - 1e-9)))


def mcnemar_min_detectable_difference(
    discordant_rate: float, n: int, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Return the smallest |difference in proportions| McNemar detects with ``n`` pairs.

    Solves Connor's formula for ``d`` at a fixed share ``discordant_rate`` of discordant
    pairs. ``math.inf`` when even ``d = discordant_rate`` (every discordant pair going one
    way) would need more than ``n`` pairs; NaN when no discordant pair was seen.
    """
    _check(alpha, power)
    if n < 2:
        raise InsufficientDataError(f"mcnemar_min_detectable_difference needs n >= 2, got {n}")
    psi = float(discordant_rate)
    if not 0 < psi <= 1:
        return math.nan
    if _connor_n(psi, psi, alpha, power) > n:
        return math.inf
    low = 1e-12
    return float(optimize.brentq(lambda d: _connor_n(psi, d, alpha, power) - n, low, psi))


def samples_to_certify(pass_rate: float, bound: float, confidence: float = 0.95) -> int | None:
    """Return the smallest n whose Wilson lower bound at ``pass_rate`` reaches ``bound``.

    "If we keep passing at this rate, how many samples until the gate's lower bound
    clears ``bound``?" Uses the two-sided Wilson interval at ``confidence`` (the same one
    the leaderboard reports as ``pass_rate_lo``). None when ``pass_rate <= bound``:
    the lower bound then never reaches it.
    """
    check_confidence(confidence)
    if not (0 <= pass_rate <= 1 and 0 <= bound <= 1):
        raise AnalysisError(f"pass_rate and bound must be in [0, 1], got {pass_rate}, {bound}")
    if pass_rate <= bound:
        return None

    def reaches(n: int) -> bool:
        return wilson_bounds(pass_rate, n, confidence)[0] >= bound

    hi = 1
    while not reaches(hi):
        hi *= 2
        if hi > _MAX_N:
            return None
    lo = hi // 2  # reaches(lo) is False (or lo == 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if reaches(mid):
            hi = mid
        else:
            lo = mid
    return hi


def power_columns(
    *,
    kind: str,
    n: int,
    diff: float,
    sd_diff: float,
    b_only: int,
    a_only: int,
    alpha: float,
    power: float,
) -> tuple[float, float]:
    """Return ``(mde, n_needed)`` for one paired comparison row (NaNs when n < 2)."""
    if n < 2:
        return math.nan, math.nan
    if kind == "binary":
        mde = mcnemar_min_detectable_difference((b_only + a_only) / n, n, alpha=alpha, power=power)
        needed = mcnemar_samples_needed(b_only / n, a_only / n, alpha=alpha, power=power)
        return mde, needed
    mde = min_detectable_difference(sd_diff, n, alpha=alpha, power=power)
    return mde, samples_needed(diff, sd_diff, alpha=alpha, power=power)
