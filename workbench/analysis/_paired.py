"""Paired comparison of two variants on the samples both have answered.

Per metric: means, the mean paired difference ``b - a`` with its CI (Tango's score
interval for 0/1 metrics, t on the differences otherwise, NaN below ``MIN_N`` pairs; the
``ci_method`` column says which, see docs/statistics.md), a
paired test suited to the metric's kind, an effect size, direction-aware win / tie /
loss counts and, for rows that are not significant, how many pairs would be needed.

- continuous: Wilcoxon signed-rank, ``zero_method="wilcox"`` (zero differences are
  dropped, the same conditioning McNemar applies to concordant pairs), scipy's
  ``method="auto"``; effect size = matched-pairs rank-biserial correlation
  ``(R+ - R-) / (R+ + R-)`` over the non-zero differences (positive: b larger).
- binary (and ``pass_rate``): exact McNemar = two-sided exact binomial test
  (``scipy.stats.binomtest``) of the discordant pairs against 1/2; effect size = the
  difference in proportions (``diff``), with the discordant counts alongside.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from workbench.analysis._errors import AnalysisError, InsufficientDataError
from workbench.analysis._frame import (
    PASS_COLUMN,
    check_confidence,
    metric_column,
    metric_values,
    require_columns,
    resolve_metrics,
    resolve_variant,
)
from workbench.analysis._intervals import DEFAULT_RESAMPLES, paired_diff_ci
from workbench.analysis._power import power_columns
from workbench.records import MetricInfo

__all__ = ["COMPARISON_COLUMNS", "compare_pair", "rank_biserial"]

COMPARISON_COLUMNS: tuple[str, ...] = (
    "a",
    "b",
    "a_label",
    "b_label",
    "metric",
    "kind",
    "higher_is_better",
    "n_pairs",
    "n_dropped",
    "mean_a",
    "mean_b",
    "diff",
    "diff_lo",
    "diff_hi",
    "ci_method",
    "sd_diff",
    "test",
    "statistic",
    "p_value",
    "effect_size",
    "effect_size_kind",
    "a_only",
    "b_only",
    "wins",
    "ties",
    "losses",
    "better",
    "mde",
    "n_needed",
    "note",
)

WILCOXON = "Wilcoxon signed-rank (zero differences dropped)"
MCNEMAR = "exact McNemar (binomial test on discordant pairs)"


def rank_biserial(diffs: npt.ArrayLike) -> float:
    """Return the matched-pairs rank-biserial correlation of paired differences.

    ``(R+ - R-) / (R+ + R-)`` where R+ / R- sum the ranks of |d| (average ranks for
    ties) of the positive / negative differences; zero differences are dropped, as in
    the Wilcoxon test run alongside. In [-1, 1]; 0.0 when every difference is 0.
    """
    d = np.asarray(diffs, dtype=float)
    d = d[~np.isnan(d) & (d != 0)]
    if d.size == 0:
        return 0.0
    ranks = stats.rankdata(np.abs(d))
    r_plus, r_minus = ranks[d > 0].sum(), ranks[d < 0].sum()
    return float((r_plus - r_minus) / (r_plus + r_minus))


def _paired_frame(samples: pd.DataFrame, a_id: str, b_id: str, columns: list[str]) -> pd.DataFrame:
    """Return one row per shared sample_id with ``<col>_a`` / ``<col>_b`` columns."""
    sides = []
    for vid, suffix in ((a_id, "_a"), (b_id, "_b")):
        rows = samples.loc[samples["variant_id"] == vid, ["sample_id", *columns]]
        dup = rows["sample_id"][rows["sample_id"].duplicated()]
        if len(dup):
            raise AnalysisError(f"variant '{vid}' has sample_id '{dup.iloc[0]}' more than once")
        sides.append(rows.set_index("sample_id").add_suffix(suffix))
    return sides[0].join(sides[1], how="inner")


def _label(samples: pd.DataFrame, vid: str) -> str:
    if "variant" not in samples.columns:
        return vid
    labels = samples.loc[samples["variant_id"] == vid, "variant"].dropna()
    return str(labels.iloc[0]) if len(labels) else vid


def _compare_metric(
    a: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    info: MetricInfo,
    *,
    confidence: float,
    seed: int,
    n_resamples: int,
    min_n: int | None,
) -> dict[str, Any]:
    """Return the comparison fields of one metric (not the variant ids)."""
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    n = int(a.size)
    d = b - a
    sign = 1.0 if info.higher_is_better else -1.0
    row: dict[str, Any] = {
        "metric": info.name,
        "kind": info.kind,
        "higher_is_better": info.higher_is_better,
        "n_pairs": n,
        "n_dropped": int((~keep).sum()),
        "mean_a": float(a.mean()) if n else math.nan,
        "mean_b": float(b.mean()) if n else math.nan,
        "wins": int((sign * d > 0).sum()),
        "ties": int((d == 0).sum()),
        "losses": int((sign * d < 0).sum()),
        "a_only": math.nan,
        "b_only": math.nan,
        "note": "",
    }
    ci = paired_diff_ci(
        a,
        b,
        confidence,
        seed=seed,
        n_resamples=n_resamples,
        min_n=min_n,
    )
    sd = float(np.std(d, ddof=1)) if n >= 2 else math.nan
    row.update(diff=ci.estimate, diff_lo=ci.lo, diff_hi=ci.hi, ci_method=ci.method, sd_diff=sd)
    if n < 2:
        row.update(
            test="none",
            statistic=math.nan,
            p_value=math.nan,
            effect_size=math.nan,
            effect_size_kind="",
            note=f"only {n} scored pair(s); a paired test needs at least 2",
        )
        return row
    if info.kind == "binary":
        b_only, a_only = int(((a == 0) & (b == 1)).sum()), int(((a == 1) & (b == 0)).sum())
        discordant = a_only + b_only
        p = stats.binomtest(b_only, discordant).pvalue if discordant else 1.0
        row.update(
            test=MCNEMAR,
            statistic=float(min(a_only, b_only)),
            p_value=float(p),
            effect_size=ci.estimate,
            effect_size_kind="difference in proportions",
            a_only=a_only,
            b_only=b_only,
        )
        if not discordant:
            row["note"] = "no discordant pairs"
    else:
        if np.all(d == 0):
            statistic, p = 0.0, 1.0
            row["note"] = "all differences are zero"
        else:
            result = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
            statistic, p = float(result.statistic), float(result.pvalue)
        row.update(
            test=WILCOXON,
            statistic=statistic,
            p_value=p,
            effect_size=rank_biserial(d),
            effect_size_kind="rank-biserial",
        )
    return row


def _better(row: dict[str, Any], a_id: str, b_id: str) -> str | None:
    diff = row["diff"]
    if not isinstance(diff, float) or math.isnan(diff) or diff == 0:
        return None
    b_wins = (diff > 0) == bool(row["higher_is_better"])
    return b_id if b_wins else a_id


def compare_pair(
    samples: pd.DataFrame,
    a: str,
    b: str,
    metrics: Sequence[MetricInfo] = (),
    *,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    power: float = 0.8,
    min_n: int | None = None,
) -> pd.DataFrame:
    """Return one row per metric (``pass_rate`` first) comparing variant ``b`` against ``a``.

    ``a`` and ``b`` are variant ids (or unique ``variant`` labels). Pairs are the
    sample_ids both variants have; per metric, pairs with a NaN on either side are
    dropped (``n_dropped``). ``diff`` is ``mean(b - a)`` with a paired CI
    (``diff_lo``/``diff_hi``, method in ``ci_method``; NaN with the reason below
    ``min_n`` pairs); ``wins``/``ties``/``losses`` count samples from b's side in
    the metric's direction; ``better`` is the better variant's id by the sign of ``diff``
    and the direction (None on a tie). For rows with ``p_value >= 1 - confidence``,
    ``mde`` (smallest detectable difference with ``n_pairs``) and ``n_needed`` (total
    pairs to detect the observed ``diff`` with the given ``power``) are filled.
    Columns: :data:`COMPARISON_COLUMNS`.

    Raises NotFoundError for an unknown variant or metric, and InsufficientDataError
    when the two variants share fewer than 2 samples.
    """
    check_confidence(confidence)
    require_columns(samples, ["variant_id", "sample_id", PASS_COLUMN])
    infos = resolve_metrics(samples, metrics)
    a_id, b_id = resolve_variant(samples, a), resolve_variant(samples, b)
    if a_id == b_id:
        raise AnalysisError(f"cannot compare variant '{a_id}' with itself")
    joined = _paired_frame(samples, a_id, b_id, [metric_column(i) for i in infos])
    if len(joined) < 2:
        raise InsufficientDataError(
            f"variants '{a_id}' and '{b_id}' share {len(joined)} sample(s); "
            "a paired comparison needs at least 2"
        )
    alpha = 1.0 - confidence
    rows = []
    for info in infos:
        column = metric_column(info)
        side_a = joined[[f"{column}_a"]].set_axis([column], axis=1)
        side_b = joined[[f"{column}_b"]].set_axis([column], axis=1)
        row = _compare_metric(
            metric_values(side_a, info),
            metric_values(side_b, info),
            info,
            confidence=confidence,
            seed=seed,
            n_resamples=n_resamples,
            min_n=min_n,
        )
        row.update(a=a_id, b=b_id, a_label=_label(samples, a_id), b_label=_label(samples, b_id))
        row["better"] = _better(row, a_id, b_id)
        mde, needed = math.nan, math.nan
        if not row["p_value"] < alpha:
            mde, needed = power_columns(
                kind=info.kind,
                n=row["n_pairs"],
                diff=row["diff"],
                sd_diff=row["sd_diff"],
                b_only=0 if math.isnan(row["b_only"]) else int(row["b_only"]),
                a_only=0 if math.isnan(row["a_only"]) else int(row["a_only"]),
                alpha=alpha,
                power=power,
            )
        row.update(mde=mde, n_needed=needed)
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    out.attrs.update(confidence=confidence, alpha=alpha, power=power, n_shared=len(joined))
    return out
