"""Plotly figures over the analysis frames; every function returns a ``go.Figure``.

This module imports plotly; ``import workbench.analysis`` does not load it until
``workbench.analysis.figures`` is first used. Text that comes from data (questions,
answers, labels) is HTML-escaped before it reaches hover text, so markup in a model's
answer is shown, not rendered.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from workbench.analysis._errors import AnalysisError
from workbench.analysis._frame import PASS_RATE, require_columns
from workbench.analysis._leaderboard import pareto_front

__all__ = [
    "bradley_terry_plot",
    "factor_effects_plot",
    "forest_plot",
    "leaderboard_bars",
    "pareto_scatter",
    "safe_text",
    "sample_heatmap",
]

HIGHLIGHT = "#d62728"
MUTED = "#7f7f7f"
BASE = "#1f77b4"
_NAMES = {
    "pass_rate": "Pass rate",
    "cost_per_success": "Cost per passed sample (USD)",
    "cost_total": "Total cost (USD)",
    "latency_p50": "Median latency (s)",
    "latency_p95": "95th percentile latency (s)",
    "error_rate": "Error rate",
    "passed": "Passed",
}


def _title(column: str) -> str:
    """Return a plain-words name for a column (``pass_rate`` -> ``Pass rate``)."""
    return _NAMES.get(column, column.replace("_", " ").replace(".", " ").capitalize())


def safe_text(value: object, max_chars: int = 300) -> str:
    """Return ``value`` as hover-safe text: truncated to ``max_chars``, then HTML-escaped.

    Truncation happens before escaping so an entity is never cut in half; newlines
    become ``<br>`` after escaping. None and NaN become an empty string.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value)
    if len(text) > max_chars:
        text = text[: max(0, max_chars - 1)] + "…"
    return html.escape(text, quote=True).replace("\r\n", "\n").replace("\n", "<br>")


def _errors(center: pd.Series, lo: pd.Series, hi: pd.Series) -> dict[str, object]:
    return {
        "type": "data",
        "symmetric": False,
        "array": (hi - center).clip(lower=0).to_numpy(dtype=float),
        "arrayminus": (center - lo).clip(lower=0).to_numpy(dtype=float),
    }


def leaderboard_bars(board: pd.DataFrame, metric: str = PASS_RATE) -> go.Figure:
    """Return a horizontal bar chart of ``metric`` per variant with CI whiskers (one trace)."""
    require_columns(board, ["variant", metric, f"{metric}_lo", f"{metric}_hi"], what="leaderboard")
    rows = board.iloc[::-1]  # plotly draws the first category at the bottom
    confidence = board.attrs.get("confidence", 0.95)
    figure = go.Figure(
        go.Bar(
            x=rows[metric],
            y=[safe_text(v, 80) for v in rows["variant"]],
            orientation="h",
            marker_color=BASE,
            error_x=_errors(rows[metric], rows[f"{metric}_lo"], rows[f"{metric}_hi"]),
            name=_title(metric),
            hovertemplate="%{y}<br>%{x:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"{_title(metric)} by variant ({confidence:.0%} confidence interval)",
        xaxis_title=_title(metric),
        yaxis_title="Variant",
    )
    return figure


def forest_plot(comparison: pd.DataFrame, metric: str | None = None) -> go.Figure:
    """Return a forest plot of paired differences (b - a) with CIs, significant ones in red.

    One point per comparison row (filtered to ``metric`` if given), one trace per group
    present: "significant" and "not significant" (the ``significant`` column if there is
    one, else ``p_value < attrs["alpha"]``), and a dashed line at zero.
    """
    require_columns(
        comparison,
        ["a_label", "b_label", "metric", "diff", "diff_lo", "diff_hi", "p_value"],
        what="comparison",
    )
    rows = comparison if metric is None else comparison[comparison["metric"] == metric]
    if rows.empty:
        raise AnalysisError(f"no comparison rows for metric '{metric}'")
    if "significant" in rows.columns:
        significant = rows["significant"].fillna(False).astype(bool)
    else:
        significant = rows["p_value"] < comparison.attrs.get("alpha", 0.05)
    several_metrics = rows["metric"].nunique() > 1
    labels = [
        safe_text(f"{b} vs {a}" + (f" · {m}" if several_metrics else ""), 120)
        for a, b, m in zip(rows["a_label"], rows["b_label"], rows["metric"], strict=True)
    ]
    figure = go.Figure()
    for flag, name, colour in ((True, "Significant", HIGHLIGHT), (False, "Not significant", MUTED)):
        mask = (significant == flag).to_numpy()
        if not mask.any():
            continue
        part = rows[mask]
        figure.add_trace(
            go.Scatter(
                x=part["diff"],
                y=[label for label, keep in zip(labels, mask, strict=True) if keep],
                mode="markers",
                marker={"color": colour, "size": 9},
                error_x=_errors(part["diff"], part["diff_lo"], part["diff_hi"]),
                name=name,
                hovertemplate="%{y}<br>difference %{x:.3f}<extra></extra>",
            )
        )
    figure.add_vline(x=0, line_dash="dash", line_color=MUTED)
    title = "Paired difference against the baseline"
    figure.update_layout(
        title=title + (f": {_title(metric)}" if metric else ""),
        xaxis_title="Difference (candidate minus baseline)",
        yaxis_title="Comparison",
        yaxis={"autorange": "reversed"},
    )
    return figure


def pareto_scatter(
    board: pd.DataFrame,
    quality: str = PASS_RATE,
    cost: str = "cost_per_success",
    latency: str = "latency_p95",
) -> go.Figure:
    """Return quality against cost, marker size = latency, Pareto front red and connected.

    Traces: "Other variants" and "Pareto front" (only those present). Variants with a
    non-finite cost or quality (e.g. nothing passed) are left out and counted in a note.
    """
    front = (
        board
        if "pareto" in board.columns
        else pareto_front(board, quality=quality, cost=cost, latency=latency)
    )
    require_columns(front, ["variant", quality, cost, latency], what="leaderboard")
    finite = np.isfinite(front[[quality, cost]].to_numpy(dtype=float)).all(axis=1)
    shown = front[finite]
    lat = shown[latency].to_numpy(dtype=float)
    span = np.nanmax(lat) - np.nanmin(lat) if np.isfinite(lat).any() else 0.0
    sizes = 10 + 30 * ((lat - np.nanmin(lat)) / span if span > 0 else np.zeros_like(lat))
    sizes = np.nan_to_num(sizes, nan=10.0)
    figure = go.Figure()
    for on_front, name, colour in (
        (False, "Other variants", MUTED),
        (True, "Pareto front", HIGHLIGHT),
    ):
        mask = (shown["pareto"] == on_front).to_numpy()
        if not mask.any():
            continue
        part = shown[mask].assign(_size=sizes[mask]).sort_values(cost)
        figure.add_trace(
            go.Scatter(
                x=part[cost],
                y=part[quality],
                mode="lines+markers" if on_front else "markers",
                line={"color": colour, "shape": "hv"} if on_front else None,
                marker={"color": colour, "size": part["_size"], "sizemode": "diameter"},
                text=[safe_text(v, 80) for v in part["variant"]],
                customdata=part[latency],
                name=name,
                hovertemplate=(
                    f"%{{text}}<br>{_title(quality)} %{{y:.3f}}<br>{_title(cost)} %{{x:.4g}}"
                    f"<br>{_title(latency)} %{{customdata:.3g}}<extra></extra>"
                ),
            )
        )
    figure.update_layout(
        title=f"{_title(quality)} against {_title(cost).lower()} (marker size: {_title(latency).lower()})",
        xaxis_title=_title(cost),
        yaxis_title=_title(quality),
    )
    hidden = int((~finite).sum())
    if hidden:
        figure.add_annotation(
            text=f"{hidden} variant(s) not shown (no finite {_title(cost).lower()})",
            xref="paper",
            yref="paper",
            x=0,
            y=-0.15,
            showarrow=False,
        )
    return figure


def factor_effects_plot(effects: pd.DataFrame, metric: str = PASS_RATE) -> go.Figure:
    """Return each level's effect on ``metric`` with its CI, one trace per factor."""
    require_columns(
        effects, ["metric", "factor", "level", "effect", "effect_lo", "effect_hi"], what="effects"
    )
    rows = effects[effects["metric"] == metric]
    if rows.empty:
        raise AnalysisError(f"no factor effects for metric '{metric}'")
    figure = go.Figure()
    for factor, part in rows.groupby("factor", sort=False):
        figure.add_trace(
            go.Scatter(
                x=part["effect"],
                y=[safe_text(f"{factor} = {level}", 80) for level in part["level"]],
                mode="markers",
                marker={"size": 9},
                error_x=_errors(part["effect"], part["effect_lo"], part["effect_hi"]),
                name=safe_text(factor, 40),
                hovertemplate="%{y}<br>effect %{x:.3f}<extra></extra>",
            )
        )
    figure.add_vline(x=0, line_dash="dash", line_color=MUTED)
    figure.update_layout(
        title=f"Effect of each factor level on {_title(metric).lower()} (against the grand mean)",
        xaxis_title=f"Change in {_title(metric).lower()}",
        yaxis_title="Factor level",
        yaxis={"autorange": "reversed"},
    )
    return figure


def sample_heatmap(
    samples: pd.DataFrame, value: str = "passed", *, max_chars: int = 300
) -> go.Figure:
    """Return a samples x variants heatmap of ``value`` (one trace).

    Hover text shows the variant, sample, value, question, reference, answer and error,
    each truncated to ``max_chars`` and HTML-escaped.
    """
    require_columns(samples, ["variant_id", "variant", "sample_id", value])
    text_columns = [c for c in ("question", "reference", "answer", "error") if c in samples.columns]
    cells = samples.drop_duplicates(["sample_id", "variant_id"])
    variants = list(pd.unique(cells["variant_id"]))
    sample_ids = list(pd.unique(cells["sample_id"]))
    labels = cells.drop_duplicates("variant_id").set_index("variant_id")["variant"]
    records = cells[["variant", "sample_id", value, *text_columns]].to_dict("records")
    hover_text = [
        "<br>".join(
            [
                f"<b>{safe_text(r['variant'], 80)}</b>",
                f"sample: {safe_text(r['sample_id'], 80)}",
                f"{safe_text(_title(value), 60)}: {safe_text(r[value], 40)}",
            ]
            + [f"{c}: {safe_text(r[c], max_chars)}" for c in text_columns if safe_text(r[c])]
        )
        for r in records
    ]
    grid = cells[["sample_id", "variant_id"]].assign(
        _z=pd.to_numeric(cells[value], errors="coerce"), _hover=hover_text
    )
    z = grid.pivot(index="sample_id", columns="variant_id", values="_z").reindex(
        index=sample_ids, columns=variants
    )
    hover = (
        grid.pivot(index="sample_id", columns="variant_id", values="_hover")
        .reindex(index=sample_ids, columns=variants)
        .fillna("")
    )
    figure = go.Figure(
        go.Heatmap(
            z=z.to_numpy(dtype=float),
            x=[safe_text(labels[v], 80) for v in variants],
            y=[safe_text(s, 80) for s in sample_ids],
            text=hover.to_numpy(dtype=object).tolist(),
            hovertemplate="%{text}<extra></extra>",
            colorscale="RdYlGn",
            colorbar={"title": {"text": _title(value)}},
        )
    )
    figure.update_layout(
        title=f"{_title(value)} per sample and variant",
        xaxis_title="Variant",
        yaxis_title="Sample",
    )
    return figure


def bradley_terry_plot(strengths: pd.DataFrame) -> go.Figure:
    """Return Bradley-Terry strengths with bootstrap CIs, strongest on top (one trace)."""
    require_columns(
        strengths, ["variant", "strength", "strength_lo", "strength_hi"], what="strengths"
    )
    rows = strengths.sort_values("strength", ascending=True)
    figure = go.Figure(
        go.Scatter(
            x=rows["strength"],
            y=[safe_text(v, 80) for v in rows["variant"]],
            mode="markers",
            marker={"color": BASE, "size": 10},
            error_x=_errors(rows["strength"], rows["strength_lo"], rows["strength_hi"]),
            name="Strength",
            hovertemplate="%{y}<br>strength %{x:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title="Preference strength from pairwise ratings (Bradley-Terry)",
        xaxis_title="Strength (share; chance of beating another = own / (own + other))",
        yaxis_title="Variant",
    )
    return figure
