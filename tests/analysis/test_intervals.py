"""Wilson, Tango, t and bootstrap intervals against statsmodels, scipy and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats
from statsmodels.stats.proportion import proportion_confint

from workbench.analysis import (
    mean_ci,
    mean_method,
    paired_diff_ci,
    wilson_bounds,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("k", "n", "confidence"),
    [(0, 10, 0.95), (3, 10, 0.95), (10, 10, 0.95), (47, 60, 0.9), (1, 1, 0.99), (512, 1000, 0.95)],
)
def test_wilson_matches_statsmodels(k: int, n: int, confidence: float) -> None:
    expected = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert wilson_interval(k, n, confidence) == pytest.approx(expected, abs=1e-12)
    assert wilson_bounds(k / n, n, confidence) == pytest.approx(expected, abs=1e-12)


def test_wilson_hand_computed() -> None:
    # 3 of 10 at 95 %: z^2 = 3.841459; centre = (0.3 + z^2/20) / (1 + z^2/10) = 0.355506;
    # half = z / (1 + z^2/10) * sqrt(0.3 * 0.7 / 10 + z^2 / 400) = 0.247715
    lo, hi = wilson_interval(3, 10)
    assert lo == pytest.approx(0.107791, abs=1e-6)
    assert hi == pytest.approx(0.603222, abs=1e-6)


def test_wilson_bounds_non_integer_count_matches_statsmodels() -> None:
    # 2.5 wins of 10 (ties counted as half a win)
    expected = proportion_confint(2.5, 10, alpha=0.05, method="wilson")
    assert wilson_bounds(0.25, 10) == pytest.approx(expected, abs=1e-12)


def test_mean_ci_bca_on_request_is_seeded_bca_from_scipy() -> None:
    values = np.random.default_rng(3).gamma(2.0, 1.0, 80)
    ci = mean_ci(values, 0.9, seed=7, n_resamples=2000, method="bca")
    expected = stats.bootstrap(
        (values,), np.mean, confidence_level=0.9, n_resamples=2000, rng=np.random.default_rng(7)
    ).confidence_interval
    assert ci.method == "BCa bootstrap"
    assert (ci.lo, ci.hi) == pytest.approx((expected.low, expected.high), abs=1e-12)
    assert ci.estimate == pytest.approx(values.mean())
    assert ci.n == 80
    assert mean_ci(values, 0.9, seed=7, n_resamples=2000, method="bca") == ci  # reproducible


def test_mean_ci_drops_nans() -> None:
    ci = mean_ci([1.0, np.nan, 2.0, 4.0, np.nan, 3.0], seed=0, n_resamples=500)
    assert ci.n == 4
    assert ci.estimate == pytest.approx(2.5)


def test_mean_ci_degenerate_cases_say_so() -> None:
    assert mean_ci([0.7] * 12).method == "all values equal"
    assert mean_ci([0.7] * 12)[:3] == (0.7, 0.7, 0.7)
    single = mean_ci([0.4])
    assert single.method == "single value" and math.isnan(single.lo)
    empty = mean_ci([np.nan, np.nan])
    assert empty.method == "no values" and empty.n == 0 and math.isnan(empty.estimate)
    too_few = mean_ci([1.0, 3.0])
    assert math.isnan(too_few.lo) and too_few.method.startswith("too few values: n=2 <")
    two = mean_ci([1.0, 3.0], min_n=2, method="t")
    # t interval with 1 degree of freedom: 2 +- t_{0.975,1} * 1
    assert two.method == "t"
    assert (two.lo, two.hi) == pytest.approx((2 - 12.706205, 2 + 12.706205), abs=1e-5)


def test_mean_ci_rare_binary_is_wilson() -> None:
    values = np.zeros(200)
    values[5] = 1.0
    ci = mean_ci(values, n_resamples=1000)
    assert ci.method == "Wilson score"
    assert (ci.lo, ci.hi) == pytest.approx(proportion_confint(1, 200, method="wilson"))


def test_paired_bca_on_request_equals_bootstrap_of_differences() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=40)
    b = a + 0.3 + rng.normal(size=40)
    paired = paired_diff_ci(a, b, seed=4, n_resamples=1500, method="bca")
    direct = mean_ci(b - a, seed=4, n_resamples=1500, method="bca")
    assert paired.estimate == pytest.approx((b - a).mean())
    assert (paired.lo, paired.hi) == pytest.approx((direct.lo, direct.hi), abs=1e-12)


def test_paired_diff_ci_drops_pairs_with_a_nan() -> None:
    ci = paired_diff_ci([1.0, 2.0, np.nan, 4.0, 5.0], [2.0, 2.5, 9.0, np.nan, 6.5], min_n=3)
    assert ci.n == 3
    assert ci.estimate == pytest.approx((1.0 + 0.5 + 1.5) / 3)


def _tango_statistic(delta: float, b_only: int, a_only: int, n: int) -> float:
    """Tango (1998) score statistic, written out from Fagerland et al. (2014), the paired 2x2 table."""
    big_a, big_b = 2 * n, -b_only - a_only + (2 * n - b_only + a_only) * delta
    big_c = -a_only * delta * (1 - delta)
    p21 = (math.sqrt(big_b**2 - 4 * big_a * big_c) - big_b) / (2 * big_a)
    return (b_only - a_only - n * delta) / math.sqrt(n * (2 * p21 + delta * (1 - delta)))


def test_tango_limits_are_the_roots_of_the_score_statistic() -> None:
    # Bentur et al. (2009), Fagerland, Lydersen & Laake's example: 1 pair only after,
    # 7 only before, 21 pairs; 95 % Tango interval about (-0.517, -0.026)
    a = [1] * 7 + [0] * 1 + [1] * 1 + [0] * 12
    b = [0] * 7 + [1] * 1 + [1] * 1 + [0] * 12
    ci = paired_diff_ci(a, b)
    assert ci.method == "Tango score (paired proportions)"
    assert ci.estimate == pytest.approx(-6 / 21)
    z = stats.norm.ppf(0.975)
    lo = optimize.brentq(lambda d: _tango_statistic(d, 1, 7, 21) - z, -0.99, ci.estimate)
    hi = optimize.brentq(lambda d: _tango_statistic(d, 1, 7, 21) + z, ci.estimate, 0.99)
    assert (ci.lo, ci.hi) == pytest.approx((lo, hi), abs=1e-9)
    assert (ci.lo, ci.hi) == pytest.approx((-0.5172, -0.0260), abs=1e-4)


def test_tango_without_discordant_pairs_is_not_zero_width() -> None:
    ci = paired_diff_ci([1] * 15 + [0] * 10, [1] * 15 + [0] * 10)
    # no discordant pair: T(d) = -sqrt(n d / (1 - d)) = -z  ->  d = z^2 / (n + z^2)
    z2 = stats.norm.ppf(0.975) ** 2
    assert (ci.lo, ci.hi) == pytest.approx((-z2 / (25 + z2), z2 / (25 + z2)), abs=1e-9)


def test_paired_continuous_is_t_on_the_differences() -> None:
    rng = np.random.default_rng(2)
    a = rng.gamma(2.0, 1.0, 30)
    b = a + 0.2 + rng.normal(0, 0.5, 30)
    ci = paired_diff_ci(a, b, 0.9)
    expected = stats.ttest_rel(b, a).confidence_interval(0.9)
    assert ci.method == "t on paired differences"
    assert (ci.lo, ci.hi) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_mean_of_bounded_scores_is_t() -> None:
    values = np.random.default_rng(4).beta(0.5, 0.3, 40)
    ci = mean_ci(values)
    expected = stats.ttest_1samp(values, 0.0).confidence_interval(0.95)
    assert ci.method == "t" and mean_method(values) == "t"
    assert (ci.lo, ci.hi) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_mean_of_skewed_values_is_the_studentized_bootstrap_by_hand() -> None:
    values = np.random.default_rng(5).lognormal(0.0, 0.8, 40)
    ci = mean_ci(values, seed=9, n_resamples=400)
    assert ci.method == "studentized bootstrap"
    rng, n = np.random.default_rng(9), values.size
    idx = rng.integers(0, n, size=(1, 400, n))[0]
    mean, se = values.mean(), values.std(ddof=1) / math.sqrt(n)
    t_star = [(values[i].mean() - mean) / (values[i].std(ddof=1) / math.sqrt(n)) for i in idx]
    q_lo, q_hi = np.quantile(t_star, [0.025, 0.975])
    assert (ci.lo, ci.hi) == pytest.approx((mean - q_hi * se, mean - q_lo * se), abs=1e-12)


def test_below_min_n_the_interval_is_nan_with_the_reason() -> None:
    ci = paired_diff_ci(np.zeros(12), np.linspace(0, 1, 12))
    assert math.isnan(ci.lo) and math.isnan(ci.hi)
    assert ci.method == "too few values: n=12 < 20, no interval holds its coverage"
    assert ci.estimate == pytest.approx(0.5)
    skewed = np.random.default_rng(0).lognormal(size=25)  # studentized needs 30
    assert math.isnan(mean_ci(skewed).lo) and not math.isnan(mean_ci(skewed, min_n=20).lo)
