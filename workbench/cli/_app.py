"""The ``workbench`` command line (typer).

Errors the workbench raises on purpose print one ``error:`` line and exit 2 (1 for a
failed gate or run); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

import workbench  # noqa: F401  (telemetry-off defaults)
from workbench.errors import GateFailed, WorkbenchError

app = typer.Typer(
    name="workbench",
    help="Evaluation-first LLM experiments: run grids, score them, compare, gate, promote.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_STATE: dict[str, Any] = {"debug": False}


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=max(100, _width()))


def _width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 120


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    _STATE["debug"] = debug
    from workbench._plugins import load_plugins

    load_plugins()


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
    from workbench.runner import RichProgress, RunFailed, estimate, prepare
    from workbench.runner import execute as execute_plan

    overrides = list(set_ or [])
    if full:
        overrides.append("dataset.sample=null")
    plan = prepare(experiment, overrides=overrides)
    out = console()
    if dry_run:
        from workbench._report import print_estimate

        print_estimate(out, plan, estimate(plan))
        return
    progress = None if quiet else RichProgress(console(stderr=True))
    try:
        result = execute_plan(plan, progress=progress, track=not no_track)
    except RunFailed as failed:
        from workbench._report import print_run

        print_run(out, failed.result)
        raise
    from workbench._report import print_run

    print_run(out, result)


@app.command()
def gate(
    experiment: Annotated[
        str, typer.Argument(help="Experiment name (its newest run) or an MLflow run id.")
    ],
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
    from workbench.gates import decision_table, summary_table
    from workbench.gates.api import gate as run_gate

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
    experiment: Annotated[
        str, typer.Argument(help="Experiment name (its newest run) or an MLflow run id.")
    ],
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
    from workbench._compare import compare_run, grid_table, html_report
    from workbench._report import HEADLINE, leaderboard_table

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


# Command groups that live beside their feature register themselves on `app` when imported.
for _module in ("workbench.promotion.cli",):
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as _exc:  # the feature is not installed in this checkout
        if not (_exc.name and _module.startswith(_exc.name)):
            raise


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps workbench errors to ``error: ...`` and exit codes."""
    try:
        app(args=argv, standalone_mode=False)
    except WorkbenchError as exc:
        if _STATE["debug"]:
            raise
        from workbench.runner import RunFailed

        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1 if isinstance(exc, GateFailed | RunFailed) else 2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print(
            "interrupted: finished calls are cached; rerun the same command to resume",
            file=sys.stderr,
        )
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        import click
        from typer.exceptions import TyperException  # typer >= 0.2x raises its own click copy

        if isinstance(exc, click.ClickException | TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(2)
        raise


def entry() -> None:
    """The ``workbench`` command: :func:`main`, then an exit that skips the interpreter's
    teardown. After a run has loaded MLflow, ragas and torch, freeing every module takes
    1-2 s more (docs/benchmarks.md, peers) while nothing is left to write: the exit waits
    for the other threads and runs every atexit handler first (MLflow flushes its trace
    queue there), then flushes the logs and the standard streams."""
    import atexit

    code = [1]  # an exception escaping main (a traceback) exits 1, as Python's own would
    atexit.register(_exit_now, code)  # registered first: runs after the handlers added later
    try:
        main()
        code[0] = 0
    except SystemExit as exc:
        code[0] = _exit_code(exc.code)
        raise


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    return value if isinstance(value, int) else 1  # sys.exit("message") prints and exits 1


def _exit_now(code: list[int]) -> None:
    import logging

    logging.shutdown()  # registered before ours, so it would otherwise run after
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be delivered
            pass
    os._exit(code[0])


if __name__ == "__main__":
    # `python -m workbench.cli`: run the imported module's app (feature modules register
    # their commands on `workbench.cli.app`, not on this `__main__` copy).
    from workbench import cli as _cli

    _cli.entry()
