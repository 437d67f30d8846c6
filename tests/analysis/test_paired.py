"""compare_pair: tests, effect sizes and win/tie/loss counts on hand-built frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

from workbench.analysis import (
    COMPARISON_COLUMNS,
    InsufficientDataError,
    compare_pair,
    mcnemar_samples_needed,
    rank_biserial,
    samples_needed,
)
from workbench.errors import NotFoundError
from workbench.records import MetricInfo

from .conftest import METRICS, tiny_frame

# Dyadic values so every difference is exact in floating point.
A = np.array([0.125, 0.25, 0.375, 0.5, 0.625, 0.75])
D = np.array([0.125, 0.0, 0.25, -0.125, 0.5, 0.0])
SCORE = MetricInfo("score", higher_is_better=True)
COST = MetricInfo("cost", higher_is_better=False)


def _hand_frame() -> pd.DataFrame:
    passed_a = [1, 0, 0, 1, 0, 1]
    passed_b = [1, 1, 1, 1, 0, 0]
    return tiny_frame(
        {
            "A": {"passed": passed_a, "score": A, "cost": A},
            "B": {"passed": passed_b, "score": A + D, "cost": A + D},
        }
    )


def test_columns_and_order() -> None:
    out = compare_pair(_hand_frame(), "A", "B", [SCORE, COST], n_resamples=500)
    assert tuple(out.columns) == COMPARISON_COLUMNS
    assert list(out["metric"]) == ["pass_rate", "score", "cost"]
    assert set(out["a"]) == {"A"} and set(out["b"]) == {"B"}
    assert out["b_label"].iloc[0] == "label B"


def test_win_tie_loss_respects_direction() -> None:
    out = compare_pair(_hand_frame(), "A", "B", [SCORE, COST], n_resamples=500).set_index("metric")
    # differences b - a: +0.125, 0, +0.25, -0.125, +0.5, 0
    assert out.loc["score", ["wins", "ties", "losses"]].tolist() == [3, 2, 1]
    assert out.loc["cost", ["wins", "ties", "losses"]].tolist() == [1, 2, 3]  # lower is better
    assert out.loc["score", "better"] == "B"
    assert out.loc["cost", "better"] == "A"
    assert out.loc["score", "diff"] == pytest.approx(D.mean())
    assert out.loc["score", "mean_a"] == pytest.approx(A.mean())
    # pass_rate: a=[1,0,0,1,0,1], b=[1,1,1,1,0,0] -> b wins 2, loses 1, ties 3
    assert out.loc["pass_rate", ["wins", "ties", "losses"]].tolist() == [2, 3, 1]


def test_wilcoxon_and_rank_biserial() -> None:
    out = compare_pair(_hand_frame(), "A", "B", [SCORE], n_resamples=500).set_index("metric")
    expected = stats.wilcoxon(D, zero_method="wilcox")
    assert out.loc["score", "p_value"] == pytest.approx(expected.pvalue)
    assert out.loc["score", "statistic"] == pytest.approx(expected.statistic)
    # non-zero |d|: 0.125, 0.25, 0.125, 0.5 -> ranks 1.5, 3, 1.5, 4; R+ = 8.5, R- = 1.5
    assert out.loc["score", "effect_size"] == pytest.approx((8.5 - 1.5) / 10)
    assert rank_biserial(D) == pytest.approx(0.7)
    assert out.loc["score", "effect_size_kind"] == "rank-biserial"


def test_exact_mcnemar_matches_statsmodels_and_hand() -> None:
    # 20 pairs: 10 both pass, 3 both fail, b_only = 6, a_only = 1
    a = [1] * 10 + [0] * 3 + [0] * 6 + [1]
    b = [1] * 10 + [0] * 3 + [1] * 6 + [0]
    frame = tiny_frame({"A": {"passed": a}, "B": {"passed": b}})
    row = compare_pair(frame, "A", "B", n_resamples=500).iloc[0]
    table = [[10, 1], [6, 3]]  # rows: a passed / failed; columns: b passed / failed
    assert row["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue)
    assert row["p_value"] == pytest.approx(2 * (1 + 7) / 2**7)  # 2 * P(X <= 1), X ~ Bin(7, 1/2)
    assert (row["b_only"], row["a_only"]) == (6, 1)
    assert row["effect_size"] == pytest.approx(5 / 20)
    assert row["effect_size_kind"] == "difference in proportions"


def test_nan_pairs_are_dropped_and_counted() -> None:
    score_b = (A + D).copy()
    score_b[1] = np.nan
    score_a = A.copy()
    score_a[4] = np.nan
    frame = tiny_frame(
        {"A": {"passed": [1] * 6, "score": score_a}, "B": {"passed": [1] * 6, "score": score_b}}
    )
    row = compare_pair(frame, "A", "B", [SCORE], n_resamples=500).set_index("metric").loc["score"]
    assert (row["n_pairs"], row["n_dropped"]) == (4, 2)
    assert row["diff"] == pytest.approx(np.mean([0.125, 0.25, -0.125, 0.0]))


def test_pairs_are_matched_on_sample_id_not_row_order() -> None:
    frame = _hand_frame()
    shuffled = frame.sample(frac=1.0, random_state=3)
    extra = frame[frame["variant_id"] == "B"].head(1).assign(sample_id="only_b", score=99.0)
    out = compare_pair(pd.concat([shuffled, extra]), "A", "B", [SCORE], n_resamples=500)
    assert out.set_index("metric").loc["score", "diff"] == pytest.approx(D.mean())
    assert out.attrs["n_shared"] == 6


def test_power_columns_only_for_non_significant_rows(samples: pd.DataFrame) -> None:
    ids = list(pd.unique(samples["variant_id"]))
    out = compare_pair(samples, ids[0], ids[1], METRICS, n_resamples=500).set_index("metric")
    significant = out["p_value"] < 0.05
    assert out.loc[significant, "n_needed"].isna().all()
    assert out.loc[~significant, "n_needed"].notna().all()
    tox = out.loc["toxicity"]
    assert not tox["p_value"] < 0.05
    assert tox["n_needed"] == samples_needed(tox["diff"], tox["sd_diff"], alpha=0.05, power=0.8)


def test_binary_power_columns_use_mcnemar() -> None:
    a = [1] * 10 + [0] * 3 + [0] * 3 + [1] * 2
    b = [1] * 10 + [0] * 3 + [1] * 3 + [0] * 2
    frame = tiny_frame({"A": {"passed": a}, "B": {"passed": b}})
    row = compare_pair(frame, "A", "B", n_resamples=500).iloc[0]
    assert row["n_needed"] == mcnemar_samples_needed(3 / 18, 2 / 18)
    assert row["mde"] == math.inf or row["mde"] > 0


def test_variant_can_be_named_by_label() -> None:
    out = compare_pair(_hand_frame(), "label A", "label B", n_resamples=500)
    assert out["a"].iloc[0] == "A"


def test_unknown_variant_suggests_the_closest() -> None:
    frame = _hand_frame().replace({"variant_id": {"A": "abc123", "B": "abd999"}})
    with pytest.raises(NotFoundError, match=r"unknown variant 'abc124'.*did you mean 'abc123'"):
        compare_pair(frame, "abc124", "abd999")


def test_fewer_than_two_shared_samples() -> None:
    frame = _hand_frame()
    frame = frame[~((frame["variant_id"] == "B") & (frame["sample_id"] != "s0"))]
    with pytest.raises(InsufficientDataError, match="share 1 sample"):
        compare_pair(frame, "A", "B")


def test_all_nan_metric_gives_an_untested_row() -> None:
    nan = [np.nan] * 6
    frame = tiny_frame(
        {"A": {"passed": [1] * 6, "score": nan}, "B": {"passed": [0] * 6, "score": nan}}
    )
    row = compare_pair(frame, "A", "B", [SCORE]).set_index("metric").loc["score"]
    assert row["n_pairs"] == 0 and math.isnan(row["p_value"]) and row["test"] == "none"
