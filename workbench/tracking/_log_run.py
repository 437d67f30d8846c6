"""Log a finished run to MLflow: a parent run, a child run per variant, a trace per answer.

Idempotent, so an interrupted logging phase resumes: the parent is found again by its
run key, a FINISHED child is skipped, traces already stored (tag ``workbench.sample_id``)
are not written twice, and tables are written whole (overwritten, never appended).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench._gc import paused
from workbench.errors import TrackingError
from workbench.tracking._prompts import register_prompt
from workbench.tracking._run_contents import (
    LEADERBOARD,
    METRICS_FILE,
    POLICY_FILE,
    TABLE,
    clean,
    link_prompt,
    log_metrics,
    log_spec,
    log_variant_params,
    write_table,
)
from workbench.tracking._runs import (
    PARENT_TAG,
    TAG_COMPLETE,
    TAG_RESUMED,
    TAG_ROLE,
    TAG_VARIANT,
    children,
    common_tags,
    find_resumable,
    parent_tags,
)
from workbench.tracking._store import client, ensure_store, experiment_id, redact, set_process_uri
from workbench.tracking._traces import existing_samples, log_traces

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Run
    from mlflow.entities.model_registry import PromptVersion

    from workbench.records import GateDecision, Plan, ProgressSink, RunResult, SampleRecord, Variant
    from workbench.spec import GatePolicy


def log_run(
    plan: Plan,
    records: Sequence[SampleRecord],
    result: RunResult,
    *,
    tracking_uri: str | None = None,
    progress: ProgressSink | None = None,
    policy: GatePolicy | None = None,
) -> RunResult:
    """Write ``result`` to MLflow; fills in ``result.run_id`` and ``result.variant_run_ids``.

    ``policy`` (the experiment's gate policy, if any) is stored with the parent run, so
    ``workbench gate`` can judge the run later by the policy it ran under."""
    uri = ensure_store(tracking_uri)
    set_process_uri(uri)
    result.tracking_uri = redact(uri)
    try:
        with paused():
            _log(plan, records, result, uri, progress, policy)
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
    plan: Plan,
    records: Sequence[SampleRecord],
    result: RunResult,
    uri: str,
    progress: ProgressSink | None,
    policy: GatePolicy | None,
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
    parent_id = _parent_run(mlflow_client, exp_id, plan)
    result.run_id = parent_id
    found = children(mlflow_client, exp_id, parent_id)
    by_variant: dict[str, list[SampleRecord]] = {}
    for record in records:
        by_variant.setdefault(record.variant_id, []).append(record)
    scores = _scores_by_sample(result.samples)
    if progress is not None:
        progress.start("logging", len(records))
    try:
        for variant in plan.variants:
            vid = variant.variant_id
            child = found.get(vid)
            if child is not None and child.info.status == "FINISHED":
                result.variant_run_ids[vid] = child.info.run_id
                trace_ids = existing_samples(mlflow_client, exp_id, child.info.run_id)
                _set_trace_ids(result, vid, trace_ids)
                if progress is not None:
                    progress.advance(len(by_variant.get(vid, [])), cached=True)
                continue
            _log_variant(
                mlflow_client,
                exp_id,
                parent_id,
                plan,
                variant,
                child=child,
                prompt=prompts[variant.prompt.ref],
                records=by_variant.get(vid, []),
                result=result,
                scores=scores,
                progress=progress,
            )
    finally:
        if progress is not None:
            progress.finish()
    _log_parent(mlflow_client, parent_id, plan, result, policy)


def _parent_run(mlflow_client: Any, exp_id: str, plan: Plan) -> str:
    """A new parent run, or the unfinished one of the same run key (resumed)."""
    parent = find_resumable(mlflow_client, exp_id, plan.run_key)
    if parent is None:
        return str(
            mlflow_client.create_run(
                exp_id,
                run_name=f"{plan.spec.name} {time.strftime('%Y-%m-%d %H:%M')}",
                tags=parent_tags(plan),
            ).info.run_id
        )
    parent_id = str(parent.info.run_id)
    mlflow_client.update_run(parent_id, status="RUNNING")
    resumed = int(parent.data.tags.get(TAG_RESUMED, "0")) + 1
    mlflow_client.set_tag(parent_id, TAG_RESUMED, str(resumed))
    return parent_id


def _log_variant(
    mlflow_client: Any,
    exp_id: str,
    parent_id: str,
    plan: Plan,
    variant: Variant,
    *,
    child: Run | None,
    prompt: PromptVersion,
    records: Sequence[SampleRecord],
    result: RunResult,
    scores: Mapping[tuple[str, str], Mapping[str, Any]],
    progress: ProgressSink | None,
) -> None:
    """One variant's child run (new, or an unfinished one resumed): params, traces,
    metrics, its per-sample table, the spec and the prompt link; then FINISHED."""
    vid = variant.variant_id
    if child is None:
        tags = {PARENT_TAG: parent_id, TAG_VARIANT: vid, TAG_ROLE: "variant", **common_tags(plan)}
        tags["workbench.variant"] = variant.label
        run_id = mlflow_client.create_run(exp_id, run_name=variant.label, tags=tags).info.run_id
        log_variant_params(mlflow_client, run_id, plan, variant, prompt)
    else:
        run_id = child.info.run_id
        mlflow_client.update_run(run_id, status="RUNNING")
        # The run may have died between creating this child and logging its params.
        existing = mlflow_client.get_run(run_id)
        log_variant_params(mlflow_client, run_id, plan, variant, prompt, existing=existing)
    result.variant_run_ids[vid] = run_id
    trace_ids = log_traces(
        mlflow_client,
        exp_id=exp_id,
        run_id=run_id,
        plan=plan,
        variant=variant,
        records=records,
        scores=scores,
        metrics={m.name: m for m in result.metrics},
        progress=progress,
        new_run=child is None,
    )
    _set_trace_ids(result, vid, trace_ids)
    rows = result.samples[result.samples["variant_id"] == vid]
    log_metrics(mlflow_client, run_id, result.variants.set_index("variant_id").loc[vid], rows)
    write_table(mlflow_client, run_id, rows.reset_index(drop=True), TABLE)
    log_spec(mlflow_client, run_id, plan)
    link_prompt(mlflow_client, run_id, prompt)
    mlflow_client.set_terminated(run_id, "FINISHED")


def _set_trace_ids(result: RunResult, variant_id: str, trace_ids: Mapping[str, str]) -> None:
    samples = result.samples
    if "trace_id" not in samples.columns:
        samples["trace_id"] = None
    mask = samples["variant_id"] == variant_id
    samples.loc[mask, "trace_id"] = samples.loc[mask, "sample_id"].map(trace_ids)


def _scores_by_sample(samples: pd.DataFrame) -> dict[tuple[str, str], Mapping[str, Any]]:
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in samples.to_dict(orient="records"):
        out[(str(row["variant_id"]), str(row["sample_id"]))] = row
    return out


def _log_parent(
    mlflow_client: Any, parent_id: str, plan: Plan, result: RunResult, policy: GatePolicy | None
) -> None:
    """The parent run's params, run-wide metrics, leaderboard, spec, metric directions and
    gate policy; then terminated, then marked complete."""
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
    new = [Param(k, clean(v)) for k, v in params.items() if k not in existing]
    now = int(time.time() * 1000)
    samples = result.samples
    metrics = {
        "calls": float(len(samples)),
        "model_calls": float(result.model_calls),
        "cached_calls": float(result.cached_calls),
        "error_rate": result.error_rate,
        "n_errors": float(samples["error"].notna().sum()) if len(samples) else 0.0,
        "retries": float((samples["attempts"] - 1).clip(lower=0).sum()) if len(samples) else 0.0,
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
    log_spec(mlflow_client, parent_id, plan)
    mlflow_client.log_dict(parent_id, [dataclasses.asdict(m) for m in result.metrics], METRICS_FILE)
    if policy is not None:
        mlflow_client.log_dict(parent_id, policy.model_dump(mode="json"), POLICY_FILE)
    if result.failure:
        mlflow_client.set_tag(parent_id, "workbench.failure", result.failure)
    # Terminate, then mark complete: a run that dies between the two is resumed (and
    # closed) by the rerun; the other order would leave a "complete" run RUNNING forever.
    mlflow_client.set_terminated(parent_id, "FAILED" if result.status == "FAILED" else "FINISHED")
    mlflow_client.set_tag(parent_id, TAG_COMPLETE, "true")


def log_gate_decision(uri: str, decision: GateDecision) -> None:
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
