"""compare_grid and the Holm correction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from workbench.analysis import GRID_COLUMNS, compare_grid, holm
from workbench.records import MetricInfo

from .conftest import METRICS, tiny_frame


def test_holm_hand_computed() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01 = 0.03, 2 * 0.03 = 0.06, 1 * 0.04 -> max(0.04, 0.06)
    adjusted, reject = holm([0.01, 0.04, 0.03], alpha=0.05)
    assert adjusted == pytest.approx([0.03, 0.06, 0.06])
    assert reject.tolist() == [True, False, False]


def test_holm_leaves_nan_out_of_the_family() -> None:
    adjusted, reject = holm([0.01, np.nan, 0.04])
    assert adjusted[0] == pytest.approx(0.02) and np.isnan(adjusted[1])
    assert reject.tolist() == [True, False, True]


def test_grid_against_baseline(samples: pd.DataFrame) -> None:
    grid = compare_grid(samples, METRICS, n_resamples=500)
    ids = list(pd.unique(samples["variant_id"]))
    assert tuple(grid.columns) == GRID_COLUMNS
    assert len(grid) == (len(ids) - 1) * (len(METRICS) + 1)
    assert set(grid["a"]) == {ids[0]}  # default baseline: the first variant
    assert grid.attrs["baseline"] == ids[0]
    expected = multipletests(grid["p_value"], alpha=0.05, method="holm")
    assert grid["p_holm"].to_numpy() == pytest.approx(expected[1])
    assert grid["significant"].tolist() == expected[0].tolist()
    # the planted +0.2 from bm25 is found; toxicity (pure noise) is not
    bm25 = grid[(grid["b_label"].str.endswith("bm25")) & (grid["metric"] == "quality")]
    baseline_is_bm25 = samples.loc[samples["variant_id"] == ids[0], "retriever"].iloc[0] == "bm25"
    assert (
        bm25["verdict"] == ("no significant difference" if baseline_is_bm25 else "better")
    ).all()
    tox = grid[grid["metric"] == "toxicity"]
    assert (tox["verdict"] == "no significant difference").all()
    assert grid.loc[grid["significant"], "n_needed"].isna().all()
    assert grid.loc[~grid["significant"], "n_needed"].notna().all()


def test_grid_all_pairs(samples: pd.DataFrame) -> None:
    grid = compare_grid(samples, METRICS[:1], pairs="all", n_resamples=200)
    v = samples["variant_id"].nunique()
    assert len(grid) == v * (v - 1) // 2 * 2
    assert grid.attrs["n_tests"] == len(grid)


def test_verdict_uses_the_metric_direction() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.8, 30)
    frame = tiny_frame(
        {
            "champion": {"passed": [1] * 30, "cost": base},
            "cheaper": {"passed": [1] * 30, "cost": base - 0.1 + rng.normal(0, 0.01, 30)},
            "pricier": {"passed": [1] * 30, "cost": base + 0.1 + rng.normal(0, 0.01, 30)},
        }
    )
    grid = compare_grid(
        frame, [MetricInfo("cost", higher_is_better=False)], baseline="champion", n_resamples=500
    )
    cost = grid[grid["metric"] == "cost"].set_index("b")
    assert cost.loc["cheaper", "verdict"] == "better"
    assert cost.loc["pricier", "verdict"] == "worse"
    assert cost.loc["cheaper", "better"] == "cheaper"
    assert cost.loc["pricier", "better"] == "champion"
    passed = grid[grid["metric"] == "pass_rate"]
    assert (passed["verdict"] == "no significant difference").all()
