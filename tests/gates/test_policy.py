"""Release gates as pure functions: a policy and a leaderboard row in, a decision out."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ConfigError, NotFoundError
from workbench.gates import (
    GatePolicy,
    evaluate,
    evaluate_board,
    load_policy,
    pick,
    policy_digest,
)


def board_row(**values: Any) -> dict[str, Any]:
    """A leaderboard row that passes every rule of a default policy, with ``values`` on top."""
    row: dict[str, Any] = {
        "variant_id": "abc123def456",
        "variant": "qa_terse@1 · smollm2-135m · bm25",
        "n": 40,
        "pass_rate": 0.9,
        "pass_rate_lo": 0.75,
        "pass_rate_lb": 0.77,
        "high_findings": 0,
        "latency_p95": 1.5,
        "latency_p95_ub": 1.5,
        "cost_per_success": 0.002,
        "cost_per_success_ub": 0.002,
        "error_rate": 0.0,
        "error_rate_ub": 0.0,
    }
    row.update(values)
    return row


def rules_of(decision: Any) -> dict[str, Any]:
    return {r.rule: r for r in decision.rules}


# --- loading a policy file ------------------------------------------------------------------


def test_a_policy_file_is_read_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "release.yaml"
    path.write_text(
        "name: release\nversion: '3'\nmin_pass_rate_lower_bound: 0.7\n"
        "max_p95_latency_s: 2.5\nmetrics: {semantic_similarity: '>= 0.6'}\n",
        encoding="utf-8",
    )
    policy = load_policy(path)
    assert (policy.name, policy.version) == ("release", "3")
    assert policy.min_pass_rate_lower_bound == 0.7
    assert policy.max_p95_latency_s == 2.5
    assert policy.metrics == {"semantic_similarity": ">= 0.6"}
    assert policy.max_high_severity_findings == 0  # the default: no high-severity finding


def test_an_empty_policy_file_is_the_default_policy(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    assert load_policy(path) == GatePolicy()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("min_pass_rate_lower_bound: [0.7\n", "invalid YAML"),
        ("min_pass_rate_lower_bound: 1.5\n", "min_pass_rate_lower_bound:"),
        ("max_pass_rate: 0.1\n", "max_pass_rate:"),
        ("metrics: {faithfulness: 'about 0.5'}\n", "metrics.faithfulness:"),
    ],
    ids=["bad-yaml", "out-of-range", "unknown-field", "bad-threshold"],
)
def test_a_bad_policy_file_is_a_config_error_naming_the_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert caught.value.where == str(path)
    assert message in caught.value.message


def test_a_missing_policy_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="gate policy file not found") as caught:
        load_policy(tmp_path / "nowhere.yaml")
    assert caught.value.where == str(tmp_path / "nowhere.yaml")


# --- the Wilson bound the pass-rate rule is decided on ---------------------------------------


@pytest.mark.parametrize(("passed", "n"), [(18, 20), (40, 40), (0, 12), (7, 9), (55, 80)])
def test_the_pass_rate_bound_is_the_wilson_lower_bound(passed: int, n: int) -> None:
    """The leaderboard's two-sided ``pass_rate_lo`` / ``_hi`` against statsmodels."""
    from statsmodels.stats.proportion import proportion_confint

    from tests.analysis.conftest import tiny_frame
    from workbench.analysis import leaderboard

    frame = tiny_frame({"v": {"passed": [1.0] * passed + [0.0] * (n - passed)}})
    row = leaderboard(frame).iloc[0]
    expected_lo, expected_hi = proportion_confint(passed, n, alpha=0.05, method="wilson")
    assert row["pass_rate"] == pytest.approx(passed / n)
    assert row["pass_rate_lo"] == pytest.approx(expected_lo, abs=1e-9)
    assert row["pass_rate_hi"] == pytest.approx(expected_hi, abs=1e-9)


def test_a_high_pass_rate_on_few_samples_fails_on_its_lower_bound() -> None:
    """18/20 = 0.90, but the one-sided 95 % Wilson lower bound is 0.738 (by hand, z =
    1.6449: centre 0.8524, half-width 0.1140): a 0.75 bound fails, a 0.73 bound passes."""
    from tests.analysis.conftest import tiny_frame
    from workbench.analysis import leaderboard

    frame = tiny_frame({"v": {"passed": [1.0] * 18 + [0.0] * 2}})
    board = leaderboard(frame)
    assert board.loc[0, "pass_rate_lb"] == pytest.approx(0.73834, abs=1e-4)
    strict = GatePolicy(min_pass_rate_lower_bound=0.75)
    lenient = GatePolicy(min_pass_rate_lower_bound=0.73)
    [fails] = evaluate_board(board, strict)
    [passes] = evaluate_board(board, lenient)
    assert not fails.passed and passes.passed
    rule = rules_of(fails)["pass_rate_lower_bound"]
    assert (rule.op, rule.bound) == (">=", 0.75)
    assert rule.value == pytest.approx(0.73834, abs=1e-4)
    assert "n=20" in rule.note and "0.9" in rule.note


# --- rules -----------------------------------------------------------------------------------


def test_every_configured_rule_is_checked_against_its_column() -> None:
    policy = GatePolicy(
        min_pass_rate_lower_bound=0.7,
        max_high_severity_findings=0,
        max_p95_latency_s=2.0,
        max_cost_per_success_usd=0.01,
        max_error_rate=0.05,
    )
    decision = evaluate(board_row(), policy)
    assert decision.passed
    assert {r.rule: (r.value, r.op, r.bound) for r in decision.rules} == {
        "pass_rate_lower_bound": (0.77, ">=", 0.7),
        "high_severity_findings": (0.0, "<=", 0.0),
        "p95_latency_s": (1.5, "<=", 2.0),
        "cost_per_success_usd": (0.002, "<=", 0.01),
        "error_rate": (0.0, "<=", 0.05),
    }


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("pass_rate_lb", 0.69, "pass_rate_lower_bound"),
        ("high_findings", 1, "high_severity_findings"),
        ("latency_p95_ub", 2.01, "p95_latency_s"),
        ("cost_per_success_ub", math.inf, "cost_per_success_usd"),
        ("error_rate_ub", 0.051, "error_rate"),
    ],
)
def test_one_broken_rule_fails_the_variant_and_only_that_rule(
    column: str, value: float, rule: str
) -> None:
    policy = GatePolicy(
        min_pass_rate_lower_bound=0.7,
        max_p95_latency_s=2.0,
        max_cost_per_success_usd=0.01,
        max_error_rate=0.05,
    )
    decision = evaluate(board_row(**{column: value}), policy)
    assert not decision.passed
    assert [r.rule for r in decision.failed_rules] == [rule]
    assert rule in decision.summary() and decision.summary().startswith(
        "qa_terse@1 · smollm2-135m · bm25: FAIL"
    )


def test_a_value_exactly_on_the_bound_passes() -> None:
    policy = GatePolicy(min_pass_rate_lower_bound=0.77, max_p95_latency_s=1.5, max_error_rate=0.0)
    assert evaluate(board_row(), policy).passed


@pytest.mark.parametrize("value", [None, math.nan])
def test_an_unknown_value_fails_its_rule_and_says_why(value: float | None) -> None:
    policy = GatePolicy(max_p95_latency_s=10.0)
    decision = evaluate(board_row(latency_p95_ub=value), policy)
    rule = rules_of(decision)["p95_latency_s"]
    assert not decision.passed and not rule.passed
    assert math.isnan(rule.value)
    assert rule.note == "value unknown: counts as a failure"


def test_a_missing_pass_rate_bound_fails_and_says_the_board_lacks_it() -> None:
    row = board_row()
    del row["pass_rate_lo"], row["pass_rate_lb"]
    rule = rules_of(evaluate(row, GatePolicy(min_pass_rate_lower_bound=0.5)))[
        "pass_rate_lower_bound"
    ]
    assert not rule.passed and math.isnan(rule.value)
    assert rule.note.startswith("pass_rate_lb not in this leaderboard")


def test_omitted_rules_are_not_checked() -> None:
    policy = GatePolicy(max_high_severity_findings=None)
    decision = evaluate(board_row(latency_p95=999.0, error_rate=1.0, high_findings=9), policy)
    assert decision.rules == () and decision.passed


def test_a_row_without_findings_counts_as_zero_findings() -> None:
    row = board_row()
    del row["high_findings"]
    rule = rules_of(evaluate(row, GatePolicy()))["high_severity_findings"]
    assert rule.passed and rule.value == 0.0


def test_metric_thresholds_use_their_own_operator() -> None:
    policy = GatePolicy(
        max_high_severity_findings=None,
        metrics={"semantic_similarity": ">= 0.6", "toxicity": "< 0.1"},
    )
    good = evaluate(
        board_row(
            semantic_similarity=0.7, semantic_similarity_lb=0.6, toxicity_ub=0.05, toxicity=0.0
        ),
        policy,
    )
    assert good.passed
    assert [(r.rule, r.op, r.bound) for r in good.rules] == [
        ("mean:semantic_similarity", ">=", 0.6),
        ("mean:toxicity", "<", 0.1),
    ]
    bad = evaluate(
        board_row(
            semantic_similarity=0.7, semantic_similarity_lb=0.6, toxicity_ub=0.1, toxicity=0.0
        ),
        policy,
    )
    assert [r.rule for r in bad.failed_rules] == ["mean:toxicity"]


def test_a_threshold_on_a_metric_the_run_lacks_suggests_the_closest_metric() -> None:
    policy = GatePolicy(metrics={"semantic_similarty": ">= 0.6"})
    row = board_row(semantic_similarity=0.7, semantic_similarity_lo=0.6)
    with pytest.raises(ConfigError, match="gates.metrics.semantic_similarty") as caught:
        evaluate(row, policy)
    assert caught.value.hint == "did you mean 'semantic_similarity'?"


def test_the_unscored_fraction_is_checked_per_metric_in_name_order() -> None:
    policy = GatePolicy(max_high_severity_findings=None, max_unscored_fraction=0.1)
    row = board_row(rouge_l_unscored=0.0, faithfulness_unscored=0.25, hit_at_3_unscored=0.1)
    decision = evaluate(row, policy)
    assert [(r.rule, r.passed) for r in decision.rules] == [
        ("unscored:faithfulness", False),
        ("unscored:hit_at_3", True),
        ("unscored:rouge_l", True),
    ]
    assert not decision.passed


# --- the decision ----------------------------------------------------------------------------


def test_the_decision_names_the_policy_variant_and_run() -> None:
    policy = GatePolicy(name="release", version="7", max_error_rate=0.1)
    decision = evaluate(board_row(label_only="x", flag=True), policy, run_id="run-1")
    assert (decision.policy, decision.policy_version) == ("release", "7")
    assert decision.policy_digest == policy_digest(policy)
    assert (decision.variant_id, decision.variant) == (
        "abc123def456",
        "qa_terse@1 · smollm2-135m · bm25",
    )
    assert decision.run_id == "run-1"
    # numbers only: no labels, no booleans
    assert decision.metrics["pass_rate"] == 0.9 and decision.metrics["n"] == 40.0
    assert "flag" not in decision.metrics and "label_only" not in decision.metrics
    data = decision.to_dict()
    assert data["verdict"] == "pass" and data["rules"][1]["rule"] == "error_rate"


def test_a_row_without_a_label_is_named_by_its_id() -> None:
    row = board_row()
    del row["variant"]
    assert evaluate(row, GatePolicy()).variant == "abc123def456"


def test_the_policy_digest_follows_the_policy_content() -> None:
    a = GatePolicy(min_pass_rate_lower_bound=0.7)
    assert policy_digest(a) == policy_digest(GatePolicy(min_pass_rate_lower_bound=0.7))
    assert policy_digest(a) != policy_digest(GatePolicy(min_pass_rate_lower_bound=0.71))
    assert len(policy_digest(a)) == 12


def test_a_failed_decision_shows_an_unknown_value_as_n_a() -> None:
    decision = evaluate(board_row(latency_p95_ub=math.nan), GatePolicy(max_p95_latency_s=1.0))
    data = decision.to_dict()
    assert data["verdict"] == "fail"
    # NaN is written as null: the decision's JSON is valid JSON (no bare NaN)
    text = json.dumps(data, allow_nan=False)
    rule = next(r for r in json.loads(text)["rules"] if r["rule"] == "p95_latency_s")
    assert rule["value"] is None
    assert decision.summary().endswith("FAIL (p95_latency_s n/a not <= 1)")


def test_a_board_is_decided_row_by_row_in_its_order_with_its_run_ids() -> None:
    import pandas as pd

    board = pd.DataFrame(
        [
            board_row(variant_id="v-best", variant="best", error_rate_ub=0.0),
            board_row(variant_id="v-worst", variant="worst", error_rate_ub=0.5),
        ]
    )
    decisions = evaluate_board(board, GatePolicy(max_error_rate=0.1), {"v-worst": "run-w"})
    assert [(d.variant, d.passed, d.run_id) for d in decisions] == [
        ("best", True, None),
        ("worst", False, "run-w"),
    ]


# --- picking one decision --------------------------------------------------------------------


@pytest.fixture
def two_decisions() -> list[Any]:
    return [
        evaluate(board_row(variant_id="aaa111", variant="first"), GatePolicy()),
        evaluate(board_row(variant_id="bbb222", variant="second"), GatePolicy()),
    ]


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [(None, "first"), ("second", "second"), ("bbb222", "second"), ("bbb", "second")],
    ids=["best", "label", "id", "id-prefix"],
)
def test_pick_finds_a_variant_by_label_id_or_prefix(
    two_decisions: list[Any], wanted: str | None, expected: str
) -> None:
    assert pick(two_decisions, wanted).variant == expected


def test_pick_of_an_unknown_variant_suggests_the_closest(two_decisions: list[Any]) -> None:
    with pytest.raises(NotFoundError, match="unknown variant 'secnd'") as caught:
        pick(two_decisions, "secnd")
    assert caught.value.hint == "did you mean 'second'?"


def test_pick_from_no_decisions_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="no variants to gate"):
        pick([], None)
