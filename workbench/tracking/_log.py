"""Log a finished run to MLflow: a parent run, a child run per variant, a trace per answer.

Idempotent, so an interrupted logging phase resumes: the parent is found again by its
run key, a FINISHED child is skipped, traces already stored (tag ``workbench.sample_id``)
are not written twice, and tables are written whole (overwritten, never appended).
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from workbench import __version__, _paths
from workbench._gc import paused
from workbench.errors import TrackingError
from workbench.tracking._prompts import prompt_uri, register_prompt
from workbench.tracking._store import client, ensure_store, experiment_id, redact, set_process_uri
from workbench.tracking._traces import existing_samples, log_traces

if TYPE_CHECKING:
    import pandas as pd

    from workbench.runner import Plan, RunResult, SampleRecord
    from workbench.runner._progress import ProgressSink

TABLE = "samples.json"
LEADERBOARD = "leaderboard.json"
TAG_ROLE = "workbench.role"
TAG_KEY = "workbench.run_key"
TAG_EXPERIMENT = "workbench.experiment"
TAG_VARIANT = "workbench.variant_id"
TAG_COMPLETE = "workbench.complete"
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


def log_run(
    plan: Plan,
    records: Sequence[SampleRecord],
    result: RunResult,
    *,
    tracking_uri: str | None = None,
    progress: ProgressSink | None = None,
) -> RunResult:
    """Write ``result`` to MLflow; fills in ``result.run_id`` and ``result.variant_run_ids``."""
    uri = ensure_store(tracking_uri)
    set_process_uri(uri)
    result.tracking_uri = redact(uri)
    try:
        with paused():
            _log(plan, records, result, uri, progress)
    except KeyboardInterrupt:
        _mark_killed(uri, result.run_id)
        raise
    except TrackingError:
        raise
    except Exception as exc:  # mlflow, sqlalchemy, http: the store failed mid-way
        raise TrackingError(
            f"logging to the MLflow store {redact(uri)} failed: {type(exc).__name__}: {_first_line(exc)}",
            hint="model outputs are cached: rerun the same command once the store is back to finish logging",
        ) from exc
    return result


def _mark_killed(uri: str, run_id: str | None) -> None:
    """Ctrl-C while logging: say so in MLflow (a rerun of the same command resumes it)."""
    if run_id is None:
        return
    try:
        client(uri).set_terminated(run_id, "KILLED")
    except Exception:  # the store may be what is failing; the rerun repairs it
        return


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


def _log(
    plan: Plan, records: Sequence[SampleRecord], result: RunResult, uri: str, progress: Any
) -> None:
    mlflow_client = client(uri)
    spec = plan.spec
    exp_id = experiment_id(spec.name, uri)
    assert exp_id is not None
    result.experiment_id = exp_id
    prompts = {
        p.ref: register_prompt(mlflow_client, p, spec.name)
        for p in {v.prompt for v in plan.variants}
    }

    parent = _find_resumable(mlflow_client, exp_id, plan.run_key)
    if parent is None:
        parent_id = mlflow_client.create_run(
            exp_id,
            run_name=f"{spec.name} {time.strftime('%Y-%m-%d %H:%M')}",
            tags=_parent_tags(plan),
        ).info.run_id
    else:
        parent_id = parent.info.run_id
        mlflow_client.update_run(parent_id, status="RUNNING")
        resumed = int(parent.data.tags.get("workbench.resumed", "0")) + 1
        mlflow_client.set_tag(parent_id, "workbench.resumed", str(resumed))
    result.run_id = parent_id
    children = _children(mlflow_client, exp_id, parent_id)

    by_variant: dict[str, list[SampleRecord]] = {}
    for record in records:
        by_variant.setdefault(record.variant_id, []).append(record)
    board = result.variants.set_index("variant_id")
    scores = _scores_by_sample(result.samples)
    if progress is not None:
        progress.start("logging", len(records))
    try:
        for variant in plan.variants:
            vid = variant.variant_id
            child = children.get(vid)
            if child is not None and child.info.status == "FINISHED":
                result.variant_run_ids[vid] = child.info.run_id
                trace_ids = existing_samples(mlflow_client, exp_id, child.info.run_id)
                _set_trace_ids(result, vid, trace_ids)
                if progress is not None:
                    progress.advance(len(by_variant.get(vid, [])), cached=True)
                continue
            new_run = child is None
            if child is None:
                tags = {
                    PARENT_TAG: parent_id,
                    TAG_VARIANT: vid,
                    TAG_ROLE: "variant",
                    **_common_tags(plan),
                }
                tags["workbench.variant"] = variant.label
                run_id = mlflow_client.create_run(
                    exp_id, run_name=variant.label, tags=tags
                ).info.run_id
                _log_variant_params(
                    mlflow_client, run_id, plan, variant, prompts[variant.prompt.ref]
                )
            else:
                run_id = child.info.run_id
                mlflow_client.update_run(run_id, status="RUNNING")
                # The run may have died between creating this child and logging its params.
                _log_variant_params(
                    mlflow_client,
                    run_id,
                    plan,
                    variant,
                    prompts[variant.prompt.ref],
                    existing=mlflow_client.get_run(run_id),
                )
            result.variant_run_ids[vid] = run_id
            trace_ids = log_traces(
                mlflow_client,
                exp_id=exp_id,
                run_id=run_id,
                plan=plan,
                variant=variant,
                records=by_variant.get(vid, []),
                scores=scores,
                metrics={m.name: m for m in result.metrics},
                progress=progress,
                new_run=new_run,
            )
            _set_trace_ids(result, vid, trace_ids)
            rows = result.samples[result.samples["variant_id"] == vid]
            _log_metrics(mlflow_client, run_id, board.loc[vid], rows)
            write_table(mlflow_client, run_id, rows.reset_index(drop=True), TABLE)
            mlflow_client.log_text(run_id, _spec_yaml(plan), "spec.yaml")
            _link_prompt(mlflow_client, run_id, prompts[variant.prompt.ref])
            mlflow_client.set_terminated(run_id, "FINISHED")
    finally:
        if progress is not None:
            progress.finish()

    _log_parent(mlflow_client, parent_id, plan, result)


def _set_trace_ids(result: RunResult, variant_id: str, trace_ids: Mapping[str, str]) -> None:
    samples = result.samples
    if "trace_id" not in samples.columns:
        samples["trace_id"] = None
    mask = samples["variant_id"] == variant_id
    samples.loc[mask, "trace_id"] = samples.loc[mask, "sample_id"].map(trace_ids)


# --------------------------------------------------------------------------- finding


def _find_resumable(mlflow_client: Any, exp_id: str, run_key: str) -> Any | None:
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


def _children(mlflow_client: Any, exp_id: str, parent_id: str) -> dict[str, Any]:
    runs = mlflow_client.search_runs(
        [exp_id], filter_string=f"tags.`{PARENT_TAG}` = '{parent_id}'", max_results=5000
    )
    found: dict[str, Any] = {}
    for run in runs:
        vid = run.data.tags.get(TAG_VARIANT)
        if vid and (vid not in found or run.info.status == "FINISHED"):
            found[vid] = run
    return found


# --------------------------------------------------------------------------- writing


def _common_tags(plan: Plan) -> dict[str, str]:
    tags = {TAG_EXPERIMENT: plan.spec.name, TAG_KEY: plan.run_key, "workbench.version": __version__}
    if commit := git_commit():
        tags["mlflow.source.git.commit"] = commit
    return tags


def _parent_tags(plan: Plan) -> dict[str, str]:
    return {
        **_common_tags(plan),
        TAG_ROLE: "parent",
        "mlflow.note.content": plan.spec.description or "",
    }


def _clean(value: Any) -> str:
    text = "" if value is None else str(value)
    return text[:6000]


def _log_variant_params(
    mlflow_client: Any,
    run_id: str,
    plan: Plan,
    variant: Any,
    prompt_version: Any,
    *,
    existing: Any = None,
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
    missing = [Param(k, _clean(v)) for k, v in params.items() if k not in logged]
    if missing:
        mlflow_client.log_batch(run_id, params=missing)
    if existing is None or not (existing.inputs and existing.inputs.dataset_inputs):
        _log_dataset(mlflow_client, run_id, plan)


def _log_dataset(mlflow_client: Any, run_id: str, plan: Plan) -> None:
    from mlflow.entities import DatasetInput, InputTag

    tag = InputTag(key="mlflow.data.context", value="eval")
    mlflow_client.log_inputs(run_id, datasets=[DatasetInput(_dataset_entity(plan), tags=[tag])])


_DATASETS: dict[tuple[Any, ...], Any] = {}


def _dataset_entity(plan: Plan) -> Any:
    """The golden set as an MLflow dataset entity, made once per dataset version: every
    variant's run links the same one, and inferring its schema costs ~50 ms."""
    from mlflow.data.pandas_dataset import from_pandas

    golden = plan.golden
    key = (golden.name, golden.digest, str(golden.source), tuple(s.id for s in golden.samples))
    if key not in _DATASETS:
        with warnings.catch_warnings():  # MLflow registers its local source class twice
            warnings.filterwarnings(
                "ignore", message="The specified dataset source can be interpreted"
            )
            dataset = from_pandas(
                golden.to_pandas(), source=golden.source, name=golden.name, digest=golden.digest
            )
        if len(_DATASETS) >= 8:
            _DATASETS.clear()
        _DATASETS[key] = dataset._to_mlflow_entity()
    return _DATASETS[key]


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _log_metrics(mlflow_client: Any, run_id: str, row: pd.Series, rows: pd.DataFrame) -> None:
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
    for start in range(0, len(metrics), 900):
        mlflow_client.log_batch(run_id, metrics=metrics[start : start + 900])


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


def _spec_yaml(plan: Plan) -> str:
    data = plan.spec.model_dump(mode="json", exclude_none=True)
    header = f"# resolved spec of {plan.source.where}; run key {plan.run_key}\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _link_prompt(mlflow_client: Any, run_id: str, version: Any) -> None:
    try:
        mlflow_client.link_prompt_version_to_run(run_id, version)
    except Exception as exc:  # already linked on a resumed run
        if "already" not in str(exc).lower():
            raise


def _scores_by_sample(samples: pd.DataFrame) -> dict[tuple[str, str], Mapping[str, Any]]:
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in samples.to_dict(orient="records"):
        out[(str(row["variant_id"]), str(row["sample_id"]))] = row
    return out


def _log_parent(mlflow_client: Any, parent_id: str, plan: Plan, result: RunResult) -> None:
    from mlflow.entities import Metric, Param

    spec = plan.spec
    params = {
        "experiment": spec.name,
        "variants": len(plan.variants),
        "samples": len(plan.golden),
        "dataset.name": plan.golden.name,
        "dataset.digest": plan.golden.digest,
        "corpus.digest": plan.corpus.digest if plan.corpus else "none",
        "corpus.path": plan.corpus.source if plan.corpus else "none",
        "prompts": ",".join(sorted({v.prompt.ref for v in plan.variants})),
        "models": ",".join(sorted({v.model.label for v in plan.variants})),
        "retrievers": ",".join(sorted({v.retriever.label for v in plan.variants})),
    }
    existing = mlflow_client.get_run(parent_id).data.params
    new = [Param(k, _clean(v)) for k, v in params.items() if k not in existing]
    now = int(time.time() * 1000)
    metrics = {
        "calls": float(len(result.samples)),
        "model_calls": float(result.model_calls),
        "cached_calls": float(result.cached_calls),
        "error_rate": result.error_rate,
        "n_errors": float(result.samples["error"].notna().sum()) if len(result.samples) else 0.0,
        "retries": float((result.samples["attempts"] - 1).clip(lower=0).sum())
        if len(result.samples)
        else 0.0,
        "wall_s": result.wall_s,
        "best_pass_rate": float(result.variants["pass_rate"].max())
        if len(result.variants)
        else 0.0,
    }
    mlflow_client.log_batch(
        parent_id, params=new, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()]
    )
    board = result.variants.copy()
    board["run_id"] = board["variant_id"].map(result.variant_run_ids)
    write_table(mlflow_client, parent_id, board, LEADERBOARD)
    mlflow_client.log_text(parent_id, _spec_yaml(plan), "spec.yaml")
    mlflow_client.log_dict(
        parent_id, [dataclasses.asdict(m) for m in result.metrics], "metrics.json"
    )
    from workbench.gates import policy_of

    policy = policy_of(plan.source)
    if policy is not None:
        mlflow_client.log_dict(parent_id, policy.model_dump(mode="json"), "gate_policy.json")
    if result.failure:
        mlflow_client.set_tag(parent_id, "workbench.failure", result.failure)
    # Terminate, then mark complete: a run that dies between the two is resumed (and
    # closed) by the rerun; the other order would leave a "complete" run RUNNING forever.
    mlflow_client.set_terminated(parent_id, "FAILED" if result.status == "FAILED" else "FINISHED")
    mlflow_client.set_tag(parent_id, TAG_COMPLETE, "true")


def log_gate_decision(uri: str, decision: Any) -> None:
    """Tags (verdict, policy) and a JSON artifact on the variant's run."""
    if not decision.run_id:
        return
    mlflow_client = client(ensure_store(uri))
    run_id = decision.run_id
    verdict = "pass" if decision.passed else "fail"
    for key, value in {
        "gate.verdict": verdict,
        "gate.policy": f"{decision.policy}@{decision.policy_version}",
        "gate.policy_digest": decision.policy_digest,
        "gate.failed_rules": ",".join(r.rule for r in decision.failed_rules) or "-",
    }.items():
        mlflow_client.set_tag(run_id, key, value)
    name = f"gate/{decision.policy}-v{decision.policy_version}-{decision.policy_digest}.json"
    mlflow_client.log_dict(run_id, decision.to_dict(), name)
