"""From stored ratings to the numbers on the Ratings page, all via ``workbench.analysis``.

The input is the tidy frame of :func:`workbench.tracking.feedback.load_ratings`: one row
per (rating, answer) with ``item, rater, variant, side, outcome, correctness,
helpfulness, comment, time, rating_id, sample_id, opponent``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.ratings._types import RUBRIC, RatingError

if TYPE_CHECKING:
    import pandas as pd

    from workbench.gates import Calibration
    from workbench.records import MetricInfo

__all__ = [
    "HUMAN_THRESHOLDS",
    "RATING_COLUMNS",
    "RatingsSummary",
    "agreement_table",
    "calibration",
    "human_scores",
    "pairwise_frame",
    "summarize",
]

RATING_COLUMNS: tuple[str, ...] = (
    "item",
    "rater",
    "variant",
    "side",
    "outcome",
    "correctness",
    "helpfulness",
    "comment",
    "time",
    "rating_id",
    "round",
    "sample_id",
    "trace_id",
    "opponent",
    "opponent_trace",
    "valid",
)
_WINNER = {"win": "left", "loss": "right", "tie": "tie", "both_bad": "both_bad"}
# A human "score" per answer for metric-human agreement, and where a human calls it good.
HUMAN_THRESHOLDS = {"correctness": 4.0, "helpfulness": 4.0, "preference": 0.5}
_PREFERENCE_SCORE = {"win": 1.0, "tie": 0.5, "loss": 0.0, "both_bad": 0.0}


def _require(ratings: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in ratings.columns]
    if missing:
        raise RatingError(f"the ratings frame has no column '{missing[0]}'")


def pairwise_frame(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per rating: ``item, rater, rating_id, sample_id, left_variant, right_variant,
    winner`` (``left | right | tie | both_bad``), the input of ``bradley_terry`` and
    ``position_bias``. A rating with only one side stored (a write still in progress) is
    left out and counted in ``attrs["incomplete"]``."""
    import pandas as pd

    _require(ratings, ["item", "rater", "rating_id", "variant", "side", "outcome"])
    left = ratings[ratings["side"] == "left"].drop_duplicates("rating_id").set_index("rating_id")
    right = ratings[ratings["side"] == "right"].drop_duplicates("rating_id").set_index("rating_id")
    both = left.index.intersection(right.index, sort=False)
    out = pd.DataFrame(
        {
            "item": left.loc[both, "item"].astype(str),
            "rater": left.loc[both, "rater"].astype(str),
            "rating_id": [str(r) for r in both],
            "sample_id": left.loc[both, "sample_id"].astype(str)
            if "sample_id" in left.columns
            else "",
            "left_variant": left.loc[both, "variant"].astype(str),
            "right_variant": right.loc[both, "variant"].astype(str),
            "winner": left.loc[both, "outcome"].map(_WINNER),
        }
    ).reset_index(drop=True)
    bad = out["winner"].isna()
    if bad.any():
        raise RatingError(f"rating {out.loc[bad, 'rating_id'].iloc[0]} has an unknown outcome")
    out.attrs["incomplete"] = len(set(left.index) ^ set(right.index))
    return out


def _preference_units(pairwise: pd.DataFrame) -> pd.DataFrame:
    """Preference per (item, rater) from the item's own point of view (``a`` = lower id)."""
    a = pairwise[["left_variant", "right_variant"]].min(axis=1)
    winner_variant = pairwise["left_variant"].where(
        pairwise["winner"] == "left", pairwise["right_variant"]
    )
    value = winner_variant.eq(a).map({True: "a", False: "b"})
    value = value.where(pairwise["winner"].isin(["left", "right"]), pairwise["winner"])
    return pairwise.assign(value=value)[["item", "rater", "value"]]


def _rubric_units(ratings: pd.DataFrame, criterion: str) -> pd.DataFrame:
    units = ratings.assign(unit=ratings["item"].astype(str) + "/" + ratings["variant"].astype(str))
    units = units.drop_duplicates(["unit", "rater"], keep="last")
    return units.rename(columns={criterion: "value"})[["unit", "rater", "value"]].rename(
        columns={"unit": "item"}
    )


def _alpha_and_kappa(units: pd.DataFrame, level: str) -> dict[str, object]:
    from workbench import analysis

    counts = units.groupby("item")["rater"].nunique()
    shared = counts[counts >= 2]
    row: dict[str, object] = {
        "alpha": math.nan,
        "fleiss_kappa": math.nan,
        "units": len(shared),
        "ratings": len(units),
        "raters": int(units["rater"].nunique()),
        "note": "",
    }
    if shared.empty:
        row["note"] = "no unit has 2 raters yet"
        return row
    try:
        row["alpha"] = analysis.krippendorff_alpha(units, level)  # type: ignore[arg-type]
    except analysis.AnalysisError as exc:
        row["note"] = str(exc)
    if math.isnan(float(row["alpha"])) and not row["note"]:  # type: ignore[arg-type]
        row["note"] = "every rating has the same value: no disagreement to measure"
    # Fleiss' design: the same number of raters per unit; use the most common count.
    m = int(shared.mode().max())
    same = units[units["item"].isin(shared[shared == m].index)]
    try:
        with warnings.catch_warnings():  # a single category: statsmodels divides 0 by 0 (NaN)
            warnings.simplefilter("ignore", RuntimeWarning)
            row["fleiss_kappa"] = analysis.fleiss_kappa(same)
        if len(same["item"].unique()) < len(shared):
            row["note"] = (
                str(row["note"]) + "; " if row["note"] else ""
            ) + f"Fleiss' kappa over the {same['item'].nunique()} units with {m} raters"
    except (analysis.AnalysisError, ValueError, ZeroDivisionError) as exc:
        row["note"] = str(row["note"]) or str(exc)
    return row


def agreement_table(ratings: pd.DataFrame, pairwise: pd.DataFrame | None = None) -> pd.DataFrame:
    """Inter-rater agreement per criterion and pooled: Krippendorff's alpha and Fleiss' kappa.

    Units: the item for ``preference`` (nominal: a / b / tie / both_bad from the item's
    point of view), the answer within the item for ``correctness`` and ``helpfulness``
    (ordinal 1-5); ``all criteria`` pools every (unit, criterion) as nominal values.
    """
    import pandas as pd

    pairwise = pairwise_frame(ratings) if pairwise is None else pairwise
    frames = {"preference": (_preference_units(pairwise), "nominal")}
    for criterion in RUBRIC:
        frames[criterion] = (
            _rubric_units(ratings.dropna(subset=[criterion]), criterion),
            "ordinal",
        )
    pooled = pd.concat(
        [
            units.assign(
                item=criterion + ":" + units["item"].astype(str), value=units["value"].astype(str)
            )
            for criterion, (units, _) in frames.items()
        ],
        ignore_index=True,
    )
    rows = []
    for criterion, (units, level) in [*frames.items(), ("all criteria", (pooled, "nominal"))]:
        if criterion in RUBRIC:
            units = units.assign(value=units["value"].astype(float))
        rows.append({"criterion": criterion, "level": level, **_alpha_and_kappa(units, level)})
    return pd.DataFrame(rows)


def human_scores(ratings: pd.DataFrame, criterion: str = "correctness") -> pd.DataFrame:
    """``item`` (sample id), ``variant``, ``human_score`` per rated answer, the input of
    ``metric_human_agreement``; ``preference`` scores win 1, tie 0.5, loss and both bad 0."""
    if criterion == "preference":
        score = ratings["outcome"].map(_PREFERENCE_SCORE)
    elif criterion in RUBRIC:
        score = ratings[criterion].astype(float)
    else:
        raise RatingError(f"unknown criterion '{criterion}' (preference, correctness, helpfulness)")
    frame = ratings.assign(human_score=score)[["sample_id", "variant", "human_score"]]
    return frame.rename(columns={"sample_id": "item"}).dropna(subset=["human_score"])


def _thresholds(
    samples: pd.DataFrame, metrics: Sequence[MetricInfo], given: Mapping[str, float] | None
) -> dict[str, float]:
    """The pass threshold per metric: ``given``, else 0.5 for values within [0, 1]."""
    import numpy as np

    out: dict[str, float] = {}
    for info in metrics:
        if given is not None and info.name in given:
            out[info.name] = float(given[info.name])
        elif info.name in samples.columns and info.name != "pass_rate":
            values = samples[info.name].to_numpy(dtype=float)
            values = values[~np.isnan(values)]
            if values.size and values.min() >= 0 and values.max() <= 1:
                out[info.name] = 0.5
    return out


def calibration(
    metric_agreement: pd.DataFrame | None, criterion: str = "correctness"
) -> dict[str, Calibration]:
    """Per metric, Cohen's kappa against people and its n (the gates' ``calibration``)."""
    from workbench.gates import Calibration

    if metric_agreement is None or metric_agreement.empty:
        return {}
    rows = metric_agreement[metric_agreement["human"] == criterion]
    return {
        str(r["metric"]): Calibration(float(r["kappa"]), int(r["n"]))
        for r in rows.to_dict(orient="records")
    }


@dataclass
class RatingsSummary:
    """Everything the Ratings page shows; each frame comes from ``workbench.analysis``."""

    n_ratings: int
    n_raters: int
    n_items: int
    pairwise: pd.DataFrame
    strengths: pd.DataFrame | None = None
    agreement: pd.DataFrame | None = None
    position: pd.DataFrame | None = None
    metric_agreement: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def summarize(
    ratings: pd.DataFrame,
    samples: pd.DataFrame | None = None,
    metrics: Sequence[MetricInfo] = (),
    *,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 1000,
    thresholds: Mapping[str, float] | None = None,
    min_ratings: int | None = None,
    min_kappa: float | None = None,
) -> RatingsSummary:
    """Win rates (Wilson) and Bradley-Terry strengths per variant, agreement per criterion,
    each rater's position bias and, given the run's ``samples``, how well every automatic
    metric agrees with the human scores (per criterion, ``human`` column).

    Cohen's kappa is taken at each metric's pass threshold: ``thresholds`` (the policy's
    or the experiment's), else 0.5 for a metric whose values lie in [0, 1] (the
    ``threshold`` column says which). A metric is flagged (``disagrees``) only from
    ``min_ratings`` matched ratings and below ``min_kappa`` (defaults:
    :data:`workbench.analysis.MIN_RATINGS`, :data:`~workbench.analysis.MIN_KAPPA`)."""
    import pandas as pd

    from workbench import analysis

    pairwise = pairwise_frame(ratings) if len(ratings) else pd.DataFrame()
    summary = RatingsSummary(
        n_ratings=len(pairwise),
        n_raters=int(pairwise["rater"].nunique()) if len(pairwise) else 0,
        n_items=int(pairwise["item"].nunique()) if len(pairwise) else 0,
        pairwise=pairwise,
    )
    if pairwise.empty:
        summary.notes.append("no ratings yet")
        return summary
    if pairwise.attrs.get("incomplete"):
        summary.notes.append(
            f"{pairwise.attrs['incomplete']} rating(s) are being written and are not counted yet"
        )
    summary.strengths = analysis.bradley_terry(
        pairwise, confidence=confidence, seed=seed, n_resamples=n_resamples
    )
    if note := summary.strengths.attrs.get("note"):
        summary.notes.append(str(note))
    summary.agreement = agreement_table(ratings, pairwise)
    summary.position = analysis.position_bias(pairwise, alpha=1 - confidence)
    if samples is not None and len(samples):
        current = ratings[ratings["rating_id"].isin(pairwise["rating_id"])]
        frames = []
        for criterion in ("correctness", "helpfulness", "preference"):
            try:
                frame = analysis.metric_human_agreement(
                    human_scores(current, criterion),
                    samples,
                    metrics,
                    thresholds=_thresholds(samples, metrics, thresholds),
                    human_threshold=HUMAN_THRESHOLDS[criterion],
                    alpha=1 - confidence,
                    min_n=analysis.MIN_RATINGS if min_ratings is None else min_ratings,
                    min_kappa=analysis.MIN_KAPPA if min_kappa is None else min_kappa,
                )
            except analysis.InsufficientDataError as exc:
                summary.notes.append(f"metric-human agreement ({criterion}): {exc}")
                continue
            frames.append(frame.assign(human=criterion))
        if frames:
            summary.metric_agreement = pd.concat(frames, ignore_index=True)
    return summary
