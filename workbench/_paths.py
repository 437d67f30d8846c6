"""Where the project lives: its root, cache dir and default MLflow store.

The project root is the nearest ancestor of the working directory holding a
``workbench.toml`` (so a notebook in ``notebooks/`` logs to the same ``mlruns/`` as
the CLI at the top level), else ``$WORKBENCH_HOME``, else the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_FILE = "workbench.toml"


def project_root(start: Path | None = None) -> Path:
    if env := os.environ.get("WORKBENCH_HOME"):
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return here


def cache_dir() -> Path:
    """``$WORKBENCH_CACHE_DIR`` or ``<project>/.cache/workbench`` (created on demand)."""
    path = Path(os.environ.get("WORKBENCH_CACHE_DIR") or project_root() / ".cache" / "workbench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` or the project's sqlite store ``mlruns/mlflow.db``."""
    if uri := os.environ.get("MLFLOW_TRACKING_URI"):
        return uri
    return f"sqlite:///{project_root() / 'mlruns' / 'mlflow.db'}"
