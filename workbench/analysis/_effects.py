"""Which factor (prompt, model, retriever, ...) moves a metric, and by how much.

A level's effect is the mean, over the variants at that level, of the variant means,
minus the grand mean over all variants. On a full factorial grid this is the classic
main effect; on an unbalanced grid it is a marginal mean over the variants present, not
an ANOVA estimate. CIs come from a cluster bootstrap over ``sample_id``: each replicate
redraws whole samples, so every variant is re-scored on the same draw and the paired
structure (hard questions are hard for every variant) is kept.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from workbench.analysis._errors import AnalysisError
from workbench.analysis._frame import (
    DEFAULT_FACTORS,
    check_confidence,
    metric_values,
    require_columns,
    resolve_metrics,
)
from workbench.records import MetricInfo

__all__ = ["EFFECT_COLUMNS", "factor_effects", "factor_importance"]

EFFECT_COLUMNS: tuple[str, ...] = (
    "metric",
    "higher_is_better",
    "factor",
    "level",
    "n_variants",
    "level_mean",
    "effect",
    "effect_lo",
    "effect_hi",
    "ci_method",
)


def _effects_for_metric(
    samples: pd.DataFrame,
    info: MetricInfo,
    factors: Sequence[str],
    *,
    confidence: float,
    seed: int,
    n_resamples: int,
) -> list[dict[str, object]]:
    frame = samples[["variant_id", "sample_id", *factors]].copy()
    frame["value"] = metric_values(samples, info)
    values = frame.pivot(index="variant_id", columns="sample_id", values="value")
    values = values.reindex(pd.unique(frame["variant_id"]))  # order of appearance
    values = values[values.notna().any(axis=1)]  # variants never scored on this metric
    if values.empty:
        return []
    levels = frame.drop_duplicates("variant_id").set_index("variant_id").loc[values.index]
    filled = np.nan_to_num(values.to_numpy(dtype=float), nan=0.0)
    scored = values.notna().to_numpy(dtype=float)
    n_variants = len(values)

    keys: list[tuple[str, object]] = []
    rows_c = []
    for factor in factors:
        for level in pd.unique(levels[factor]):
            at_level = (levels[factor] == level).to_numpy(dtype=float)
            rows_c.append(at_level / at_level.sum() - 1.0 / n_variants)
            keys.append((factor, level))
    contrast = np.vstack(rows_c)  # (levels, variants): effect = contrast @ variant means

    def statistic(idx: npt.NDArray[np.float64], axis: int = -1) -> npt.NDArray[np.float64]:
        take = np.asarray(idx, dtype=np.intp)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = filled[:, take].sum(axis=-1) / scored[:, take].sum(axis=-1)
        return np.tensordot(contrast, means, axes=(1, 0))

    positions = np.arange(values.shape[1], dtype=float)
    point = statistic(positions)
    lo = hi = np.full(len(keys), np.nan)
    ci_method = "no interval (fewer than 3 samples)"
    if values.shape[1] >= 3:
        for method, label in (
            ("BCa", "cluster bootstrap BCa"),
            ("percentile", "cluster bootstrap percentile"),
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = stats.bootstrap(
                    (positions,),
                    statistic,
                    n_resamples=n_resamples,
                    vectorized=True,
                    batch=max(1, 2_000_000 // (n_variants * values.shape[1])),
                    confidence_level=confidence,
                    method=method,
                    rng=np.random.default_rng(seed),
                )
            lo = np.atleast_1d(result.confidence_interval.low)
            hi = np.atleast_1d(result.confidence_interval.high)
            ci_method = label
            if np.isfinite(lo).all() and np.isfinite(hi).all():
                break
    grand = float(np.mean(filled.sum(axis=1) / scored.sum(axis=1)))
    rows = []
    for i, (factor, level) in enumerate(keys):
        rows.append(
            {
                "metric": info.name,
                "higher_is_better": info.higher_is_better,
                "factor": factor,
                "level": level,
                "n_variants": int((levels[factor] == level).sum()),
                "level_mean": grand + float(point[i]),
                "effect": float(point[i]),
                "effect_lo": float(lo[i]),
                "effect_hi": float(hi[i]),
                "ci_method": ci_method,
            }
        )
    return rows


def factor_effects(
    samples: pd.DataFrame,
    metrics: Sequence[MetricInfo] = (),
    *,
    factors: Sequence[str] = DEFAULT_FACTORS,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 2000,
) -> pd.DataFrame:
    """Return one row per (metric, factor, level): the level's effect with a cluster-bootstrap CI.

    ``effect`` = mean of the variant means at that level minus the grand mean of the
    variant means (so a factor's effects average to 0 over its levels on a balanced grid);
    ``level_mean`` = grand mean + effect. ``effect_lo``/``effect_hi``: seeded
    ``scipy.stats.bootstrap`` over ``sample_id`` (BCa, percentile if BCa is undefined).
    NaN scores are left out of each variant's mean. Columns: :data:`EFFECT_COLUMNS`,
    ``pass_rate`` first, factors and levels in order of appearance.
    """
    check_confidence(confidence)
    factors = list(factors)
    if not factors:
        raise AnalysisError("factor_effects needs at least one factor")
    require_columns(samples, ["variant_id", "sample_id", *factors])
    infos = resolve_metrics(samples, metrics)
    dup = samples.duplicated(["variant_id", "sample_id"])
    if dup.any():
        first = samples.loc[dup, ["variant_id", "sample_id"]].iloc[0]
        raise AnalysisError(
            f"variant '{first['variant_id']}' has sample_id '{first['sample_id']}' more than once"
        )
    for factor in factors:
        per_variant = samples.groupby("variant_id", sort=False)[factor].nunique(dropna=False)
        if (per_variant > 1).any():
            raise AnalysisError(
                f"variant '{per_variant[per_variant > 1].index[0]}' has several levels of '{factor}'"
            )
    rows: list[dict[str, object]] = []
    for info in infos:
        rows.extend(
            _effects_for_metric(
                samples, info, factors, confidence=confidence, seed=seed, n_resamples=n_resamples
            )
        )
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


def factor_importance(effects: pd.DataFrame) -> pd.DataFrame:
    """Return one row per (metric, factor): how far apart its levels' effects are.

    Columns: ``metric``, ``factor``, ``n_levels``, ``importance`` (largest minus smallest
    level effect, in the metric's units), ``best_level`` and ``worst_level`` (in the
    metric's direction). Sorted by metric, then importance, largest first.
    """
    require_columns(
        effects, ["metric", "higher_is_better", "factor", "level", "effect"], what="effects"
    )
    rows = []
    for (metric, factor), group in effects.groupby(["metric", "factor"], sort=False):
        ordered = group.sort_values("effect", ascending=not bool(group["higher_is_better"].iloc[0]))
        rows.append(
            {
                "metric": metric,
                "factor": factor,
                "n_levels": len(group),
                "importance": float(group["effect"].max() - group["effect"].min())
                if len(group)
                else math.nan,
                "best_level": ordered["level"].iloc[0],
                "worst_level": ordered["level"].iloc[-1],
            }
        )
    out = pd.DataFrame(
        rows, columns=["metric", "factor", "n_levels", "importance", "best_level", "worst_level"]
    )
    order = {m: i for i, m in enumerate(pd.unique(effects["metric"]))}
    out["_order"] = out["metric"].map(order)
    return (
        out.sort_values(["_order", "importance"], ascending=[True, False], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )
