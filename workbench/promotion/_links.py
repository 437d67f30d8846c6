"""Where people read promotion evidence: the MLflow UI and the workbench app.

``$WORKBENCH_MLFLOW_UI`` or ``[app] mlflow_ui`` in ``workbench.toml`` (default
http://127.0.0.1:5000, what ``make mlflow`` serves) and ``$WORKBENCH_APP_URL`` or
``[app] url`` (default http://127.0.0.1:8501, ``make app``): the same settings the app
reads, so a description written by the CLI links where the team's UI is.
"""

from __future__ import annotations

import os
import re
import tomllib
from typing import Any

from workbench.tracking import experiment_id
from workbench.users import config_path

DEFAULT_MLFLOW_UI = "http://127.0.0.1:5000"
DEFAULT_APP = "http://127.0.0.1:8501"


def _app_settings() -> dict[str, Any]:
    path = config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    app = data.get("app")
    return app if isinstance(app, dict) else {}


def _url(env: str, key: str, default: str) -> str:
    url = str(os.environ.get(env) or _app_settings().get(key) or "").strip().rstrip("/")
    return url if re.match(r"^https?://", url) else default


def mlflow_ui_url() -> str:
    """Base URL of the MLflow UI (``$WORKBENCH_MLFLOW_UI``, ``[app] mlflow_ui``)."""
    return _url("WORKBENCH_MLFLOW_UI", "mlflow_ui", DEFAULT_MLFLOW_UI)


def app_url() -> str:
    """Base URL of the workbench app (``$WORKBENCH_APP_URL``, ``[app] url``)."""
    return _url("WORKBENCH_APP_URL", "url", DEFAULT_APP)


def run_link(experiment: str, run_id: str, uri: str) -> str:
    """A run's page in the MLflow UI."""
    exp_id = experiment_id(experiment, uri, create=False) or "0"
    return f"{mlflow_ui_url()}/#/experiments/{exp_id}/runs/{run_id}"
