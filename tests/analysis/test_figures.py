"""Figures: the right traces and points, plain-word titles, escaped hover text."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import plotly.graph_objects as go
import pytest

from workbench.analysis import (
    bradley_terry,
    compare_grid,
    factor_effects,
    leaderboard,
    pareto_front,
)
from workbench.analysis import figures as fig

from .conftest import METRICS, build_samples


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    samples = build_samples(n_samples=30, effects={"retriever=bm25": 0.2})
    samples.loc[0, "answer"] = "<script>alert('x')</script> & <b>bold</b>\nline two " + "y" * 500
    return samples


@pytest.fixture(scope="module")
def board(frame: pd.DataFrame) -> pd.DataFrame:
    return leaderboard(frame, METRICS, n_resamples=200)


def _titled(figure: go.Figure) -> None:
    assert (
        figure.layout.title.text
        and figure.layout.xaxis.title.text
        and figure.layout.yaxis.title.text
    )
    assert "_" not in figure.layout.xaxis.title.text


def test_leaderboard_bars(board: pd.DataFrame) -> None:
    figure = fig.leaderboard_bars(board, "quality")
    assert isinstance(figure, go.Figure)
    assert len(figure.data) == 1 and len(figure.data[0].x) == len(board)
    bar = figure.data[0]
    top = board.iloc[0]  # drawn last (top of a horizontal bar chart)
    assert bar.x[-1] == pytest.approx(top["quality"])
    assert bar.error_x.array[-1] == pytest.approx(top["quality_hi"] - top["quality"])
    assert bar.error_x.arrayminus[-1] == pytest.approx(top["quality"] - top["quality_lo"])
    _titled(figure)


def test_forest_plot_highlights_significant(frame: pd.DataFrame) -> None:
    grid = compare_grid(frame, METRICS, n_resamples=200)
    figure = fig.forest_plot(grid, metric="quality")
    rows = grid[grid["metric"] == "quality"]
    names = [trace.name for trace in figure.data]
    assert sum(len(trace.x) for trace in figure.data) == len(rows)
    assert len(figure.data) == rows["significant"].nunique()
    significant = figure.data[names.index("Significant")]
    assert len(significant.x) == int(rows["significant"].sum())
    assert significant.marker.color == fig.HIGHLIGHT
    _titled(figure)


def test_pareto_scatter(board: pd.DataFrame) -> None:
    front = pareto_front(board)
    figure = fig.pareto_scatter(front)
    by_name = {trace.name: trace for trace in figure.data}
    assert len(by_name["Pareto front"].x) == int(front["pareto"].sum())
    assert "lines" in by_name["Pareto front"].mode
    assert sum(len(t.x) for t in figure.data) == len(board)
    _titled(figure)


def test_pareto_scatter_skips_infinite_cost(board: pd.DataFrame) -> None:
    broken = board.copy()
    broken.loc[0, "cost_per_success"] = float("inf")
    figure = fig.pareto_scatter(broken)
    assert sum(len(t.x) for t in figure.data) == len(board) - 1
    assert "1 variant(s) not shown" in figure.layout.annotations[0].text


def test_factor_effects_plot(frame: pd.DataFrame) -> None:
    effects = factor_effects(frame, METRICS, n_resamples=200)
    figure = fig.factor_effects_plot(effects, "quality")
    assert len(figure.data) == 3  # prompt, model, retriever
    assert [len(trace.x) for trace in figure.data] == [2, 2, 2]
    _titled(figure)


def test_sample_heatmap_escapes_hover_text(frame: pd.DataFrame) -> None:
    figure = fig.sample_heatmap(frame, "passed", max_chars=100)
    heat = figure.data[0]
    assert len(figure.data) == 1
    assert (
        len(heat.x) == frame["variant_id"].nunique() and len(heat.y) == frame["sample_id"].nunique()
    )
    first = heat.text[0][0]
    assert (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;<br>line two"
        in first
    )
    assert "<script>" not in first and "<b>bold" not in first
    assert "y" * 100 not in first and "…" in first  # truncated
    assert "Question 0?" in first and "Reference 0" in first
    _titled(figure)


def test_sample_heatmap_of_a_metric(frame: pd.DataFrame) -> None:
    figure = fig.sample_heatmap(frame, "quality")
    z = figure.data[0].z
    assert len(z) == frame["sample_id"].nunique() and len(z[0]) == frame["variant_id"].nunique()


def test_bradley_terry_plot() -> None:
    pairs = pd.DataFrame(
        {
            "left_variant": ["A", "B", "C", "A", "C"],
            "right_variant": ["B", "C", "A", "C", "B"],
            "winner": ["left", "left", "right", "tie", "right"],
        }
    )
    strengths = bradley_terry(pairs, n_resamples=100)
    figure = fig.bradley_terry_plot(strengths)
    assert len(figure.data) == 1 and len(figure.data[0].x) == 3
    assert figure.data[0].y[-1] == strengths.iloc[0]["variant"]  # strongest on top
    _titled(figure)


def test_safe_text() -> None:
    assert fig.safe_text("<i>x</i>") == "&lt;i&gt;x&lt;/i&gt;"
    assert fig.safe_text("a & b" + "z" * 10, max_chars=6) == "a &amp; b…"
    assert fig.safe_text(None) == "" and fig.safe_text(float("nan")) == ""


def test_importing_analysis_does_not_import_plotly() -> None:
    code = "import sys, workbench.analysis; print('plotly' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
