"""factor_effects recovers planted effects; its cluster bootstrap keeps the pairing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from workbench.analysis import EFFECT_COLUMNS, factor_effects, factor_importance, leaderboard
from workbench.errors import NotFoundError

from .conftest import METRICS, tiny_frame


def test_planted_retriever_effect_is_recovered(samples: pd.DataFrame) -> None:
    # the fixture plants retriever=bm25: +0.2 quality, so with two balanced levels the
    # effects are +0.1 (bm25) and -0.1 (none) around the grand mean
    effects = factor_effects(samples, METRICS, n_resamples=1000)
    assert tuple(effects.columns) == EFFECT_COLUMNS
    quality = effects[effects["metric"] == "quality"].set_index(["factor", "level"])
    for level, planted in (("bm25", 0.1), ("none", -0.1)):
        row = quality.loc[("retriever", level)]
        assert row["effect_lo"] <= planted <= row["effect_hi"]
        assert row["effect"] == pytest.approx(planted, abs=0.02)
    prompt = quality.loc["prompt"]
    assert (prompt["effect_lo"] <= 0).all() and (prompt["effect_hi"] >= 0).all()
    # factors and levels in order of appearance
    assert list(quality.index) == [
        ("prompt", "qa_terse@1"),
        ("prompt", "qa_cited@2"),
        ("model", "gemma-3-270m"),
        ("model", "smollm2-135m"),
        ("retriever", "none"),
        ("retriever", "bm25"),
    ]
    # every factor's effects average to 0 on a balanced grid
    assert quality.groupby("factor")["effect"].sum().abs().max() < 1e-12


def test_factor_importance_ranks_the_planted_factor_first(samples: pd.DataFrame) -> None:
    importance = factor_importance(factor_effects(samples, METRICS, n_resamples=200))
    quality = importance[importance["metric"] == "quality"]
    top = quality.iloc[0]
    assert (top["factor"], top["best_level"], top["worst_level"]) == ("retriever", "bm25", "none")
    assert top["importance"] == pytest.approx(0.2, abs=0.03)
    toxicity = importance[importance["metric"] == "toxicity"]
    assert list(toxicity.columns) == [
        "metric",
        "factor",
        "n_levels",
        "importance",
        "best_level",
        "worst_level",
    ]


def test_hand_computed_two_variant_effect() -> None:
    frame = tiny_frame({"none": {"passed": [1, 0, 1, 0]}, "bm25": {"passed": [1, 1, 1, 0]}})
    effects = factor_effects(frame, factors=("retriever",), n_resamples=200).set_index("level")
    # variant means 0.5 and 0.75, grand mean 0.625
    assert effects.loc["bm25", "effect"] == pytest.approx(0.125)
    assert effects.loc["none", "effect"] == pytest.approx(-0.125)
    assert effects.loc["bm25", "level_mean"] == pytest.approx(0.75)


def test_cluster_bootstrap_keeps_the_pairing(make_samples: Callable[..., pd.DataFrame]) -> None:
    # large per-sample difficulty shared by every variant, little independent noise:
    # a paired (cluster) interval for an effect is far narrower than a variant mean's CI
    frame = make_samples(seed=5, difficulty_sd=0.3, noise_sd=0.03, nan_rate=0.0, error_rate=0.0)
    effects = factor_effects(frame, METRICS[:1], n_resamples=500)
    row = effects[(effects["metric"] == "quality") & (effects["level"] == "bm25")].iloc[0]
    board = leaderboard(frame, METRICS[:1], n_resamples=500)
    variant_width = float((board["quality_hi"] - board["quality_lo"]).mean())
    assert row["effect_hi"] - row["effect_lo"] < variant_width / 5


def test_extra_factor_columns(samples: pd.DataFrame) -> None:
    frame = samples.assign(
        **{"param.temperature": np.where(samples["model"] == "gemma-3-270m", "0.0", "0.7")}
    )
    effects = factor_effects(frame, factors=("retriever", "param.temperature"), n_resamples=200)
    assert set(effects["factor"]) == {"retriever", "param.temperature"}


def test_unknown_factor(samples: pd.DataFrame) -> None:
    with pytest.raises(NotFoundError, match=r"'retreiver'.*did you mean 'retriever'"):
        factor_effects(samples, factors=("retreiver",))
