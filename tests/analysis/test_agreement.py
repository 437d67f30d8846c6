"""Krippendorff's alpha, Fleiss' kappa and metric-human agreement on textbook cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from workbench.analysis import (
    AnalysisError,
    fleiss_kappa,
    krippendorff_alpha,
    metric_human_agreement,
)

from .conftest import METRICS

NAN = np.nan
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", example C:
# 4 observers, 12 units, missing values. Published: nominal .743, ordinal .815,
# interval .849, ratio .797.
KRIPPENDORFF_2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    "C": [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
}
# Fleiss (1971) as reproduced on Wikipedia: 10 subjects, 14 raters, 5 categories; kappa .210
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def _long(data: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"item": i, "rater": r, "value": v}
            for r, values in data.items()
            for i, v in enumerate(values)
        ]
    )


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_textbook(level: str, published: float) -> None:
    assert krippendorff_alpha(_long(KRIPPENDORFF_2011), level) == pytest.approx(published, abs=5e-4)  # type: ignore[arg-type]


def test_krippendorff_hand_computed() -> None:
    # two raters, items (1,1) (1,2) (2,2) (2,2): coincidences o11=2, o12=o21=1, o22=4;
    # n1=3, n2=5, n=8; Do = 2/8; De = 2*3*5/(8*7) = 30/56; alpha = 1 - Do/De = 8/15
    ratings = _long({"x": [1, 1, 2, 2], "y": [1, 2, 2, 2]})
    assert krippendorff_alpha(ratings, "nominal") == pytest.approx(8 / 15)
    labels = ratings.assign(value=ratings["value"].map({1: "bad", 2: "good"}))
    assert krippendorff_alpha(labels, "nominal") == pytest.approx(8 / 15)
    with pytest.raises(AnalysisError, match="ordinal ratings must be numbers"):
        krippendorff_alpha(labels, "ordinal")


def _fleiss_long() -> pd.DataFrame:
    rows = []
    for item, counts in enumerate(FLEISS_TABLE):
        rater = 0
        for category, count in enumerate(counts):
            for _ in range(count):
                rows.append({"item": item, "rater": f"r{rater}", "value": category + 1})
                rater += 1
    return pd.DataFrame(rows)


def test_fleiss_textbook_and_library() -> None:
    kappa = fleiss_kappa(_fleiss_long())
    assert kappa == pytest.approx(0.210, abs=5e-4)
    assert kappa == pytest.approx(sm_fleiss_kappa(np.array(FLEISS_TABLE)))


def test_fleiss_needs_equal_ratings_per_item() -> None:
    ratings = _fleiss_long()
    with pytest.raises(AnalysisError, match="same number of ratings per item"):
        fleiss_kappa(ratings.iloc[1:])


def test_duplicate_rating_is_refused() -> None:
    ratings = _long({"x": [1, 2], "y": [1, 2]})
    with pytest.raises(AnalysisError, match="rater 'x' rated item '0' more than once"):
        krippendorff_alpha(pd.concat([ratings, ratings.head(1)]))


def test_metric_human_agreement(samples: pd.DataFrame) -> None:
    rng = np.random.default_rng(2)
    rated = samples.dropna(subset=["quality"]).sample(120, random_state=1)
    human = pd.DataFrame(
        {
            "item": rated["sample_id"],
            "variant": rated["variant_id"],
            "human_score": rated["quality"] * 4 + rng.normal(0, 0.3, len(rated)),
        }
    )
    out = metric_human_agreement(
        human, samples, METRICS, thresholds={"quality": 0.5}, human_threshold=2.0
    ).set_index("metric")
    expected = stats.spearmanr(rated["quality"], human["human_score"])
    assert out.loc["quality", "rho"] == pytest.approx(expected.statistic)
    assert out.loc["quality", "p_value"] == pytest.approx(expected.pvalue)
    assert out.loc["quality", "n"] == 120
    assert not out.loc["quality", "disagrees"]
    assert out.loc["toxicity", "disagrees"]  # unrelated noise
    kappa = cohen_kappa_score(rated["quality"] >= 0.5, human["human_score"] >= 2.0)
    assert out.loc["quality", "kappa"] == pytest.approx(kappa)
    assert np.isnan(out.loc["toxicity", "kappa"])  # no threshold given
    pass_kappa = cohen_kappa_score(rated["passed"] == 1, human["human_score"] >= 2.0)
    assert out.loc["pass_rate", "kappa"] == pytest.approx(pass_kappa)


def test_metric_human_agreement_lower_is_better_direction(samples: pd.DataFrame) -> None:
    rated = samples.dropna(subset=["toxicity"]).head(80)
    human = pd.DataFrame(
        {"item": rated["sample_id"], "variant": rated["variant"], "human_score": -rated["toxicity"]}
    )
    out = metric_human_agreement(human, samples, METRICS).set_index("metric")
    assert out.loc["toxicity", "rho"] == pytest.approx(-1.0)
    assert not out.loc["toxicity", "disagrees"]  # lower toxicity, higher human score: agrees
