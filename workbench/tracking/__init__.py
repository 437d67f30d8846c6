"""MLflow tracking: the only package in workbench that imports mlflow (lazily: importing
this package does not).

Where things are: ``_log_run`` (log_run: parent and child runs), ``_run_contents``
(params, metrics, tables, spec), ``_datasets``, ``_runs`` (run tags, resume), ``_traces``
(a run's traces and the choice of writer: ``_bulk``, ``_trace_store``, ``_trace_public``,
drafted by ``_trace_draft`` / ``_span_draft``), ``_prompts`` (Prompt Registry),
``_model_registry``, ``_audit_log``, ``_store`` (the store itself); the public modules
``read`` (runs back into frames), ``feedback`` (ratings as human feedback) and
``registry`` (what promotion keeps in MLflow).
"""

from workbench.tracking._log_run import log_gate_decision, log_run
from workbench.tracking._run_contents import LEADERBOARD, TABLE, write_table
from workbench.tracking._runs import git_commit
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
