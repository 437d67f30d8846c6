"""From the Ratings page's metric agreement to the gates' per-metric calibration."""

from __future__ import annotations

import pandas as pd

from workbench.gates import Calibration, GatePolicy, evaluate
from workbench.ratings import _summary
from workbench.records import MetricInfo


def test_calibration_reads_kappa_and_n_of_one_criterion() -> None:
    table = pd.DataFrame(
        [
            {"metric": "faithfulness", "human": "correctness", "kappa": 0.55, "n": 40},
            {"metric": "faithfulness", "human": "helpfulness", "kappa": 0.1, "n": 40},
        ]
    )
    assert _summary.calibration(table) == {"faithfulness": Calibration(0.55, 40)}
    assert _summary.calibration(None) == {}
    row = {"variant_id": "v", "n": 40, "faithfulness": 0.9, "faithfulness_lb": 0.85}
    policy = GatePolicy(
        metrics={"faithfulness": ">= 0.5"}, judge_calibration={"uncalibrated": "fail"}
    )
    calibrated = evaluate(row, policy, calibration=_summary.calibration(table))
    uncalibrated = evaluate(row, policy, calibration=_summary.calibration(table, "helpfulness"))
    assert calibrated.passed and not uncalibrated.passed
    assert uncalibrated.rules[-1].status == "uncalibrated"


def test_a_bounded_metric_without_a_threshold_is_judged_at_one_half() -> None:
    samples = pd.DataFrame({"score": [0.1, 0.9, 0.4], "latency": [1.0, 3.0, 2.0]})
    metrics = [MetricInfo("score"), MetricInfo("latency", False)]
    assert _summary._thresholds(samples, metrics, None) == {"score": 0.5}
    assert _summary._thresholds(samples, metrics, {"latency": 2.5}) == {
        "score": 0.5,
        "latency": 2.5,
    }
