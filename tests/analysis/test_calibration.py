"""Judge-vs-human agreement per metric: Cohen's kappa at the pass threshold by hand,
never NaN when a threshold exists, and a flag only from enough ratings."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.analysis import metric_human_agreement
from workbench.records import MetricInfo


def _case(judge: list[float], human: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"s{i}" for i in range(len(judge))]
    samples = pd.DataFrame(
        {"variant_id": "v", "variant": "v", "sample_id": ids, "passed": 1.0, "judge": judge}
    )
    human_frame = pd.DataFrame({"item": ids, "variant": "v", "human_score": human})
    return human_frame, samples


def _run(judge: list[float], human: list[float], **kw: object) -> pd.Series:
    human_frame, samples = _case(judge, human)
    out = metric_human_agreement(
        human_frame,
        samples,
        [MetricInfo("judge", True)],
        thresholds={"judge": 0.5},
        human_threshold=3.0,
        **kw,  # type: ignore[arg-type]
    )
    return out.set_index("metric").loc["judge"]


def test_kappa_on_a_constructed_two_by_two_table() -> None:
    """20 answers: both pass 8, both fail 6, only the judge passes 4, only people pass 2.
    By hand: p_o = 14/20 = 0.7; the judge passes 12/20, people 10/20, so
    p_e = 0.6 * 0.5 + 0.4 * 0.5 = 0.5 and kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4."""
    judge = [0.9] * 8 + [0.1] * 6 + [0.9] * 4 + [0.1] * 2
    human = [5.0] * 8 + [1.0] * 6 + [1.0] * 4 + [5.0] * 2
    row = _run(judge, human, min_n=20, min_kappa=0.4)
    assert row["kappa"] == pytest.approx(0.4)
    assert row["threshold"] == 0.5 and row["n"] == 20
    assert row["calibrated"] and not row["disagrees"]
    assert _run(judge, human, min_n=20, min_kappa=0.5)["disagrees"]


def test_kappa_is_one_not_nan_when_every_verdict_is_the_same_class() -> None:
    row = _run([0.9] * 25, [5.0] * 25, min_n=20)
    assert row["kappa"] == 1.0 and row["calibrated"]


def test_a_metric_is_not_flagged_on_too_few_ratings() -> None:
    judge = [0.9, 0.1] * 5  # the judge says the opposite of people
    human = [1.0, 5.0] * 5
    few = _run(judge, human, min_n=20)
    assert few["kappa"] == pytest.approx(-1.0)
    assert not few["disagrees"] and not few["calibrated"]
    assert "n=10 < 20" in few["note"]
    assert _run(judge * 2, human * 2, min_n=20)["disagrees"]
