"""Gate rules decided on one-sided 95 % bounds: the leaderboard's bound columns checked
against statsmodels / scipy, the gate's choice of bound or point, and the "n cannot
certify" advice checked against the analysis power functions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from tests.analysis.conftest import tiny_frame
from workbench.analysis import leaderboard, quantile_samples_needed, samples_to_certify
from workbench.errors import ConfigError
from workbench.gates import Calibration, GatePolicy, evaluate, load_policy
from workbench.gates._rules import wilson_samples_needed
from workbench.records import MetricInfo


def _board(passed: int, n: int, **columns: list[float]) -> dict[str, Any]:
    frame = tiny_frame({"v": {"passed": [1.0] * passed + [0.0] * (n - passed), **columns}})
    metrics = [MetricInfo(name, True) for name in columns]
    return leaderboard(frame, metrics).iloc[0].to_dict()


def _rules(decision: Any) -> dict[str, Any]:
    return {r.rule: r for r in decision.rules}


# --- the bounds, where the evidence is built --------------------------------------------------


@pytest.mark.parametrize(("passed", "n"), [(14, 24), (18, 20), (0, 24), (24, 24), (55, 80)])
def test_rate_bounds_are_one_sided_95_percent_wilson(passed: int, n: int) -> None:
    """A one-sided 95 % bound is one side of the two-sided 90 % Wilson interval."""
    row = _board(passed, n)
    lo, _ = proportion_confint(passed, n, alpha=0.10, method="wilson")
    assert row["pass_rate_lb"] == pytest.approx(lo, abs=1e-9)
    _, hi = proportion_confint(0, n, alpha=0.10, method="wilson")  # tiny_frame: no errors
    assert row["error_rate_ub"] == pytest.approx(hi, abs=1e-9)


def test_a_metric_mean_is_bounded_below_and_above_by_one_sided_t() -> None:
    rng = np.random.default_rng(3)
    values = rng.uniform(0.3, 0.9, 30)
    row = _board(20, 30, quality=list(values))
    half = stats.t.ppf(0.95, 29) * values.std(ddof=1) / math.sqrt(30)
    assert row["quality_lb"] == pytest.approx(values.mean() - half, rel=1e-9)
    assert row["quality_ub"] == pytest.approx(values.mean() + half, rel=1e-9)
    assert "quality_lb: " in row["bound_methods"] and "(n=30)" in row["bound_methods"]


def test_the_p95_latency_bound_is_an_order_statistic_or_nan_below_59() -> None:
    frame = tiny_frame({"v": {"passed": [1.0] * 80}})
    latencies = np.arange(1, 81, dtype=float)  # 1 .. 80 s, in order
    frame["latency_s"] = latencies
    row = leaderboard(frame).iloc[0]
    # by hand: the smallest k with P(Binomial(80, 0.95) <= k - 1) >= 0.95
    k = next(k for k in range(1, 81) if stats.binom.cdf(k - 1, 80, 0.95) >= 0.95)
    assert row["latency_p95_ub"] == latencies[k - 1]
    small = tiny_frame({"v": {"passed": [1.0] * 24}})
    row = leaderboard(small).iloc[0]
    assert math.isnan(row["latency_p95_ub"])
    assert f"< {quantile_samples_needed(0.95)}" in row["bound_methods"]


# --- the gate decides on the bound unless the policy says point -------------------------------


def test_a_pass_rate_that_clears_on_its_estimate_fails_on_its_bound_with_samples_needed() -> None:
    row = _board(14, 24)  # 0.583
    decision = evaluate(row, GatePolicy(min_pass_rate_lower_bound=0.5))
    rule = _rules(decision)["pass_rate_lower_bound"]
    assert not rule.passed and rule.basis == "bound" and rule.n == 24
    assert rule.estimate == pytest.approx(14 / 24)
    assert rule.value == pytest.approx(row["pass_rate_lb"])
    needed = samples_to_certify(14 / 24, 0.5, confidence=0.90)  # one-sided 95 %
    assert rule.samples_needed == needed
    assert f"n=24 can certify at most {rule.value:.4g}" in rule.note
    assert f"{needed} samples needed for 0.5" in rule.note
    point = evaluate(
        row, GatePolicy(min_pass_rate_lower_bound=0.5, bound={"pass_rate_lower_bound": "point"})
    )
    rule = _rules(point)["pass_rate_lower_bound"]
    assert point.passed and rule.basis == "point" and rule.value == pytest.approx(14 / 24)


@pytest.mark.parametrize(
    ("rate", "threshold"), [(0.583, 0.5), (0.9, 0.75), (0.7, 0.69), (0.95, 0.8), (0.62, 0.3)]
)
def test_the_closed_form_advice_matches_samples_to_certify(rate: float, threshold: float) -> None:
    assert wilson_samples_needed(rate, threshold, "lower") == samples_to_certify(
        rate, threshold, confidence=0.90
    )
    # an upper bound on an error rate is the lower bound on its complement
    assert wilson_samples_needed(1 - rate, 1 - threshold, "upper") == samples_to_certify(
        rate, threshold, confidence=0.90
    )


def test_no_errors_in_24_cannot_certify_an_error_rate_of_5_percent() -> None:
    row = _board(20, 24)
    rule = _rules(evaluate(row, GatePolicy(max_error_rate=0.05)))["error_rate"]
    assert row["error_rate"] == 0 and not rule.passed
    assert rule.value == pytest.approx(proportion_confint(0, 24, alpha=0.10, method="wilson")[1])
    assert rule.samples_needed == samples_to_certify(1.0, 0.95, confidence=0.90) == 52
    assert "52 samples needed for 0.05" in rule.note


def test_a_p95_on_too_few_latencies_fails_and_says_how_many_are_needed() -> None:
    row = _board(24, 24)
    rule = _rules(evaluate(row, GatePolicy(max_p95_latency_s=100.0)))["p95_latency_s"]
    assert not rule.passed and math.isnan(rule.value)
    assert "n=24 < 59" in rule.method and "bound: {p95_latency_s: point}" in rule.note
    point = GatePolicy(max_p95_latency_s=100.0, bound={"p95_latency_s": "point"})
    assert _rules(evaluate(row, point))["p95_latency_s"].passed


def test_a_metric_mean_is_decided_on_the_bound_in_its_direction() -> None:
    values = [0.62, 0.71] * 12  # mean 0.665 on 24
    row = _board(20, 24, quality=values)
    higher = _rules(evaluate(row, GatePolicy(metrics={"quality": ">= 0.65"})))["mean:quality"]
    assert higher.value == pytest.approx(row["quality_lb"]) and not higher.passed
    assert higher.samples_needed is not None and higher.samples_needed > 24
    lower = _rules(evaluate(row, GatePolicy(metrics={"quality": "<= 0.67"})))["mean:quality"]
    assert lower.value == pytest.approx(row["quality_ub"]) and not lower.passed
    point = GatePolicy(metrics={"quality": ">= 0.65"}, bound={"quality": "point"})
    assert _rules(evaluate(row, point))["mean:quality"].passed


def test_an_older_board_without_bounds_falls_back_to_the_stricter_two_sided_bound() -> None:
    row = {"variant_id": "v", "n": 40, "pass_rate": 0.9, "pass_rate_lo": 0.77, "latency_p95": 1.0}
    decision = evaluate(row, GatePolicy(min_pass_rate_lower_bound=0.7, max_p95_latency_s=2.0))
    rules = _rules(decision)
    assert rules["pass_rate_lower_bound"].passed and rules["pass_rate_lower_bound"].value == 0.77
    assert not rules["p95_latency_s"].passed
    assert "logged before gate bounds" in rules["p95_latency_s"].note


def test_bound_names_an_unknown_rule_is_a_config_error(tmp_path: Any) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("bound: {p95_latency: point}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bound.p95_latency: not a rule") as caught:
        load_policy(path)
    assert "p95_latency_s" in caught.value.message


# --- judges calibrated against people --------------------------------------------------------


@pytest.mark.parametrize(
    ("calibration", "mode", "passed", "status"),
    [
        (None, "report", True, "uncalibrated"),
        (None, "fail", False, "uncalibrated"),
        (Calibration(0.3, 50), "fail", False, "uncalibrated"),
        (Calibration(0.6, 10), "fail", False, "uncalibrated"),
        (Calibration(0.6, 50), "fail", True, ""),
    ],
)
def test_a_rule_on_a_judge_metric_counts_only_when_the_judge_is_calibrated(
    calibration: Calibration | None, mode: str, passed: bool, status: str
) -> None:
    row = _board(20, 24, faithfulness=[0.9] * 24)
    policy = GatePolicy(
        metrics={"faithfulness": ">= 0.5"},
        judge_calibration={"min_kappa": 0.4, "min_ratings": 30, "uncalibrated": mode},
    )
    given = {} if calibration is None else {"faithfulness": calibration}
    rule = _rules(evaluate(row, policy, calibration=given))["mean:faithfulness"]
    assert (rule.passed, rule.status) == (passed, status)
    if status:
        assert "uncalibrated judge" in rule.note and "needs kappa >= 0.4 on >= 30" in rule.note


def test_a_rule_on_a_metric_no_judge_scores_is_never_uncalibrated() -> None:
    row = _board(20, 24, quality=[0.9] * 24)
    policy = GatePolicy(metrics={"quality": ">= 0.5"}, judge_calibration={"uncalibrated": "fail"})
    assert _rules(evaluate(row, policy))["mean:quality"].status == ""


# --- the table -------------------------------------------------------------------------------


def test_the_table_shows_estimate_bound_n_and_method_and_collapses_silent_rows() -> None:
    from rich.console import Console

    from workbench.cli._gate_tables import decision_table

    row = _board(14, 24)
    row.update(rouge_l_unscored=0.0, bleu_unscored=0.0, faithfulness_unscored=0.25)
    policy = GatePolicy(min_pass_rate_lower_bound=0.5, max_unscored_fraction=0.1)
    console = Console(record=True, width=250)
    console.print(decision_table(evaluate(row, policy)))
    text = console.export_text()
    assert "estimate" in text and "decided on" in text and " n " in text
    assert "0.5833" in text and f"{row['pass_rate_lb']:.4g}" in text and "Wilson score" in text
    assert "unscored: 2 metrics at 0" in text and "unscored:faithfulness" in text
    assert "unscored:rouge_l" not in text
