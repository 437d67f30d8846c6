"""Power and sample-size helpers against statsmodels and hand computations."""

from __future__ import annotations

import math

import pytest
from scipy import stats
from statsmodels.stats.power import TTestPower
from statsmodels.stats.proportion import proportion_confint

from workbench.analysis import (
    mcnemar_min_detectable_difference,
    mcnemar_samples_needed,
    min_detectable_difference,
    samples_needed,
    samples_to_certify,
)


def test_min_detectable_difference_has_the_requested_power() -> None:
    sd, n = 0.3, 50
    mde = min_detectable_difference(sd, n, alpha=0.05, power=0.8)
    achieved = TTestPower().power(effect_size=mde / sd, nobs=n, alpha=0.05)
    assert achieved == pytest.approx(0.8, abs=1e-6)
    # normal approximation: (z_0.975 + z_0.8) * sd / sqrt(n) = 2.8016 * 0.3 / 7.0711 = 0.11886
    assert mde == pytest.approx(0.11886, rel=0.03)


def test_samples_needed_is_the_smallest_n_with_enough_power() -> None:
    diff, sd = 0.05, 0.2
    n = samples_needed(diff, sd, alpha=0.05, power=0.8)
    power = TTestPower().power
    assert power(effect_size=diff / sd, nobs=n, alpha=0.05) >= 0.8
    assert power(effect_size=diff / sd, nobs=n - 1, alpha=0.05) < 0.8
    # normal approximation ((1.95996 + 0.84162) / 0.25)^2 = 125.6, t adds about 2
    assert 126 <= n <= 130


def test_samples_needed_edge_cases() -> None:
    assert samples_needed(0.0, 0.2) == math.inf
    assert math.isnan(samples_needed(0.1, 0.0))
    assert math.isnan(min_detectable_difference(0.0, 30))


def test_mcnemar_samples_needed_hand_computed() -> None:
    # Connor (1987): psi = 0.3, d = 0.1, z_a = 1.959964, z_b = 0.841621
    # (1.959964 * sqrt(0.3) + 0.841621 * sqrt(0.29))^2 / 0.01 = 233.1 -> 234
    assert mcnemar_samples_needed(0.2, 0.1, alpha=0.05, power=0.8) == 234
    assert mcnemar_samples_needed(0.1, 0.2) == 234  # symmetric in direction
    assert mcnemar_samples_needed(0.1, 0.1) == math.inf


def test_mcnemar_mde_inverts_the_sample_size() -> None:
    mde = mcnemar_min_detectable_difference(0.3, 234, alpha=0.05, power=0.8)
    assert mde == pytest.approx(0.1, abs=2e-3)
    assert mcnemar_min_detectable_difference(0.02, 10) == math.inf  # nothing detectable
    assert math.isnan(mcnemar_min_detectable_difference(0.0, 100))


@pytest.mark.parametrize(
    ("rate", "bound", "confidence"), [(0.9, 0.8, 0.95), (0.75, 0.7, 0.95), (0.97, 0.9, 0.9)]
)
def test_samples_to_certify_is_the_first_n_that_clears_the_bound(
    rate: float, bound: float, confidence: float
) -> None:
    n = samples_to_certify(rate, bound, confidence)
    assert n is not None

    def lower(m: int) -> float:
        return proportion_confint(rate * m, m, alpha=1 - confidence, method="wilson")[0]

    assert lower(n) >= bound
    assert lower(n - 1) < bound


def test_samples_to_certify_hand_computed_perfect_rate() -> None:
    # all passing: Wilson lower bound = n / (n + z^2) >= 0.9  <=>  n >= 9 z^2 = 34.57
    z2 = stats.norm.ppf(0.975) ** 2
    assert samples_to_certify(1.0, 0.9) == math.ceil(9 * z2) == 35


def test_samples_to_certify_none_when_rate_not_above_bound() -> None:
    assert samples_to_certify(0.8, 0.8) is None
    assert samples_to_certify(0.7, 0.8) is None
