"""Bad input raises WorkbenchError subclasses that name the offending thing."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.analysis import (
    AnalysisError,
    InsufficientDataError,
    compare_grid,
    compare_pair,
    factor_effects,
    leaderboard,
    mean_ci,
    position_bias,
    wilson_interval,
)
from workbench.errors import NotFoundError, WorkbenchError
from workbench.records import MetricInfo

from .conftest import METRICS, tiny_frame


def test_metric_not_in_frame(samples: pd.DataFrame) -> None:
    with pytest.raises(NotFoundError, match=r"metric 'qualty'.*did you mean 'quality'") as info:
        leaderboard(samples, [MetricInfo("qualty")])
    assert isinstance(info.value, WorkbenchError)


def test_missing_required_column(samples: pd.DataFrame) -> None:
    with pytest.raises(NotFoundError, match="no column 'latency_s'"):
        leaderboard(samples.drop(columns="latency_s"), METRICS)


def test_unknown_variant(samples: pd.DataFrame) -> None:
    real = samples["variant_id"].iloc[0]
    with pytest.raises(
        NotFoundError, match=f"unknown variant '{real[:-1]}x'.*did you mean '{real}'"
    ):
        compare_pair(samples, real[:-1] + "x", samples["variant_id"].iloc[-1])
    with pytest.raises(NotFoundError, match="unknown variant 'nope'"):
        compare_grid(samples, baseline="nope")


def test_too_few_paired_samples() -> None:
    frame = tiny_frame({"A": {"passed": [1.0]}, "B": {"passed": [0.0]}})
    with pytest.raises(InsufficientDataError, match="'A' and 'B' share 1 sample"):
        compare_pair(frame, "A", "B")


def test_binary_metric_with_other_values() -> None:
    frame = tiny_frame({"A": {"passed": [1, 0, 2]}, "B": {"passed": [1, 1, 1]}})
    with pytest.raises(
        AnalysisError, match=r"binary metric 'pass_rate' \(column 'passed'\) holds 2.0"
    ):
        compare_pair(frame, "A", "B")


def test_duplicate_samples_and_inconsistent_factors() -> None:
    frame = tiny_frame({"A": {"passed": [1, 0, 1]}, "B": {"passed": [1, 1, 1]}})
    with pytest.raises(AnalysisError, match="sample_id 's0' more than once"):
        compare_pair(pd.concat([frame, frame.head(1)]), "A", "B")
    mixed = frame.copy()
    mixed.loc[0, "model"] = "other"
    with pytest.raises(AnalysisError, match="variant 'A' has several levels of factor 'model'"):
        leaderboard(mixed)
    with pytest.raises(AnalysisError, match="variant 'A' has several levels of 'model'"):
        factor_effects(mixed)


def test_bad_arguments() -> None:
    with pytest.raises(AnalysisError, match="confidence must lie strictly between 0 and 1"):
        mean_ci([1.0, 2.0], confidence=95)
    with pytest.raises(AnalysisError, match="0 <= successes <= n"):
        wilson_interval(5, 3)
    frame = tiny_frame({"A": {"passed": [1, 0, 1]}, "B": {"passed": [1, 1, 1]}})
    with pytest.raises(AnalysisError, match="pairs must be 'baseline' or 'all'"):
        compare_grid(frame, pairs="every")  # type: ignore[arg-type]
    with pytest.raises(AnalysisError, match="cannot compare variant 'A' with itself"):
        compare_pair(frame, "A", "label A")
    with pytest.raises(AnalysisError, match="listed twice"):
        leaderboard(frame.assign(x=1.0), [MetricInfo("x"), MetricInfo("x")])


def test_position_bias_needs_a_rater_column() -> None:
    pairs = pd.DataFrame({"left_variant": ["A"], "right_variant": ["B"], "winner": ["left"]})
    with pytest.raises(NotFoundError, match="no column 'rater'"):
        position_bias(pairs)
