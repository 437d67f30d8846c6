"""Every variant against a baseline (or every pair), Holm-corrected across the whole grid."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from workbench.analysis._errors import AnalysisError
from workbench.analysis._frame import check_confidence, resolve_variant, variant_order
from workbench.analysis._intervals import DEFAULT_RESAMPLES
from workbench.analysis._paired import COMPARISON_COLUMNS, compare_pair
from workbench.analysis._power import power_columns
from workbench.records import MetricInfo

__all__ = ["GRID_COLUMNS", "compare_grid", "holm"]

GRID_COLUMNS: tuple[str, ...] = (*COMPARISON_COLUMNS, "p_holm", "significant", "verdict")

BETTER, WORSE, NO_DIFFERENCE, NOT_TESTED = (
    "better",
    "worse",
    "no significant difference",
    "not tested",
)


def holm(p_values: Sequence[float], alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(p_holm, reject)`` for the finite p-values; NaN p-values stay NaN / False.

    Holm's step-down correction via ``statsmodels.stats.multitest.multipletests``;
    the family is every finite p-value passed in.
    """
    check_confidence(alpha, name="alpha")
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    reject = np.zeros(p.shape, dtype=bool)
    finite = np.isfinite(p)
    if finite.any():
        rej, adj, _, _ = multipletests(p[finite], alpha=alpha, method="holm")
        adjusted[finite], reject[finite] = adj, rej
    return adjusted, reject


def _verdict(row: pd.Series) -> tuple[str, str]:
    """Return ``(verdict, extra note)`` for one Holm-corrected row, from b's side."""
    if not math.isfinite(row["p_value"]):
        return NOT_TESTED, ""
    if not row["significant"]:
        return NO_DIFFERENCE, ""
    # the direction of the test itself: rank-biserial sign (Wilcoxon) or diff sign (McNemar)
    direction = float(np.sign(row["effect_size"]))
    note = ""
    if direction * float(np.sign(row["diff"])) < 0:
        note = "the rank test and the mean difference point in opposite directions"
    b_better = (direction > 0) == bool(row["higher_is_better"])
    return (BETTER if b_better else WORSE), note


def compare_grid(
    samples: pd.DataFrame,
    metrics: Sequence[MetricInfo] = (),
    *,
    baseline: str | None = None,
    pairs: Literal["baseline", "all"] = "baseline",
    alpha: float = 0.05,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    power: float = 0.8,
) -> pd.DataFrame:
    """Return :func:`compare_pair` rows for the grid, Holm-corrected across all of them.

    ``pairs="baseline"``: every other variant (as ``b``) against ``baseline`` (as ``a``);
    ``baseline=None`` means the first variant in the frame. ``pairs="all"``: every
    unordered pair, ``a`` the one that appears first. CIs are at ``1 - alpha``.

    Added columns: ``p_holm`` (Holm over every comparison x metric with a p-value),
    ``significant`` (survives Holm at ``alpha``) and ``verdict`` for ``b`` versus ``a`` in the
    metric's direction: ``"better"``, ``"worse"``, ``"no significant difference"``, or
    ``"not tested"`` (fewer than 2 scored pairs). The verdict follows the direction of
    the test that was run (rank-biserial sign for Wilcoxon, ``diff`` for McNemar).
    ``mde`` / ``n_needed`` are recomputed for non-significant rows at ``alpha / m`` (m =
    number of tests: the Bonferroni level, the strictest threshold Holm can demand) and
    blanked for significant rows. Columns: :data:`GRID_COLUMNS`.
    """
    check_confidence(alpha, name="alpha")
    ids = variant_order(samples)
    if pairs == "baseline":
        base = ids[0] if baseline is None else resolve_variant(samples, baseline)
        plan = [(base, v) for v in ids if v != base]
    elif pairs == "all":
        if baseline is not None:
            raise AnalysisError("baseline is only used with pairs='baseline'")
        base = None
        plan = list(itertools.combinations(ids, 2))
    else:
        raise AnalysisError(f"pairs must be 'baseline' or 'all', got {pairs!r}")
    if not plan:
        raise AnalysisError("the samples frame holds a single variant; nothing to compare")
    frames = [
        compare_pair(
            samples,
            a,
            b,
            metrics,
            confidence=1.0 - alpha,
            seed=seed,
            n_resamples=n_resamples,
            power=power,
        )
        for a, b in plan
    ]
    out = pd.concat(frames, ignore_index=True)
    out["p_holm"], out["significant"] = holm(out["p_value"].to_numpy(), alpha)
    verdicts = [_verdict(row) for _, row in out.iterrows()]
    out["verdict"] = [v for v, _ in verdicts]
    out["note"] = [
        "; ".join(part for part in (old, extra) if part)
        for old, (_, extra) in zip(out["note"], verdicts, strict=True)
    ]
    n_tests = int(np.isfinite(out["p_value"]).sum())
    per_test = alpha / max(n_tests, 1)
    mde, needed = [], []
    for _, row in out.iterrows():
        if row["significant"]:
            mde.append(math.nan)
            needed.append(math.nan)
            continue
        m, n = power_columns(
            kind=str(row["kind"]),
            n=int(row["n_pairs"]),
            diff=float(row["diff"]),
            sd_diff=float(row["sd_diff"]),
            b_only=0 if math.isnan(row["b_only"]) else int(row["b_only"]),
            a_only=0 if math.isnan(row["a_only"]) else int(row["a_only"]),
            alpha=per_test,
            power=power,
        )
        mde.append(m)
        needed.append(n)
    out["mde"], out["n_needed"] = mde, needed
    out = out[list(GRID_COLUMNS)]
    out.attrs = {
        "alpha": alpha,
        "confidence": 1.0 - alpha,
        "power": power,
        "baseline": base,
        "pairs": pairs,
        "n_tests": n_tests,
        "power_alpha": per_test,
    }
    return out
