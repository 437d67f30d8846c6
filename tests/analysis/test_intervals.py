"""Wilson and bootstrap intervals against statsmodels, scipy and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from workbench.analysis import mean_ci, paired_diff_ci, wilson_bounds, wilson_interval


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


def test_mean_ci_is_seeded_bca_from_scipy() -> None:
    values = np.random.default_rng(3).gamma(2.0, 1.0, 80)
    ci = mean_ci(values, 0.9, seed=7, n_resamples=2000)
    expected = stats.bootstrap(
        (values,), np.mean, confidence_level=0.9, n_resamples=2000, rng=np.random.default_rng(7)
    ).confidence_interval
    assert ci.method == "BCa"
    assert (ci.lo, ci.hi) == pytest.approx((expected.low, expected.high), abs=1e-12)
    assert ci.estimate == pytest.approx(values.mean())
    assert ci.n == 80
    assert mean_ci(values, 0.9, seed=7, n_resamples=2000) == ci  # reproducible


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
    two = mean_ci([1.0, 3.0])
    # t interval with 1 degree of freedom: 2 +- t_{0.975,1} * 1
    assert two.method == "t (n < 3)"
    assert (two.lo, two.hi) == pytest.approx((2 - 12.706205, 2 + 12.706205), abs=1e-5)


def test_mean_ci_rare_binary_does_not_crash() -> None:
    values = np.zeros(200)
    values[5] = 1.0
    ci = mean_ci(values, n_resamples=1000)
    assert ci.lo <= 0.005 <= ci.hi
    assert ci.method in ("BCa", "percentile (BCa undefined)")


def test_paired_diff_ci_equals_bootstrap_of_differences() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=40)
    b = a + 0.3 + rng.normal(size=40)
    paired = paired_diff_ci(a, b, seed=4, n_resamples=1500)
    direct = mean_ci(b - a, seed=4, n_resamples=1500)
    assert paired.estimate == pytest.approx((b - a).mean())
    assert (paired.lo, paired.hi) == pytest.approx((direct.lo, direct.hi), abs=1e-12)


def test_paired_diff_ci_drops_pairs_with_a_nan() -> None:
    ci = paired_diff_ci([1.0, 2.0, np.nan, 4.0, 5.0], [2.0, 2.5, 9.0, np.nan, 6.5], n_resamples=500)
    assert ci.n == 3
    assert ci.estimate == pytest.approx((1.0 + 0.5 + 1.5) / 3)
