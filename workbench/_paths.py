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


def is_file(path: Path) -> bool:
    """``path.is_file()``, but False instead of an exception for a name the OS refuses
    (too long, a NUL byte): a bad path in a spec is a "not found", not a crash."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def expanded(text: str) -> Path:
    """``Path(text).expanduser()``, or the path as written when ``~user`` names no user."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        return Path(text)


def resolved(path: Path) -> Path:
    """``path.resolve()``, or the plain absolute path for a name the OS refuses (NUL byte)."""
    try:
        return path.resolve()
    except (OSError, ValueError, RuntimeError):
        return Path(os.path.abspath(path))


def is_dir(path: Path) -> bool:
    """``path.is_dir()``, but False for a name the OS refuses (see :func:`is_file`)."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def cache_dir() -> Path:
    """``$WORKBENCH_CACHE_DIR`` or ``<project>/.cache/workbench`` (created on demand)."""
    path = Path(os.environ.get("WORKBENCH_CACHE_DIR") or project_root() / ".cache" / "workbench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_cache_dir() -> Path:
    """``$WORKBENCH_USER_CACHE``, else ``$XDG_CACHE_HOME/workbench``, else
    ``~/.cache/workbench``: what is derived from installed packages alone and can serve
    every project of this user (not created here)."""
    if env := os.environ.get("WORKBENCH_USER_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "workbench"


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
