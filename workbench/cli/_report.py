"""Rich tables for the CLI (kept out of the core: the runner never prints)."""

from __future__ import annotations

import math
from typing import Any

from workbench.records import Plan, RunResult
from workbench.runner import Estimate

HEADLINE = ("semantic_similarity", "rouge_l", "hit_at_k", "faithfulness")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞"
        return f"{value:.{digits}f}"
    return str(value)


def _usd(value: Any) -> str:
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return _fmt(value)
    return f"${value:.2g}" if value < 0.01 else f"${value:.4f}"


def print_estimate(out: Any, plan: Plan, est: Estimate) -> None:
    from rich.table import Table

    spec = plan.spec
    table = Table(
        title=f"{spec.name}: {est.n_variants} variants x {est.n_samples} samples = {est.calls} calls"
    )
    for col in (
        "variant",
        "variant_id",
        "calls",
        "prompt tok ≈",
        "completion tok ≈",
        "time ≈",
        "cost ≈",
    ):
        table.add_column(col, justify="right" if col not in ("variant", "variant_id") else "left")
    for v in est.variants:
        table.add_row(
            v.label,
            v.variant_id,
            str(v.calls),
            f"{v.prompt_tokens:,}",
            f"{v.completion_tokens:,}",
            "–" if v.seconds is None else f"{v.seconds:.0f} s",
            _usd(v.cost_usd),
        )
    out.print(table)
    sample = (
        f"a sample of {est.n_samples} of {est.total_samples} golden rows (--full for all)"
        if est.n_samples < est.total_samples
        else f"all {est.total_samples} golden rows"
    )
    out.print(f"dataset: {plan.golden.name} ({sample}); dry run: no model was called.")
    total = est.seconds
    out.print(
        f"estimate: {est.prompt_tokens:,} prompt + {est.completion_tokens:,} completion tokens"
        + (f", ~{total / 60:.1f} min of local model time" if total else "")
        + (f", {_usd(est.cost_usd)}" if est.cost_usd is not None else "")
        + " (cached calls cost nothing)."
    )


def leaderboard_table(board: Any, metrics: list[str], *, title: str, limit: int = 12) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("#", justify="right")
    table.add_column("variant")
    table.add_column("pass rate [95% CI]", justify="right")
    for m in metrics:
        table.add_column(m, justify="right")
    table.add_column("p95 latency", justify="right")
    table.add_column("cost / success", justify="right")
    table.add_column("errors", justify="right")
    for i, (_, row) in enumerate(board.head(limit).iterrows(), start=1):
        table.add_row(
            str(i),
            str(row["variant"]),
            f"{row['pass_rate']:.2f} [{row['pass_rate_lo']:.2f}, {row['pass_rate_hi']:.2f}]",
            *[_fmt(row.get(m)) for m in metrics],
            f"{row['latency_p95']:.2f} s",
            _usd(row.get("cost_per_success")),
            str(int(row["n_errors"])),
        )
    return table


def print_run(out: Any, result: RunResult) -> None:
    board = result.variants
    shown = [m for m in HEADLINE if m in board.columns and board[m].notna().any()]
    out.print(
        leaderboard_table(board, shown, title=f"{result.experiment}: leaderboard (best first)")
    )
    out.print(
        f"{len(result.samples)} answers from {len(board)} variants in {result.wall_s:.1f} s: "
        f"{result.model_calls} model calls, {result.cached_calls} from cache, "
        f"error rate {result.error_rate:.1%}."
    )
    if result.gate is not None:
        from workbench.cli._gate_tables import print_decision

        print_decision(out, result.gate)
    if result.run_id:
        out.print(
            f"MLflow run: [bold]{result.run_id}[/bold] (experiment '{result.experiment}', {result.tracking_uri})"
        )
        for variant_id, run_id in list(result.variant_run_ids.items())[:3]:
            out.print(f"  variant {variant_id}: run {run_id}")
        if len(result.variant_run_ids) > 3:
            out.print(f"  ... and {len(result.variant_run_ids) - 3} more child runs")
    if result.status == "FAILED":
        out.print(f"[red]run FAILED: {result.failure}[/red]")
