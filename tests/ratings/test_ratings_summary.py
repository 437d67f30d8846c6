"""The ratings summary end to end on constructed cases, checked by hand or against the
libraries called directly (krippendorff, statsmodels, scipy)."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats import inter_rater

from workbench.ratings import agreement_table, pairwise_frame, summarize
from workbench.records import MetricInfo

OUTCOME = {
    "left": ("win", "loss"),
    "right": ("loss", "win"),
    "tie": ("tie", "tie"),
    "both_bad": ("both_bad", "both_bad"),
}


def tidy(records: list[tuple]) -> pd.DataFrame:
    """Rows like load_ratings returns, from (item, rater, left, right, choice, corr, help)."""
    rows = []
    for n, (item, rater, left, right, choice, corr, helpful) in enumerate(records):
        for k, (side, variant, opponent) in enumerate(
            (("left", left, right), ("right", right, left))
        ):
            rows.append(
                {
                    "item": item,
                    "rater": rater,
                    "variant": variant,
                    "side": side,
                    "outcome": OUTCOME[choice][k],
                    "correctness": corr[k],
                    "helpfulness": helpful[k],
                    "comment": "",
                    "time": pd.Timestamp(1_700_000_000 + n, unit="s", tz="UTC"),
                    "rating_id": f"r{n}",
                    "round": "rd",
                    "sample_id": item.split(":")[0],
                    "trace_id": f"tr-{variant}-{item}",
                    "opponent": opponent,
                    "opponent_trace": f"tr-{opponent}-{item}",
                    "valid": True,
                }
            )
    frame = pd.DataFrame(rows)
    for c in ("correctness", "helpfulness"):
        frame[c] = frame[c].astype("Int64")
    return frame


def test_a_rater_who_always_picks_left_has_position_bias_one() -> None:
    records = []
    for k in range(12):
        left, right = ("X", "Y") if k % 2 else ("Y", "X")
        records.append((f"s{k}", "lefty", left, right, "left", (3, 3), (3, 3)))
        records.append(
            (f"s{k}", "fair", left, right, "left" if left == "X" else "right", (3, 3), (3, 3))
        )
    summary = summarize(tidy(records))
    bias = summary.position.set_index("rater")
    assert bias.loc["lefty", "left_share"] == 1.0 and bias.loc["lefty", "n_left"] == 12
    assert bias.loc["lefty", "p_value"] == pytest.approx(2 * 0.5**12)
    assert bool(bias.loc["lefty", "biased"]) is True
    assert bias.loc["fair", "left_share"] == 0.5 and bool(bias.loc["fair", "biased"]) is False


def test_win_rate_and_wilson_interval_by_hand() -> None:
    # X beats Y 7 times, loses 2, one tie; sides alternate
    choices = ["X"] * 7 + ["Y"] * 2 + ["tie"]
    records = []
    for k, winner in enumerate(choices):
        left, right = ("X", "Y") if k % 2 else ("Y", "X")
        choice = "tie" if winner == "tie" else ("left" if winner == left else "right")
        records.append((f"s{k}", "alice", left, right, choice, (3, 3), (3, 3)))
    strengths = summarize(tidy(records)).strengths.set_index("variant")
    assert strengths.loc["X", ["wins", "losses", "ties", "n"]].tolist() == [7, 2, 1, 10]
    p, n, z = 0.75, 10, stats.norm.ppf(0.975)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert strengths.loc["X", "win_rate"] == pytest.approx(0.75)
    assert strengths.loc["X", "win_rate_lo"] == pytest.approx(centre - half, abs=1e-9)
    assert strengths.loc["X", "win_rate_hi"] == pytest.approx(centre + half, abs=1e-9)
    # Bradley-Terry with two players: s_X / (s_X + s_Y) = X's win share
    assert strengths.loc["X", "strength"] == pytest.approx(0.75, abs=1e-6)


def test_preference_agreement_ignores_which_side_an_answer_was_on() -> None:
    # three raters agree on every item, but saw the answers in different orders
    prefer = {"s1": "X", "s2": "X", "s3": "Y", "s4": "Y"}
    records = []
    for n, rater in enumerate(["a", "b", "c"]):
        for k, (sample, winner) in enumerate(prefer.items()):
            left, right = ("X", "Y") if (n + k) % 2 else ("Y", "X")
            records.append(
                (sample, rater, left, right, "left" if winner == left else "right", (3, 3), (3, 3))
            )
    table = agreement_table(tidy(records)).set_index("criterion")
    assert table.loc["preference", "alpha"] == pytest.approx(1.0)
    assert table.loc["preference", "fleiss_kappa"] == pytest.approx(1.0)
    assert table.loc["preference", "units"] == 4 and table.loc["preference", "raters"] == 3
    assert "same value" in table.loc["correctness", "note"]  # every score was 3


def test_rubric_agreement_matches_the_libraries() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(1, 6, size=(3, 6, 2))  # rater x item x (left, right)
    records = [
        (f"s{i}", f"rater{r}", "X", "Y", "tie", tuple(int(v) for v in scores[r, i]), (3, 3))
        for r in range(3)
        for i in range(6)
    ]
    table = agreement_table(tidy(records)).set_index("criterion")
    # units are (item, answer): rater x 12 units
    matrix = np.concatenate([scores[:, :, 0], scores[:, :, 1]], axis=1).astype(float)
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")
    assert table.loc["correctness", "alpha"] == pytest.approx(expected)
    counts, _ = inter_rater.aggregate_raters(matrix.T.astype(int))
    assert table.loc["correctness", "fleiss_kappa"] == pytest.approx(
        inter_rater.fleiss_kappa(counts)
    )


def test_metric_human_agreement_flags_a_metric_that_disagrees_with_people() -> None:
    records, samples = [], []
    for k in range(8):
        good = 1 + (k % 5)  # X's correctness
        records.append((f"s{k}", "alice", "X", "Y", "left", (good, 3), (3, 3)))
        records.append((f"s{k}", "bob", "Y", "X", "right", (3, good), (3, 3)))
        for variant, corr in (("X", good), ("Y", 3)):
            samples.append(
                {
                    "variant_id": variant,
                    "sample_id": f"s{k}",
                    "passed": float(corr >= 4),
                    "agrees": corr / 5 + 0.01 * k,
                    "contrary": -corr + 0.001 * k,
                }
            )
    metrics = [MetricInfo("agrees", True), MetricInfo("contrary", True)]
    summary = summarize(tidy(records), pd.DataFrame(samples), metrics, min_ratings=10)
    table = summary.metric_agreement
    correctness = table[table["human"] == "correctness"].set_index("metric")
    # with the default minimum (20 ratings), 16 are too few to flag anything
    default = summarize(tidy(records), pd.DataFrame(samples), metrics).metric_agreement
    assert default is not None and not default["disagrees"].any()
    frame = pd.DataFrame(samples)
    human = [
        1 + (k % 5) if v == "X" else 3
        for k, v in zip(np.arange(8).repeat(2), frame["variant_id"], strict=True)
    ]
    for metric in ("agrees", "contrary"):
        expected = stats.spearmanr(frame[metric], human).statistic
        assert correctness.loc[metric, "rho"] == pytest.approx(expected)
        assert correctness.loc[metric, "n"] == 16
    assert correctness.loc["agrees", "rho"] > 0.8 and not correctness.loc["agrees", "disagrees"]
    assert correctness.loc["contrary", "rho"] < -0.8 and correctness.loc["contrary", "disagrees"]
    assert correctness.loc["pass_rate", "kappa"] == pytest.approx(1.0)  # passed == (corr >= 4)
    assert set(table["human"]) == {"correctness", "helpfulness", "preference"}


def test_half_written_ratings_are_left_out_and_counted() -> None:
    frame = tidy(
        [
            ("s1", "a", "X", "Y", "left", (3, 3), (3, 3)),
            ("s2", "a", "X", "Y", "right", (3, 3), (3, 3)),
        ]
    )
    partial = frame.drop(index=3)  # the right side of the second rating is not stored yet
    pairs = pairwise_frame(partial)
    assert pairs["rating_id"].tolist() == ["r0"] and pairs.attrs["incomplete"] == 1
    assert pairs.loc[0, "winner"] == "left"
    assert "being written" in summarize(partial).notes[0]
    assert summarize(frame.iloc[0:0]).notes == ["no ratings yet"]
