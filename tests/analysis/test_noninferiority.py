"""Non-inferiority of a candidate within a margin: constructed cases against scipy, the
duality of Tango's test and interval, the samples-needed advice, and the type-I error
at the margin in simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from workbench.analysis import AnalysisError, non_inferiority, paired_diff_ci, samples_needed


def test_continuous_case_matches_a_one_sided_paired_t_test_against_the_margin() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(0.4, 0.9, 30)
    b = a + rng.normal(-0.01, 0.05, 30)
    result = non_inferiority(a, b, 0.05)
    d = b - a
    expected = stats.ttest_1samp(d + 0.05, 0.0, alternative="greater")
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    half = stats.t.ppf(0.95, 29) * d.std(ddof=1) / math.sqrt(30)
    assert result.lower == pytest.approx(d.mean() - half, rel=1e-9)
    assert result.holds == (result.lower > -0.05) == (result.p_value < 0.05)
    assert result.method == "paired t" and result.n == 30
    assert "no worse than the champion by more than 0.05" in result.text("the champion")
    assert f"p = {result.p_value:.3g}" in result.text()


def test_a_clear_regression_is_not_shown_non_inferior() -> None:
    a = np.linspace(0.5, 0.9, 40)
    b = a - 0.2 + np.tile([0.01, -0.01], 20)
    result = non_inferiority(a, b, 0.05)
    assert not result.holds and result.p_value > 0.99
    assert math.isinf(result.samples_needed)  # no n shows it: the diff is beyond the margin
    assert "not shown to be no worse" in result.text()


def test_lower_is_better_flips_the_direction() -> None:
    a = np.full(30, 1.0) + np.tile([0.1, -0.1, 0.0], 10)  # latency, seconds
    slower = non_inferiority(a, a + 0.5, 0.1, higher_is_better=False)
    faster = non_inferiority(a, a - 0.5, 0.1, higher_is_better=False)
    assert not slower.holds and slower.diff == pytest.approx(-0.5)
    assert faster.holds and faster.diff == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("b_only", "a_only", "n"), [(3, 4, 30), (0, 2, 24), (5, 1, 40), (2, 6, 50)]
)
def test_binary_case_is_tangos_test_and_agrees_with_tangos_interval(
    b_only: int, a_only: int, n: int
) -> None:
    a = np.array([0] * b_only + [1] * a_only + [1] * (n - b_only - a_only), dtype=float)
    b = np.array([1] * b_only + [0] * a_only + [1] * (n - b_only - a_only), dtype=float)
    result = non_inferiority(a, b, 0.1)
    interval = paired_diff_ci(a, b, 0.90)
    assert result.method == "Tango score test"
    assert result.diff == pytest.approx((b_only - a_only) / n)
    assert result.lower == pytest.approx(interval.lo, abs=1e-9)
    # the score interval is the inversion of the score test: they decide alike
    assert (result.p_value < 0.05) == (result.lower > -0.1) == result.holds


def test_too_few_pairs_fail_with_the_pairs_needed() -> None:
    a = np.array([0.5, 0.6, 0.7, 0.8, 0.6, 0.7, 0.5, 0.9, 0.6, 0.7])
    b = a + np.array([0.02, -0.03, 0.01, 0.0, 0.04, -0.02, 0.01, 0.03, -0.01, 0.0])
    result = non_inferiority(a, b, 0.05)
    assert not result.holds and math.isnan(result.lower) and result.n == 10
    d = b - a
    advice = samples_needed(d.mean() + 0.05, d.std(ddof=1), alpha=0.10)  # one-sided 5 %
    assert result.samples_needed == max(20, advice)
    assert f"about {int(result.samples_needed)} pairs needed" in result.text()


def test_a_negative_margin_is_an_error() -> None:
    with pytest.raises(AnalysisError, match="margin must be >= 0"):
        non_inferiority([1.0] * 20, [1.0] * 20, -0.1)


@pytest.mark.slow
@pytest.mark.parametrize("binary", [False, True])
def test_the_false_acceptance_rate_at_the_margin_is_at_most_5_percent(binary: bool) -> None:
    """When the candidate is worse by exactly the margin, "non-inferior" is a false
    acceptance: it must happen in at most 5 % of evaluations (+ 2 Monte-Carlo SE)."""
    rng = np.random.default_rng(7)
    reps, n, margin = 2000, 40, 0.1
    accepted = 0
    for _ in range(reps):
        if binary:  # pass rate 0.8 -> 0.7, correlated through a shared draw
            u = rng.uniform(size=n)
            a = (u < 0.8).astype(float)
            b = (u < 0.7).astype(float)
            flip = rng.uniform(size=n) < 0.2
            b[flip] = (rng.uniform(size=flip.sum()) < 0.7).astype(float)
        else:
            a = rng.beta(3, 1.5, n)
            b = np.clip(a - margin + rng.normal(0, 0.15, n), -1, 2)
        accepted += non_inferiority(a, b, margin).holds
    se = math.sqrt(0.05 * 0.95 / reps)
    assert accepted / reps <= 0.05 + 2 * se
