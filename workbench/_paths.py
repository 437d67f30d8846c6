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
    """``$MLFLOW_TRACKING_URI``, else ``[tracking] uri`` of the project file (a relative
    sqlite path is relative to the project root), else ``<project>/mlruns/mlflow.db``."""
    if uri := os.environ.get("MLFLOW_TRACKING_URI"):
        return uri
    root = project_root()
    configured = _project_setting(root, "tracking", "uri")
    if isinstance(configured, str) and configured:
        prefix = "sqlite:///"
        if configured.startswith(prefix) and not configured[len(prefix) :].startswith("/"):
            return f"{prefix}{root / configured[len(prefix) :]}"
        return configured
    return f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"


def _project_setting(root: Path, section: str, key: str) -> object:
    import tomllib

    path = root / PROJECT_FILE
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError:
        return None  # reported with the file name by workbench.users / plugins when used
    return (data.get(section) or {}).get(key)
