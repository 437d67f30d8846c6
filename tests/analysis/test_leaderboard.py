"""leaderboard and pareto_front."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from workbench.analysis import leaderboard, pareto_front
from workbench.errors import NotFoundError

from .conftest import METRICS, tiny_frame


def test_columns_and_counts(samples: pd.DataFrame) -> None:
    board = leaderboard(samples, METRICS, n_resamples=500)
    assert list(board.columns[:5]) == ["variant_id", "variant", "prompt", "model", "retriever"]
    for name in ("quality", "exact_match", "toxicity"):
        assert [
            f"{name}",
            f"{name}_lo",
            f"{name}_hi",
            f"{name}_unscored",
            f"{name}_lb",
            f"{name}_ub",
        ] == [c for c in board.columns if c.startswith(name)]
    columns = list(board.columns)
    end = columns.index("tokens_out") + 1
    assert columns[end - 6 : end] == [
        "cost_total",
        "cost_per_success",
        "latency_p50",
        "latency_p95",
        "tokens_in",
        "tokens_out",
    ]
    # then the gate bounds (tests/gates/test_bounds_rules.py checks their values)
    assert columns[end] == "pass_rate_lb" and columns[-1] == "bound_methods"
    assert {"error_rate_ub", "latency_p95_ub", "cost_per_success_ub"} <= set(columns[end:])
    row = board.iloc[0]
    rows = samples[samples["variant_id"] == row["variant_id"]]
    errors = rows["error"].notna().sum()
    assert (row["n"], row["n_errors"]) == (len(rows), errors)
    assert row["error_rate"] == pytest.approx(errors / len(rows))
    assert row["pass_rate"] == pytest.approx(rows["passed"].mean())
    expected = proportion_confint(rows["passed"].sum(), len(rows), method="wilson")
    assert (row["pass_rate_lo"], row["pass_rate_hi"]) == pytest.approx(expected)
    assert row["quality"] == pytest.approx(rows["quality"].mean())  # NaN excluded
    assert row["quality_unscored"] == pytest.approx(rows["quality"].isna().mean())
    assert row["quality_lo"] < row["quality"] < row["quality_hi"]
    em = rows["exact_match"].dropna()
    assert (row["exact_match_lo"], row["exact_match_hi"]) == pytest.approx(
        proportion_confint(em.sum(), len(em), method="wilson")
    )
    assert row["cost_total"] == pytest.approx(rows["cost_usd"].sum())
    assert row["cost_per_success"] == pytest.approx(rows["cost_usd"].sum() / rows["passed"].sum())
    assert row["latency_p95"] == pytest.approx(np.percentile(rows["latency_s"], 95))
    assert row["latency_p50"] == pytest.approx(np.median(rows["latency_s"]))
    assert row["tokens_in"] == rows["prompt_tokens"].sum()
    assert board.attrs["directions"]["toxicity"] is False
    assert board.attrs["directions"]["latency_p95"] is False
    assert board.attrs["metrics"] == ["pass_rate", "quality", "exact_match", "toxicity"]


def test_sorted_in_the_columns_direction(samples: pd.DataFrame) -> None:
    by_pass = leaderboard(samples, METRICS, n_resamples=200)
    assert by_pass["pass_rate"].is_monotonic_decreasing
    by_tox = leaderboard(samples, METRICS, sort_by="toxicity", n_resamples=200)
    assert by_tox["toxicity"].is_monotonic_increasing
    by_latency = leaderboard(samples, METRICS, sort_by="latency_p95", n_resamples=200)
    assert by_latency["latency_p95"].is_monotonic_increasing
    by_lo = leaderboard(samples, METRICS, sort_by="pass_rate_lo", n_resamples=200)
    assert by_lo["pass_rate_lo"].is_monotonic_decreasing


def test_unknown_sort_column(samples: pd.DataFrame) -> None:
    with pytest.raises(NotFoundError, match=r"'pass_rat'.*did you mean 'pass_rate'"):
        leaderboard(samples, METRICS, sort_by="pass_rat")


def test_cost_per_success_is_inf_when_nothing_passed() -> None:
    frame = tiny_frame({"A": {"passed": [0, 0, 0]}, "B": {"passed": [1, 0, 1]}})
    board = leaderboard(frame).set_index("variant_id")
    assert board.loc["A", "cost_per_success"] == math.inf
    assert board.loc["B", "cost_per_success"] == pytest.approx(0.003 / 2)
    assert list(leaderboard(frame, sort_by="cost_per_success")["variant_id"]) == ["B", "A"]


def _board() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variant": ["a", "b", "c", "d", "e", "f"],
            "pass_rate": [0.9, 0.8, 0.8, 0.7, 0.9, np.nan],
            "cost_per_success": [3.0, 1.0, 1.0, 2.0, 3.0, 0.1],
            "latency_p95": [2.0, 1.0, 1.5, 0.5, 2.5, 0.1],
        }
    )


def test_pareto_hand_built() -> None:
    front = pareto_front(_board())
    # a: best quality; b: cheapest with 0.8; c dominated by b (same q/cost, slower);
    # d: fastest; e dominated by a (slower, same q and cost); f: NaN quality -> never
    assert front["pareto"].tolist() == [True, True, False, True, False, False]


def test_pareto_two_objectives_and_ties() -> None:
    front = pareto_front(_board(), latency=None)
    # without latency, b and c are identical: neither dominates the other; d dominated by b
    assert front["pareto"].tolist() == [True, True, True, False, True, False]


def test_pareto_missing_column() -> None:
    with pytest.raises(NotFoundError, match="latency_p99"):
        pareto_front(_board(), latency="latency_p99")
