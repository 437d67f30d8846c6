"""Pairwise human preferences: Bradley-Terry strengths, win rates, position bias."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from workbench.analysis._errors import AnalysisError, InsufficientDataError
from workbench.analysis._frame import check_confidence, require_columns
from workbench.analysis._grid import holm
from workbench.analysis._intervals import wilson_bounds, wilson_interval
from workbench.errors import did_you_mean

__all__ = ["WINNERS", "bradley_terry", "position_bias"]

WINNERS = ("left", "right", "tie", "both_bad")


def _check_pairwise(pairwise: pd.DataFrame) -> pd.DataFrame:
    require_columns(pairwise, ["left_variant", "right_variant", "winner"], what="pairwise")
    if pairwise.empty:
        raise InsufficientDataError("the pairwise frame holds no comparisons")
    bad = pairwise.loc[~pairwise["winner"].isin(WINNERS), "winner"]
    if len(bad):
        value = str(bad.iloc[0])
        raise AnalysisError(
            f"winner must be one of {', '.join(WINNERS)}, got '{value}'",
            hint=did_you_mean(value, WINNERS),
        )
    same = pairwise["left_variant"] == pairwise["right_variant"]
    if same.any():
        raise AnalysisError(
            f"variant '{pairwise.loc[same, 'left_variant'].iloc[0]}' is compared with itself"
        )
    return pairwise


def _mm_fit(
    wins: npt.NDArray[np.float64], counts: npt.NDArray[np.float64], *, tol: float, max_iter: int
) -> npt.NDArray[np.float64]:
    """Bradley-Terry MLE by Hunter's (2004) MM algorithm, batched over the leading axis.

    ``wins``: (B, V) wins per player (ties already counted as half); ``counts``: (B, V, V)
    comparisons per pair. Returns (B, V) strengths normalised to sum to 1.
    """
    strength = np.full(wins.shape, 1.0 / wins.shape[1])
    for _ in range(max_iter):
        with np.errstate(divide="ignore", invalid="ignore"):
            denom = np.nansum(counts / (strength[:, :, None] + strength[:, None, :]), axis=2)
            new = np.where(denom > 0, wins / denom, 0.0)
        new /= new.sum(axis=1, keepdims=True)
        if np.nanmax(np.abs(new - strength)) < tol:
            return new
        strength = new
    return strength


def _tallies(
    rows: pd.DataFrame, players: list[str], both_bad: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return per-row win credit (R, V) and pair incidence (R, V, V) of each comparison."""
    index = {p: i for i, p in enumerate(players)}
    left = rows["left_variant"].map(index).to_numpy(dtype=np.intp)
    right = rows["right_variant"].map(index).to_numpy(dtype=np.intp)
    winner = rows["winner"].to_numpy(dtype=object)
    tie_like = (winner == "tie") | ((winner == "both_bad") & (both_bad == "tie"))
    r = np.arange(len(rows))
    credit = np.zeros((len(rows), len(players)))
    credit[r, left] = np.where(winner == "left", 1.0, np.where(tie_like, 0.5, 0.0))
    credit[r, right] = np.where(winner == "right", 1.0, np.where(tie_like, 0.5, 0.0))
    incidence = np.zeros((len(rows), len(players), len(players)))
    incidence[r, left, right] = 1.0
    incidence[r, right, left] = 1.0
    return credit, incidence


def bradley_terry(
    pairwise: pd.DataFrame,
    *,
    both_bad: Literal["tie", "drop"] = "tie",
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 1000,
    prior: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> pd.DataFrame:
    """Return one row per variant: Bradley-Terry strength with a bootstrap CI, and win rate.

    ``pairwise`` has ``left_variant``, ``right_variant`` and ``winner`` in
    ``left | right | tie | both_bad``. A tie gives each side half a win; ``both_bad``
    counts as a tie (``both_bad="drop"`` leaves those rows out). Strengths are the MLE
    (Hunter's MM algorithm) normalised to sum to 1, so P(i beats j) = s_i / (s_i + s_j);
    ``prior`` adds that many virtual ties to every pair (0 = plain MLE; a variant that
    never wins then gets strength 0). CIs: percentile bootstrap over comparisons
    (seeded). ``win_rate`` = (wins + ties / 2) / n with a Wilson interval.

    Columns: ``variant``, ``strength``, ``strength_lo``, ``strength_hi``, ``n``, ``wins``,
    ``losses``, ``ties``, ``win_rate``, ``win_rate_lo``, ``win_rate_hi``; strongest first.
    ``attrs["note"]`` says when the plain MLE does not exist (a variant never lost).
    """
    check_confidence(confidence)
    if both_bad not in ("tie", "drop"):
        raise AnalysisError(f"both_bad must be 'tie' or 'drop', got {both_bad!r}")
    rows = _check_pairwise(pairwise)
    if both_bad == "drop":
        rows = rows[rows["winner"] != "both_bad"]
        if rows.empty:
            raise InsufficientDataError("every comparison was 'both_bad'; nothing left to fit")
    players = [str(p) for p in pd.unique(pd.concat([rows["left_variant"], rows["right_variant"]]))]
    credit, incidence = _tallies(rows, players, both_bad)
    virtual = prior * (1.0 - np.eye(len(players)))

    def fit(weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        wins = weights @ credit + virtual.sum(axis=1) / 2
        counts = np.tensordot(weights, incidence, axes=(1, 0)) + virtual
        return _mm_fit(wins, counts, tol=tol, max_iter=max_iter)

    strength = fit(np.ones((1, len(rows))))[0]
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(rows), np.full(len(rows), 1.0 / len(rows)), size=n_resamples)
    boot = fit(draws.astype(float))
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [tail, 1 - tail], axis=0)

    wins = credit.sum(axis=0)
    n = incidence.sum(axis=(0, 2))
    winner = rows["winner"].to_numpy(dtype=object)
    full_wins = np.zeros(len(players))
    for side in ("left", "right"):
        picked = rows.loc[winner == side, f"{side}_variant"].map(
            {p: i for i, p in enumerate(players)}
        )
        np.add.at(full_wins, picked.to_numpy(dtype=np.intp), 1.0)
    ties = 2 * (wins - full_wins)
    out = pd.DataFrame(
        {
            "variant": players,
            "strength": strength,
            "strength_lo": lo,
            "strength_hi": hi,
            "n": n.astype(int),
            "wins": full_wins.astype(int),
            "losses": (n - full_wins - ties).astype(int),
            "ties": np.rint(ties).astype(int),
        }
    )
    out["win_rate"] = wins / n
    bounds = [
        wilson_bounds(float(p), float(k), confidence)
        for p, k in zip(out["win_rate"], n, strict=True)
    ]
    out["win_rate_lo"] = [b[0] for b in bounds]
    out["win_rate_hi"] = [b[1] for b in bounds]
    never_lost = out.loc[(out["losses"] == 0) & (out["ties"] == 0), "variant"]
    out = out.sort_values(["strength", "variant"], ascending=[False, True]).reset_index(drop=True)
    if prior == 0 and len(never_lost):
        out.attrs["note"] = (
            f"variant '{never_lost.iloc[0]}' never lost: its maximum-likelihood strength is "
            "unbounded (shown as the limit); pass prior > 0 for finite estimates"
        )
    return out


def position_bias(pairwise: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Return one row per rater: how often a non-tie choice picked the left answer.

    Columns: ``rater``, ``n_choices`` (left or right picks), ``n_left``, ``left_share``
    with a Wilson ``left_share_lo``/``left_share_hi``, ``p_value`` (two-sided exact
    ``scipy.stats.binomtest`` against 1/2; NaN without choices), ``p_holm`` (Holm across
    raters) and ``biased`` (survives Holm at ``alpha``).
    """
    check_confidence(alpha, name="alpha")
    rows = _check_pairwise(pairwise)
    require_columns(rows, ["rater"], what="pairwise")
    records = []
    for rater, group in rows.groupby("rater", sort=False):
        n_left = int((group["winner"] == "left").sum())
        n = n_left + int((group["winner"] == "right").sum())
        lo, hi = wilson_interval(n_left, n, 1 - alpha) if n else (np.nan, np.nan)
        records.append(
            {
                "rater": rater,
                "n_choices": n,
                "n_left": n_left,
                "left_share": n_left / n if n else np.nan,
                "left_share_lo": lo,
                "left_share_hi": hi,
                "p_value": float(stats.binomtest(n_left, n).pvalue) if n else np.nan,
            }
        )
    out = pd.DataFrame(records)
    out["p_holm"], out["biased"] = holm(out["p_value"].to_numpy(), alpha)
    return out
