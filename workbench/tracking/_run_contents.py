"""What a run holds besides its traces: params, metrics, tables, the resolved spec and
the prompt link. Each write is safe to repeat on a resumed run (params only where
missing, tables written whole)."""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from workbench.tracking._datasets import log_dataset
from workbench.tracking._prompts import prompt_uri

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Run
    from mlflow.entities.model_registry import PromptVersion

    from workbench.records import Plan, Variant

TABLE = "samples.json"
LEADERBOARD = "leaderboard.json"
SPEC_FILE = "spec.yaml"
METRICS_FILE = "metrics.json"
"""The metrics' names and directions (``MetricInfo``), on the parent run."""
POLICY_FILE = "gate_policy.json"
"""The gate policy the run ran under, on the parent run."""
_VALUE_LIMIT = 6000
_METRICS_PER_BATCH = 900


def clean(value: Any) -> str:
    """A param value as MLflow stores it (a string, cut to its length limit)."""
    text = "" if value is None else str(value)
    return text[:_VALUE_LIMIT]


def log_variant_params(
    mlflow_client: Any,
    run_id: str,
    plan: Plan,
    variant: Variant,
    prompt_version: PromptVersion,
    *,
    existing: Run | None = None,
) -> None:
    """Params and the dataset input of a child run; on a resumed run (``existing``), only
    what an interrupted earlier attempt did not log."""
    from mlflow.entities import Param

    golden = plan.golden
    params = {
        **variant.params_for_tracking(),
        "prompt.registry_uri": prompt_uri(prompt_version),
        "dataset.name": golden.name,
        "dataset.version": golden.version,
        "dataset.digest": golden.digest,
        "dataset.samples": len(golden),
        "dataset.total": golden.total,
    }
    logged = existing.data.params if existing is not None else {}
    missing = [Param(k, clean(v)) for k, v in params.items() if k not in logged]
    if missing:
        mlflow_client.log_batch(run_id, params=missing)
    if existing is None or not (existing.inputs and existing.inputs.dataset_inputs):
        log_dataset(mlflow_client, run_id, plan)


def log_metrics(mlflow_client: Any, run_id: str, row: pd.Series, rows: pd.DataFrame) -> None:
    """A variant's aggregate metrics (its leaderboard ``row``) and counts over its
    per-sample ``rows``: unscored samples per metric, retries, the cached fraction."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    values: dict[str, float] = {}
    for key, value in row.items():
        number = _finite(value)
        if number is not None and not isinstance(value, bool):
            values[str(key)] = number
    for metric, count in _unscored_counts(rows).items():
        values[f"unscored.{metric}"] = float(count)
    values["retries"] = float((rows["attempts"] - 1).clip(lower=0).sum())
    values["cached_fraction"] = float(rows["cached"].mean()) if len(rows) else 0.0
    metrics = [Metric(k, v, now, 0) for k, v in values.items()]
    for start in range(0, len(metrics), _METRICS_PER_BATCH):
        mlflow_client.log_batch(run_id, metrics=metrics[start : start + _METRICS_PER_BATCH])


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _unscored_counts(rows: pd.DataFrame) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reasons in rows.get("unscored", []):
        for metric in reasons or {}:
            counts[metric] = counts.get(metric, 0) + 1
    return counts


def write_table(mlflow_client: Any, run_id: str, frame: pd.DataFrame, name: str) -> None:
    """Write a table artifact whole (``log_table`` appends to an existing file, which would
    duplicate rows on resume), readable by ``mlflow.load_table`` and the MLflow UI."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        frame.to_json(path, orient="split", index=False, date_format="iso", default_handler=str)
        mlflow_client.log_artifact(run_id, str(path))
    run = mlflow_client.get_run(run_id)
    logged = json.loads(run.data.tags.get("mlflow.loggedArtifacts", "[]"))
    entry = {"path": name, "type": "table"}
    if entry not in logged:
        mlflow_client.set_tag(run_id, "mlflow.loggedArtifacts", json.dumps([*logged, entry]))


def log_spec(mlflow_client: Any, run_id: str, plan: Plan) -> None:
    """The resolved spec, as YAML headed by where it came from and its run key."""
    data = plan.spec.model_dump(mode="json", exclude_none=True)
    header = f"# resolved spec of {plan.source.where}; run key {plan.run_key}\n"
    text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    mlflow_client.log_text(run_id, text, SPEC_FILE)


def link_prompt(mlflow_client: Any, run_id: str, version: PromptVersion) -> None:
    try:
        mlflow_client.link_prompt_version_to_run(run_id, version)
    except Exception as exc:  # already linked on a resumed run
        if "already" not in str(exc).lower():
            raise
