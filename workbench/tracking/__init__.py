"""MLflow tracking: the only package in workbench that imports mlflow."""

from workbench.tracking._log import (
    LEADERBOARD,
    TABLE,
    git_commit,
    log_gate_decision,
    log_run,
    write_table,
)
from workbench.tracking._store import (
    artifact_root,
    ensure_store,
    experiment_id,
    get_client,
    redact,
    resolve_uri,
    set_process_uri,
)

__all__ = [
    "LEADERBOARD",
    "TABLE",
    "artifact_root",
    "ensure_store",
    "experiment_id",
    "get_client",
    "git_commit",
    "log_gate_decision",
    "log_run",
    "redact",
    "resolve_uri",
    "set_process_uri",
    "write_table",
]
