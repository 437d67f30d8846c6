"""Guard metrics as non-inferiority tests against the champion (constructed frames, no
store): within the margin with enough pairs qualifies; too few pairs or a regression
beyond the margin is a reason, with the pairs needed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.analysis import non_inferiority
from workbench.gates import GatePolicy, evaluate
from workbench.promotion._candidates import Candidacy, _guards
from workbench.records import MetricInfo


def _rows(values: list[float], passed: list[float]) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(n)],
            "question": [f"q{i}" for i in range(n)],
            "tone": values,
            "passed": passed,
        }
    )


def _candidacy(policy: GatePolicy) -> Candidacy:
    gate = evaluate({"variant_id": "v2", "pass_rate": 1.0}, GatePolicy())
    return Candidacy("exp", "run", "v2", "two", "vrun", policy, gate, champion="1")


@pytest.mark.parametrize("n", [30, 12])
def test_a_guard_within_its_margin_holds_only_with_enough_pairs(n: int) -> None:
    rng = np.random.default_rng(1)
    champion = list(rng.uniform(0.5, 0.9, n))
    candidate = [v + d for v, d in zip(champion, rng.normal(0.0, 0.02, n), strict=True)]
    out = _candidacy(GatePolicy(guard_metrics=["tone"], guard_margins={"tone": 0.05}))
    _guards(out, _rows(champion, [1.0] * n), _rows(candidate, [1.0] * n), [MetricInfo("tone")])
    test = out.guards["tone"]
    expected = non_inferiority(champion, candidate, 0.05)
    assert test.lower == pytest.approx(expected.lower, nan_ok=True)
    if n >= 20:
        assert test.holds and out.qualifies
        assert any("no worse than the champion v1 by more than 0.05" in x for x in out.notes)
    else:
        assert not out.qualifies
        (reason,) = out.reasons
        assert "too few pairs: n=12 < 20" in reason
        assert f"about {int(expected.samples_needed)} pairs needed" in reason
    evidence = out.summary()["non_inferiority"][0]
    assert evidence["metric"] == "tone" and evidence["margin"] == 0.05
    assert evidence["holds"] == (n >= 20)


def test_a_regression_beyond_the_margin_is_a_reason_with_its_p_value() -> None:
    n = 30
    champion = [0.8] * n
    candidate = [0.6 + 0.01 * (i % 3) for i in range(n)]
    policy = GatePolicy(guard_metrics=["tone", "pass_rate"], guard_margins={"pass_rate": 0.15})
    out = _candidacy(policy)  # tone: the default margin 0.05
    _guards(
        out,
        _rows(champion, [1.0] * n),
        _rows(candidate, [1.0] * n),
        [MetricInfo("tone")],
    )
    assert [r.split(":")[0] for r in out.reasons] == ["guard metric tone"]
    assert "not shown to be no worse than the champion v1" in out.reasons[0]
    assert "p = 1" in out.reasons[0]
    # identical pass/fail, no discordant pair in 30: shown within 0.15 (not within 0.05:
    # up to ~10 % of pairs could still disagree, all one way)
    assert out.guards["pass_rate"].holds
