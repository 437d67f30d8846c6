"""The ``workbench`` command line: one typer app, its commands grouped by job.

    experiments.py  run, gate, compare, schema
    promotion.py    propose, queue, approve, reject, rollback, champion, audit, user

Errors the workbench raises on purpose print one ``error:`` line and exit 2 (1 for a
failed gate or run); ``--debug`` shows the traceback instead.
"""

from workbench.cli import experiments, promotion  # noqa: F401  (register the commands)
from workbench.cli._app import app, console, entry, main

__all__ = ["app", "console", "entry", "main"]
