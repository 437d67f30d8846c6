"""How the workbench's runs are tagged in MLflow, and found again by those tags.

An experiment run is a parent run (``workbench.role=parent``, its run key) with one child
run per variant (``workbench.variant_id``); a parent is marked complete only once its
logging finished, so an interrupted logging is found again and resumed.
"""

from __future__ import annotations

import subprocess
from functools import cache
from typing import TYPE_CHECKING, Any

from workbench import _paths
from workbench._version import __version__

if TYPE_CHECKING:
    from mlflow.entities import Run

    from workbench.records import Plan

TAG_ROLE = "workbench.role"
TAG_KEY = "workbench.run_key"
TAG_EXPERIMENT = "workbench.experiment"
TAG_VARIANT = "workbench.variant_id"
TAG_COMPLETE = "workbench.complete"
TAG_RESUMED = "workbench.resumed"
PARENT_TAG = "mlflow.parentRunId"


@cache
def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=_paths.project_root(),
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def common_tags(plan: Plan) -> dict[str, str]:
    """Tags of every run of ``plan``: experiment, run key, workbench version, git commit."""
    tags = {TAG_EXPERIMENT: plan.spec.name, TAG_KEY: plan.run_key, "workbench.version": __version__}
    if commit := git_commit():
        tags["mlflow.source.git.commit"] = commit
    return tags


def parent_tags(plan: Plan) -> dict[str, str]:
    return {
        **common_tags(plan),
        TAG_ROLE: "parent",
        "mlflow.note.content": plan.spec.description or "",
    }


def find_resumable(mlflow_client: Any, exp_id: str, run_key: str) -> Run | None:
    """An earlier parent run of the same run key whose logging never completed."""
    runs = mlflow_client.search_runs(
        [exp_id],
        filter_string=f"tags.`{TAG_KEY}` = '{run_key}' and tags.`{TAG_ROLE}` = 'parent'",
        order_by=["attributes.start_time DESC"],
        max_results=20,
    )
    for run in runs:
        if run.data.tags.get(TAG_COMPLETE) != "true":
            return run
    return None


def children(mlflow_client: Any, exp_id: str, parent_id: str) -> dict[str, Run]:
    """variant id -> the parent's child run of that variant (a FINISHED one if any)."""
    runs = mlflow_client.search_runs(
        [exp_id], filter_string=f"tags.`{PARENT_TAG}` = '{parent_id}'", max_results=5000
    )
    found: dict[str, Run] = {}
    for run in runs:
        vid = run.data.tags.get(TAG_VARIANT)
        if vid and (vid not in found or run.info.status == "FINISHED"):
            found[vid] = run
    return found
