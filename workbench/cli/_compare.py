"""``workbench compare``: leaderboard + corrected comparison table (rich), HTML report."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.records import MetricInfo


@dataclass
class Comparison:
    experiment: str
    run_id: str
    board: Any
    grid: Any
    effects: Any
    samples: Any
    metrics: list[MetricInfo]
    baseline: str


def compare_run(
    experiment_or_run: str,
    *,
    baseline: str | None = None,
    metrics: Sequence[str] = (),
    all_pairs: bool = False,
    tracking_uri: str | None = None,
    seed: int = 0,
) -> Comparison:
    from workbench.analysis import compare_grid, factor_effects, pareto_front
    from workbench.errors import NotFoundError, did_you_mean
    from workbench.tracking.read import load_experiment

    loaded = load_experiment(experiment_or_run, tracking_uri=tracking_uri)
    infos = loaded.metrics
    if metrics:
        known = {m.name: m for m in infos}
        chosen = []
        for name in metrics:
            if name not in known and name != "pass_rate":
                raise NotFoundError(
                    f"unknown metric '{name}'",
                    hint=did_you_mean(name, known) or f"metrics: {', '.join(known)}",
                )
            if name in known:
                chosen.append(known[name])
        infos = chosen
    samples = loaded.samples()
    # default baseline: the grid's first variant (the control, in declaration order)
    base = loaded.variant_ids([baseline])[0] if baseline else str(samples["variant_id"].iloc[0])
    grid = compare_grid(
        samples,
        infos,
        baseline=None if all_pairs else base,
        pairs="all" if all_pairs else "baseline",
        seed=seed,
    )
    factors = [
        f
        for f in ("prompt", "model", "retriever")
        if f in samples.columns and samples[f].nunique() > 1
    ]
    effects = factor_effects(samples, infos, factors=factors, seed=seed) if factors else None
    board = pareto_front(loaded.board)
    return Comparison(loaded.experiment, loaded.run_id, board, grid, effects, samples, infos, base)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
    return str(value)


def grid_table(comparison: Comparison, *, only_significant: bool = False, limit: int = 60) -> Any:
    from rich.table import Table

    grid = comparison.grid
    if only_significant:
        grid = grid[grid["significant"]]
    table = Table(
        title=f"paired comparisons vs baseline (Holm-corrected across {len(comparison.grid)} tests)"
    )
    for col in (
        "variant",
        "metric",
        "diff (b-a)",
        "95% CI",
        "test",
        "p",
        "p Holm",
        "verdict",
        "n needed",
    ):
        table.add_column(
            col, justify="right" if col in ("diff (b-a)", "p", "p Holm", "n needed") else "left"
        )
    for row in grid.head(limit).to_dict(orient="records"):
        verdict = row["verdict"]
        style = "green" if verdict == "better" else ("red" if verdict == "worse" else "")
        table.add_row(
            str(row["b_label"]),
            str(row["metric"]),
            _fmt(row["diff"]),
            f"[{_fmt(row['diff_lo'])}, {_fmt(row['diff_hi'])}]",
            str(row["test"]),
            _fmt(row["p_value"]),
            _fmt(row["p_holm"]),
            f"[{style}]{verdict}[/{style}]" if style else str(verdict),
            _fmt(row.get("n_needed"), 0) if not row["significant"] else "",
        )
    return table


def html_report(comparison: Comparison) -> str:
    """A self-contained HTML page (plotly.js inlined once: it opens offline)."""
    from workbench.analysis import figures

    board = comparison.board
    primary = next(
        (m.name for m in comparison.metrics if m.name == "semantic_similarity"), "pass_rate"
    )
    figs = [
        ("Leaderboard: pass rate", figures.leaderboard_bars(board, "pass_rate")),
        (f"Leaderboard: {primary}", figures.leaderboard_bars(board, primary)),
        ("Paired differences vs baseline", figures.forest_plot(comparison.grid, "pass_rate")),
        (
            "Quality vs cost and latency",
            figures.pareto_scatter(board, "pass_rate", "cost_per_success", "latency_p95"),
        ),
        ("Per-sample pass/fail", figures.sample_heatmap(comparison.samples, "passed")),
    ]
    if comparison.effects is not None:
        figs.append(
            (
                "Factor effects on pass rate",
                figures.factor_effects_plot(comparison.effects, "pass_rate"),
            )
        )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(comparison.experiment)}: comparison</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 6px}</style>",
        "</head><body>",
        f"<h1>{html.escape(comparison.experiment)}</h1>",
        f"<p>MLflow run {html.escape(comparison.run_id)}; baseline {html.escape(comparison.baseline)}.</p>",
    ]
    for i, (title, fig) in enumerate(figs):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    shown = comparison.grid[
        ["b_label", "metric", "diff", "diff_lo", "diff_hi", "p_value", "p_holm", "verdict"]
    ]
    parts.append("<h2>Comparison table (Holm-corrected)</h2>")
    parts.append(shown.to_html(index=False, float_format=lambda v: f"{v:.4g}", escape=True))
    parts.append("</body></html>")
    return "\n".join(parts)
