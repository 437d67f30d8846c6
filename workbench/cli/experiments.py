"""Experiment commands: run, gate, compare, schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli._app import ExperimentOrRun, app, console
from workbench.errors import GateFailed


@app.command()
def run(
    experiment: Annotated[
        Path, typer.Argument(help="Experiment YAML, e.g. experiments/quickstart.yaml")
    ],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a field: --set execution.concurrency=4 (repeatable)."),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Use the whole golden set (ignore dataset.sample).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the grid and an estimate; call nothing.")
    ] = False,
    no_track: Annotated[bool, typer.Option("--no-track", help="Do not log to MLflow.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Run every variant of the grid over every sample; score it; log it to MLflow."""
    from workbench.cli._progress import RichProgress
    from workbench.pipeline import RunFailed, prepare
    from workbench.pipeline import execute as execute_plan
    from workbench.runner import estimate

    overrides = list(set_ or [])
    if full:
        overrides.append("dataset.sample=null")
    plan = prepare(experiment, overrides=overrides)
    out = console()
    if dry_run:
        from workbench.cli._report import print_estimate

        print_estimate(out, plan, estimate(plan))
        return
    progress = None if quiet else RichProgress(console(stderr=True))
    try:
        result = execute_plan(plan, progress=progress, track=not no_track)
    except RunFailed as failed:
        from workbench.cli._report import print_run

        print_run(out, failed.result)
        raise
    from workbench.cli._report import print_run

    print_run(out, result)


@app.command()
def gate(
    experiment: ExperimentOrRun,
    variant: Annotated[
        str | None, typer.Option(help="Variant id, id prefix or label (default: the best).")
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(help="Gate policy YAML (default: the one the run was logged with)."),
    ] = None,
    all_variants: Annotated[
        bool, typer.Option("--all", help="Also list every variant's verdict.")
    ] = False,
) -> None:
    """Apply the release gates; exit 1 when the chosen variant fails (for CI), 0 when it passes."""
    from workbench.cli._gate_tables import decision_table, summary_table
    from workbench.pipeline import gate as run_gate

    report = run_gate(experiment, variant=variant, policy=policy)
    out = console()
    if all_variants:
        out.print(summary_table(report.decisions))
    out.print(decision_table(report.chosen))
    out.print(
        f"decision logged to MLflow run {report.chosen.run_id} (experiment '{report.experiment}')"
    )
    if not report.passed:
        raise GateFailed(report.chosen.summary())


@app.command()
def compare(
    experiment: ExperimentOrRun,
    baseline: Annotated[
        str | None, typer.Option(help="Variant to compare against (default: the grid's first).")
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", "-m", help="Metric to test (repeatable; default: all)."),
    ] = None,
    all_pairs: Annotated[
        bool,
        typer.Option("--all-pairs", help="Every pair instead of every variant vs the baseline."),
    ] = False,
    significant: Annotated[
        bool, typer.Option("--significant", help="Only differences that survive the correction.")
    ] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the figures and tables to this HTML file.")
    ] = None,
) -> None:
    """Leaderboard with CIs and paired, Holm-corrected comparisons of the variants."""
    from workbench.cli._compare import compare_run, grid_table, html_report
    from workbench.cli._report import HEADLINE, leaderboard_table

    result = compare_run(experiment, baseline=baseline, metrics=metric or (), all_pairs=all_pairs)
    out = console()
    shown = [m for m in HEADLINE if m in result.board.columns]
    out.print(
        leaderboard_table(
            result.board,
            shown,
            title=f"{result.experiment}: leaderboard (run {result.run_id})",
            limit=50,
        )
    )
    out.print(grid_table(result, only_significant=significant))
    if html is not None:
        from workbench._atomic import write_text

        write_text(html, html_report(result))
        out.print(f"wrote {html}")


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option(help="Where to write it (default: the packaged copy).")
    ] = None,
) -> None:
    """Write the JSON schema of experiment files (editors autocomplete YAML with it)."""
    from workbench.spec import SCHEMA_PATH, write_schema

    path = write_schema(output or SCHEMA_PATH)
    typer.echo(f"wrote {path}")
