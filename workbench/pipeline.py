"""The pipeline: the one place that composes the stages, top of the layers.

    spec -> plan -> retrieval -> generation (runner) -> scores (scoring)
         -> leaderboard (analysis) -> MLflow (tracking) -> gate decision (gates)

``wb.run`` and ``workbench run`` call :func:`run`; ``wb.gate`` and ``workbench gate``
call :func:`gate` (a logged run judged again by a policy). Nothing below this module
calls back up: the runner never scores, scoring never logs, gates never touch MLflow.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from threading import Thread
from typing import Any

from workbench import _paths
from workbench.analysis import leaderboard
from workbench.errors import ConfigError, WorkbenchError
from workbench.gates import evaluate_board, load_policy, pick, policy_of
from workbench.models import CallCache
from workbench.records import GateDecision, NullProgress, Plan, ProgressSink, RunResult
from workbench.runner import (
    count_model_calls,
    generate_all,
    plan,
    retrieve_all,
    samples_frame,
)
from workbench.scoring import check_scoring, score_run, warm_up
from workbench.spec import ExperimentSpec, GatePolicy, load_spec


class RunFailed(WorkbenchError):
    """More calls failed than ``execution.max_error_rate`` allows (the run is logged as FAILED)."""

    def __init__(self, result: RunResult):
        self.result = result
        super().__init__(result.failure or "run failed")


def prepare(
    experiment: str | Path | Mapping[str, Any] | ExperimentSpec,
    *,
    overrides: Sequence[str] = (),
    base_dir: str | Path | None = None,
) -> Plan:
    """Load and resolve an experiment without running it (what ``--dry-run`` shows)."""
    the_plan = plan(load_spec(experiment, overrides=overrides, base_dir=base_dir))
    # Scorers, thresholds, judge and gate policy fail now, not after the grid ran.
    check_scoring(the_plan.spec, where=the_plan.source.where)
    policy_of(the_plan.source)
    return the_plan


def run(
    experiment: str | Path | Mapping[str, Any] | ExperimentSpec,
    *,
    overrides: Sequence[str] = (),
    base_dir: str | Path | None = None,
    progress: ProgressSink | None = None,
    track: bool = True,
    tracking_uri: str | None = None,
    raise_on_failure: bool = True,
) -> RunResult:
    """Run every variant of the grid over every sample, score it, and log it to MLflow.

    ``experiment`` is a YAML path, a dict or an :class:`ExperimentSpec`; ``overrides``
    are ``field.path=value`` strings (as ``--set`` on the CLI). Returns a
    :class:`RunResult` whose ``samples`` / ``variants`` are DataFrames and which knows
    its MLflow run ids. Raises :class:`RunFailed` (after logging the run as FAILED) when
    the error rate passes ``execution.max_error_rate``.
    """
    started = time.perf_counter()
    the_plan = prepare(experiment, overrides=overrides, base_dir=base_dir)
    return execute(
        the_plan,
        progress=progress,
        track=track,
        tracking_uri=tracking_uri,
        raise_on_failure=raise_on_failure,
        started=started,
    )


def execute(
    the_plan: Plan,
    *,
    progress: ProgressSink | None = None,
    track: bool = True,
    tracking_uri: str | None = None,
    raise_on_failure: bool = True,
    started: float | None = None,
) -> RunResult:
    started = time.perf_counter() if started is None else started
    spec = the_plan.spec
    sink = progress or NullProgress()
    for model in the_plan.models.values():
        model.check()  # unreachable endpoint or missing key: fail before the grid starts
    if track:  # an unreachable store fails now, not after an hour of generation
        from workbench.tracking import ensure_store

        ensure_store(tracking_uri)
    remote = not any(getattr(m, "local", True) for m in the_plan.models.values())
    warming = _WarmUpOnFirstCall(sink, spec) if remote else None
    cache = CallCache(_paths.cache_dir() / "calls.sqlite") if spec.execution.cache else None
    try:
        retrievals = retrieve_all(the_plan, sink)
        records = generate_all(the_plan, retrievals, cache, warming or sink)
    finally:
        if cache is not None:
            cache.close()
    samples = samples_frame(the_plan, records)
    if warming is not None:
        warming.join()
    scored = score_run(the_plan, records, samples, progress=sink)
    result = RunResult(
        experiment=spec.name,
        run_key=the_plan.run_key,
        samples=scored.samples,
        variants=leaderboard(scored.samples, scored.metrics),
        metrics=scored.metrics,
        model_calls=count_model_calls(records),
        cached_calls=len(records) - count_model_calls(records),
    )
    if result.error_rate > spec.execution.max_error_rate:
        result.status = "FAILED"
        result.failure = (
            f"{result.error_rate:.0%} of calls failed (execution.max_error_rate is "
            f"{spec.execution.max_error_rate:.0%}); the errors are in the per-sample table"
        )
    result.wall_s = time.perf_counter() - started
    policy = policy_of(the_plan.source)
    if track:
        from workbench.tracking import log_run

        log_run(the_plan, records, result, tracking_uri=tracking_uri, progress=sink, policy=policy)
    if policy is not None and len(result.variants):
        # The decision for the run's best variant (its leaderboard's first row).
        result.gate = evaluate_board(result.variants, policy, result.variant_run_ids)[0]
        if track:
            from workbench.tracking import log_gate_decision, resolve_uri

            log_gate_decision(resolve_uri(tracking_uri), result.gate)
    if result.status == "FAILED" and raise_on_failure:
        raise RunFailed(result)
    return result


class _WarmUpOnFirstCall:
    """Passes progress through; at the first answer a remote model really made (not one
    from the cache), starts loading the scorers in the background, so their start-up
    overlaps the waiting on the endpoint. An all-cached rerun loads nothing it skips."""

    def __init__(self, sink: ProgressSink, spec: ExperimentSpec):
        self._sink, self._spec = sink, spec
        self._thread: Thread | bool | None = None

    def start(self, phase: str, total: int) -> None:
        self._sink.start(phase, total)

    def advance(self, n: int = 1, *, error: bool = False, cached: bool = False) -> None:
        if not cached and self._thread is None:
            try:
                self._thread = warm_up(self._spec)
            except Exception:  # an optimisation: the grid goes on, scoring loads on its own
                self._thread = False
        self._sink.advance(n, error=error, cached=cached)

    def finish(self) -> None:
        self._sink.finish()

    def log(self, message: str) -> None:
        self._sink.log(message)

    def join(self) -> None:
        if isinstance(self._thread, Thread):
            self._thread.join()


# --------------------------------------------------------------------- gate a logged run


@dataclass
class GateReport:
    """A logged run judged by a policy: every variant's decision and the chosen one."""

    experiment: str
    run_id: str
    policy: GatePolicy
    decisions: list[GateDecision]
    chosen: GateDecision

    @property
    def passed(self) -> bool:
        return self.chosen.passed


def gate(
    experiment_or_run: str,
    *,
    variant: str | None = None,
    policy: GatePolicy | str | Path | None = None,
    tracking_uri: str | None = None,
    record: bool = True,
) -> GateReport:
    """Gate a variant (default: the run's best) of an experiment's newest run, or of a run id.

    The decision is logged to the variant's MLflow run (tags + JSON artifact) when
    ``record`` is true. The policy is ``policy`` or the one the run was logged with.
    """
    from workbench.tracking import log_gate_decision
    from workbench.tracking.read import POLICY_FILE, load_experiment, read_json

    loaded = load_experiment(experiment_or_run, tracking_uri=tracking_uri)
    if isinstance(policy, GatePolicy):
        chosen_policy = policy
    elif policy is not None:
        chosen_policy = load_policy(policy)
    else:
        logged = read_json(loaded.tracking_uri, loaded.run_id, POLICY_FILE)
        if logged is None:
            raise ConfigError(
                f"run {loaded.run_id} has no gate policy",
                hint="pass --policy FILE, or add a gates: section to the experiment",
            )
        chosen_policy = GatePolicy.model_validate(logged)
    decisions = evaluate_board(loaded.board, chosen_policy, loaded.variant_run_ids)
    if variant is not None:
        variant = loaded.variant_ids([variant])[0]
    chosen = pick(decisions, variant)
    if record:
        log_gate_decision(loaded.tracking_uri, chosen)
    return GateReport(loaded.experiment, loaded.run_id, chosen_policy, decisions, chosen)
