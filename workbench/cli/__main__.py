"""``python -m workbench.cli``."""

from workbench.cli import entry

entry()
