"""Bradley-Terry, win rates and position bias."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from statsmodels.stats.proportion import proportion_confint

from workbench.analysis import AnalysisError, bradley_terry, position_bias


def _pairs(records: list[tuple[str, str, str]], rater: str | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=["left_variant", "right_variant", "winner"])
    if rater is not None:
        frame["rater"] = rater
    return frame


def test_two_players_strength_ratio_is_the_win_ratio() -> None:
    frame = _pairs([("A", "B", "left")] * 2 + [("B", "A", "right")] + [("A", "B", "right")])
    out = bradley_terry(frame, n_resamples=200).set_index("variant")
    assert out.loc["A", "strength"] / out.loc["B", "strength"] == pytest.approx(3.0, rel=1e-6)
    assert out.loc["A", "strength"] == pytest.approx(0.75, rel=1e-6)
    assert out.loc["A", ["wins", "losses", "ties", "n"]].tolist() == [3, 1, 0, 4]
    # ties count half: A 3 wins + 1 tie, B 1 win + 1 tie -> ratio 3.5 / 1.5
    tied = pd.concat([frame, _pairs([("A", "B", "tie"), ("B", "A", "both_bad")])])
    out = bradley_terry(tied, n_resamples=200).set_index("variant")
    assert out.loc["A", "strength"] / out.loc["B", "strength"] == pytest.approx(4 / 2, rel=1e-6)
    assert out.loc["A", "ties"] == 2
    dropped = bradley_terry(tied, both_bad="drop", n_resamples=200).set_index("variant")
    assert dropped.loc["A", "strength"] / dropped.loc["B", "strength"] == pytest.approx(
        3.5 / 1.5, rel=1e-6
    )


def _simulate(strengths: dict[str, float], per_pair: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    records = []
    for a, b in itertools.combinations(strengths, 2):
        p = strengths[a] / (strengths[a] + strengths[b])
        for left_is_a in rng.random(per_pair) < 0.5:
            a_wins = rng.random() < p
            left, right = (a, b) if left_is_a else (b, a)
            records.append((left, right, "left" if a_wins == left_is_a else "right"))
    return _pairs(records)


def _independent_mle(frame: pd.DataFrame, players: list[str]) -> np.ndarray:
    """Bradley-Terry MLE by direct maximisation of the log-likelihood (scipy.optimize)."""
    index = {p: i for i, p in enumerate(players)}
    winners = np.array(
        [
            index[row.left_variant if row.winner == "left" else row.right_variant]
            for row in frame.itertuples()
        ]
    )
    losers = np.array(
        [
            index[row.right_variant if row.winner == "left" else row.left_variant]
            for row in frame.itertuples()
        ]
    )

    def negative_log_likelihood(theta: np.ndarray) -> float:
        full = np.append(theta, 0.0)  # last player fixed at 0 for identifiability
        return float(np.sum(np.logaddexp(full[winners], full[losers]) - full[winners]))

    theta = optimize.minimize(negative_log_likelihood, np.zeros(len(players) - 1), method="BFGS").x
    strength = np.exp(np.append(theta, 0.0))
    return strength / strength.sum()


def test_planted_strengths_are_recovered_and_match_direct_mle() -> None:
    planted = {"w": 4.0, "x": 2.0, "y": 1.0, "z": 0.5}
    frame = _simulate(planted, per_pair=150, seed=0)
    out = bradley_terry(frame, n_resamples=300)
    assert list(out["variant"]) == ["w", "x", "y", "z"]
    players = list(out["variant"])
    assert out["strength"].to_numpy() == pytest.approx(_independent_mle(frame, players), abs=1e-4)
    assert (out["strength_lo"] <= out["strength"]).all() and (
        out["strength"] <= out["strength_hi"]
    ).all()
    row = out.iloc[0]
    expected = proportion_confint(row["wins"], row["n"], method="wilson")
    assert (row["win_rate_lo"], row["win_rate_hi"]) == pytest.approx(expected)
    assert row["win_rate"] == pytest.approx(row["wins"] / row["n"])


def test_bootstrap_is_seeded() -> None:
    frame = _simulate({"a": 2.0, "b": 1.0, "c": 1.0}, per_pair=30, seed=1)
    pd.testing.assert_frame_equal(
        bradley_terry(frame, seed=3, n_resamples=200), bradley_terry(frame, seed=3, n_resamples=200)
    )


def test_undefeated_variant_is_noted() -> None:
    out = bradley_terry(
        _pairs([("A", "B", "left"), ("C", "B", "left"), ("A", "C", "left")]), n_resamples=50
    )
    assert out.iloc[0]["variant"] == "A"
    assert "never lost" in out.attrs["note"]
    regularised = bradley_terry(
        _pairs([("A", "B", "left"), ("A", "B", "left")]), prior=1.0, n_resamples=50
    )
    # one virtual tie per pair: A has 2 + 0.5 wins, B 0.5 -> strengths 2.5 : 0.5
    assert regularised.set_index("variant").loc["A", "strength"] == pytest.approx(2.5 / 3.0)


def test_bad_winner_value() -> None:
    with pytest.raises(AnalysisError, match=r"got 'lft'.*did you mean 'left'"):
        bradley_terry(_pairs([("A", "B", "lft")]))


def test_position_bias() -> None:
    always_left = _pairs([("A", "B", "left"), ("B", "A", "left")] * 6, rater="ann")
    fair = _pairs(
        [("A", "B", "left"), ("B", "A", "left"), ("A", "B", "right"), ("A", "B", "tie")] * 3,
        rater="bob",
    )
    out = position_bias(pd.concat([always_left, fair])).set_index("rater")
    assert out.loc["ann", "left_share"] == 1.0
    assert out.loc["ann", "n_choices"] == 12
    assert out.loc["ann", "p_value"] == pytest.approx(2 * 0.5**12)
    assert out.loc["ann", "biased"]
    assert out.loc["bob", "n_choices"] == 9  # ties are not choices
    assert out.loc["bob", "left_share"] == pytest.approx(6 / 9)
    assert not out.loc["bob", "biased"]
    lo, hi = proportion_confint(6, 9, method="wilson")
    assert (out.loc["bob", "left_share_lo"], out.loc["bob", "left_share_hi"]) == pytest.approx(
        (lo, hi)
    )
