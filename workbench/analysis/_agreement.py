"""Agreement between raters, and between automatic metrics and human scores."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats import inter_rater

from workbench.analysis._errors import AnalysisError, InsufficientDataError
from workbench.analysis._frame import (
    PASS_RATE,
    check_confidence,
    metric_column,
    metric_values,
    require_columns,
    resolve_metrics,
    resolve_variant,
)
from workbench.records import MetricInfo

__all__ = [
    "MIN_KAPPA",
    "MIN_RATINGS",
    "fleiss_kappa",
    "krippendorff_alpha",
    "metric_human_agreement",
]

MIN_RATINGS = 20
"""Fewest matched ratings before a metric is flagged or called calibrated."""
MIN_KAPPA = 0.4
"""Cohen's kappa a judge metric must reach (0.41-0.60 is "moderate", Landis & Koch 1977)."""

Level = Literal["nominal", "ordinal", "interval", "ratio"]


def _check_long(ratings: pd.DataFrame, item: str, rater: str, value: str) -> pd.DataFrame:
    require_columns(ratings, [item, rater, value], what="ratings")
    rated = ratings[[item, rater, value]].dropna(subset=[value])
    dup = rated.duplicated([item, rater])
    if dup.any():
        row = rated.loc[dup].iloc[0]
        raise AnalysisError(f"rater '{row[rater]}' rated item '{row[item]}' more than once")
    if rated.empty:
        raise InsufficientDataError("the ratings frame holds no ratings")
    return rated


def krippendorff_alpha(
    ratings: pd.DataFrame,
    level: Level = "ordinal",
    *,
    item: str = "item",
    rater: str = "rater",
    value: str = "value",
) -> float:
    """Return Krippendorff's alpha of long-form ratings (one row per item x rater).

    Computed by the ``krippendorff`` package on the rater x item reliability matrix
    (missing ratings allowed). Nominal values may be any labels; ordinal, interval and
    ratio values must be numbers (ordinal uses their order). NaN when there is no
    disagreement to measure (a single value overall).
    """
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise AnalysisError(
            f"unknown level of measurement {level!r} (nominal, ordinal, interval, ratio)"
        )
    rated = _check_long(ratings, item, rater, value).copy()
    if level == "nominal" and not pd.api.types.is_numeric_dtype(rated[value]):
        rated[value] = pd.factorize(rated[value], sort=True)[0].astype(float)
    elif not pd.api.types.is_numeric_dtype(rated[value]):
        raise AnalysisError(f"{level} ratings must be numbers; column '{value}' is not numeric")
    import krippendorff  # imported on use: keeps `import workbench.analysis` light

    matrix = rated.pivot(index=rater, columns=item, values=value).to_numpy(dtype=float)
    if (~np.isnan(matrix)).sum(axis=0).max() < 2:
        raise InsufficientDataError("Krippendorff's alpha needs an item rated by at least 2 raters")
    if np.unique(matrix[~np.isnan(matrix)]).size < 2:
        return math.nan
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))


def fleiss_kappa(
    ratings: pd.DataFrame, *, item: str = "item", rater: str = "rater", value: str = "value"
) -> float:
    """Return Fleiss' kappa of long-form categorical ratings (``statsmodels``).

    Every item must carry the same number of ratings (Fleiss' design); raters need not
    be the same people across items.
    """
    rated = _check_long(ratings, item, rater, value)
    per_item = rated.groupby(item, sort=False).size()
    if per_item.nunique() != 1:
        raise AnalysisError(
            "Fleiss' kappa needs the same number of ratings per item; "
            f"item '{per_item.idxmin()}' has {per_item.min()}, item '{per_item.idxmax()}' has {per_item.max()}"
        )
    codes = pd.factorize(rated[value], sort=True)[0]
    wide = (
        rated.assign(_code=codes)
        .assign(_n=rated.groupby(item, sort=False).cumcount())
        .pivot(index=item, columns="_n", values="_code")
    )
    table, _ = inter_rater.aggregate_raters(wide.to_numpy(dtype=int), n_cat=int(codes.max()) + 1)
    return float(inter_rater.fleiss_kappa(table, method="fleiss"))


def _kappa(judge: np.ndarray, human: np.ndarray) -> float:
    """Cohen's kappa of two verdict vectors (``sklearn``); 1 when both are one same class
    (observed and chance agreement are then both 1: 0/0, but nothing disagrees)."""
    from sklearn.metrics import cohen_kappa_score  # imported on use (heavy)

    if np.unique(np.concatenate([judge, human])).size == 1:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(cohen_kappa_score(judge, human))


def _verdict(values: np.ndarray, threshold: float, higher_is_better: bool) -> np.ndarray:
    return values >= threshold if higher_is_better else values <= threshold


def metric_human_agreement(
    human: pd.DataFrame,
    samples: pd.DataFrame,
    metrics: Sequence[MetricInfo] = (),
    *,
    thresholds: Mapping[str, float] | None = None,
    human_threshold: float | None = None,
    alpha: float = 0.05,
    min_n: int = MIN_RATINGS,
    min_kappa: float = MIN_KAPPA,
) -> pd.DataFrame:
    """Return one row per metric: does it rank answers the way humans do?

    ``human`` has ``item`` (a sample_id), ``variant`` (a variant_id or unique label)
    and ``human_score`` (higher = better); several ratings of one answer are averaged.
    Columns: ``metric``, ``higher_is_better``, ``n`` (matched answers with a score),
    ``rho`` / ``p_value`` (``scipy.stats.spearmanr`` of the raw metric against the human
    score), ``kappa`` (``sklearn`` Cohen's kappa of the metric's verdict against the human
    verdict ``human_score >= human_threshold``; the metric passes at
    ``>= thresholds[m]``, or ``<=`` when lower is better, and ``pass_rate`` uses ``passed``;
    NaN only without a threshold or a match; when every verdict on both sides is the same
    class, kappa's chance term is 0/0 and it is taken as 1: full agreement), ``threshold``,
    ``calibrated`` (``n >= min_n`` and ``kappa >= min_kappa``), ``disagrees`` (a flag,
    only once ``n >= min_n``: kappa below ``min_kappa``, or without a kappa, rho not
    pointing the metric's way at ``p_value < alpha``) and ``note``.
    """
    check_confidence(alpha, name="alpha")
    require_columns(human, ["item", "variant", "human_score"], what="human ratings")
    require_columns(samples, ["variant_id", "sample_id"])
    infos = resolve_metrics(samples, metrics)
    thresholds = dict(thresholds or {})
    names = {i.name for i in infos}
    for name in thresholds:
        if name not in names:
            raise AnalysisError(f"threshold given for metric '{name}', which is not in metrics")
    if thresholds and human_threshold is None:
        raise AnalysisError("thresholds need a human_threshold to turn human scores into verdicts")
    ids = {v: resolve_variant(samples, str(v)) for v in pd.unique(human["variant"])}
    rated = (
        human.assign(variant_id=human["variant"].map(ids), sample_id=human["item"])
        .groupby(["variant_id", "sample_id"], as_index=False)["human_score"]
        .mean()
    )
    columns = list(dict.fromkeys(metric_column(i) for i in infos))
    joined = rated.merge(
        samples[["variant_id", "sample_id", *columns]], on=["variant_id", "sample_id"]
    )
    if joined.empty:
        raise InsufficientDataError("no human rating matches a (sample_id, variant_id) in samples")
    rows = []
    for info in infos:
        metric = metric_values(joined, info)
        score = joined["human_score"].to_numpy(dtype=float)
        keep = ~(np.isnan(metric) | np.isnan(score))
        metric, score = metric[keep], score[keep]
        n = int(keep.sum())
        rho, p, kappa, note = math.nan, math.nan, math.nan, ""
        if n < 3:
            note = f"only {n} matched answer(s)"
        elif np.ptp(metric) == 0 or np.ptp(score) == 0:
            note = "constant scores: no rank correlation"
        else:
            result = stats.spearmanr(metric, score)
            rho, p = float(result.statistic), float(result.pvalue)
        threshold = 0.5 if info.name == PASS_RATE else thresholds.get(info.name)
        if human_threshold is not None and threshold is not None and n:
            kappa = _kappa(
                _verdict(metric, threshold, info.higher_is_better), score >= human_threshold
            )
        aligned = rho if info.higher_is_better else -rho
        # with a kappa, agreement is judged on it; without, on the rank correlation
        below = not (aligned > 0 and p < alpha) if math.isnan(kappa) else kappa < min_kappa
        if n < min_n:
            note = "; ".join(x for x in (note, f"n={n} < {min_n}: too few to judge") if x)
        rows.append(
            {
                "metric": info.name,
                "higher_is_better": info.higher_is_better,
                "n": n,
                "rho": rho,
                "p_value": p,
                "kappa": kappa,
                "threshold": math.nan if threshold is None else float(threshold),
                "calibrated": n >= min_n and not math.isnan(kappa) and kappa >= min_kappa,
                "disagrees": n >= min_n and below,
                "note": note,
            }
        )
    return pd.DataFrame(rows)
