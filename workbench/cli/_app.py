"""The ``workbench`` typer app, its console and its exit codes.

Errors the workbench raises on purpose print one ``error:`` line and exit 2 (1 for a
failed gate or run); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

import workbench  # noqa: F401  (telemetry-off defaults)
from workbench.errors import GateFailed, WorkbenchError
from workbench.plugins import load_plugins

app = typer.Typer(
    name="workbench",
    help="Evaluation-first LLM experiments: run grids, score them, compare, gate, promote.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_STATE: dict[str, Any] = {"debug": False}

ExperimentOrRun = Annotated[
    str, typer.Argument(help="Experiment name (its newest run) or an MLflow run id.")
]
"""The first argument of every command that reads a logged run."""


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
    load_plugins()


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps workbench errors to ``error: ...`` and exit codes."""
    try:
        app(args=argv, standalone_mode=False)
    except WorkbenchError as exc:
        if _STATE["debug"]:
            raise
        from workbench.pipeline import RunFailed

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
