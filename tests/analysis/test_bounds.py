"""One-sided gate bounds against statsmodels, scipy and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from workbench.analysis import (
    mean_bound,
    quantile_bound,
    quantile_samples_needed,
    rate_bound,
)
from workbench.analysis._errors import AnalysisError


def test_rate_bound_is_one_side_of_the_90_percent_wilson() -> None:
    lo, _ = proportion_confint(19, 24, alpha=0.10, method="wilson")
    assert rate_bound(19, 24).bound == pytest.approx(lo, abs=1e-12)
    upper = rate_bound(2, 24, "upper")
    assert upper.bound == pytest.approx(proportion_confint(2, 24, alpha=0.1, method="wilson")[1])
    assert (upper.side, upper.method, upper.n) == ("upper", "Wilson score", 24)


def test_mean_bound_on_scores_is_the_one_sided_t() -> None:
    values = np.random.default_rng(1).beta(2.0, 1.0, 30)
    expected = stats.ttest_1samp(values, 0.0, alternative="greater").confidence_interval(0.95)
    bound = mean_bound(values, "lower")
    assert bound.method == "t"
    assert bound.bound == pytest.approx(expected.low, abs=1e-12)


def test_mean_bound_on_skewed_values_needs_100() -> None:
    values = np.random.default_rng(2).lognormal(0.0, 0.8, 60)
    short = mean_bound(values, "upper")
    assert math.isnan(short.bound) and short.method.startswith("too few values: n=60 < 100")
    long = mean_bound(np.random.default_rng(2).lognormal(0.0, 0.8, 120), "upper")
    assert long.method == "studentized bootstrap" and long.bound > long.estimate


@pytest.mark.parametrize(("side", "alternative"), [("upper", "less"), ("lower", "greater")])
def test_quantile_bound_matches_scipy_quantile_test(side: str, alternative: str) -> None:
    values = np.random.default_rng(3).lognormal(size=120)
    expected = stats.quantile_test(values, q=1.0, p=0.95, alternative=alternative)
    ci = expected.confidence_interval(0.95)
    bound = quantile_bound(values, 0.95, side)  # type: ignore[arg-type]
    assert bound.bound == (ci.high if side == "upper" else ci.low)


def test_quantile_bound_hand_computed_and_too_few() -> None:
    # the maximum bounds the p95 with confidence 1 - 0.95^n: n >= log(0.05)/log(0.95) = 58.4
    assert quantile_samples_needed(0.95) == 59
    at_59 = quantile_bound(np.arange(59.0), 0.95)
    assert at_59.bound == 58.0 and at_59.method == "order statistic X(59) of 59"
    short = quantile_bound(np.arange(24.0), 0.95)
    assert math.isnan(short.bound)
    assert short.method == "too few values: n=24 < 59 to bound the 0.95-quantile"


def test_bad_side_is_refused() -> None:
    with pytest.raises(AnalysisError, match="side must be"):
        rate_bound(1, 2, "both")  # type: ignore[arg-type]
