"""``wb.run``: spec -> plan -> retrieval -> generation -> scoring -> MLflow."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench import _paths
from workbench.errors import WorkbenchError
from workbench.runner._cache import CallCache
from workbench.runner._execute import count_model_calls, generate_all, retrieve_all
from workbench.runner._grid import Plan, plan
from workbench.runner._progress import NullProgress, ProgressSink
from workbench.runner._result import RunResult, samples_frame
from workbench.spec import ExperimentSpec, load_spec


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
    from workbench.gates import policy_of
    from workbench.scoring._run import check_scoring

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

    from workbench.scoring import score_run

    if warming is not None:
        warming.join()
    scored = score_run(the_plan, records, samples, progress=sink)
    from workbench.analysis import leaderboard

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
    if track:
        from workbench.tracking import log_run

        log_run(the_plan, records, result, tracking_uri=tracking_uri, progress=sink)
    from workbench.gates import policy_of

    policy = policy_of(the_plan.source)
    if policy is not None and len(result.variants):
        from workbench.gates.api import decide

        result.gate = decide(result, policy)
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

    def __init__(self, sink: ProgressSink, spec: Any):
        self._sink, self._spec = sink, spec
        self._thread: Any = None

    def start(self, phase: str, total: int) -> None:
        self._sink.start(phase, total)

    def advance(self, n: int = 1, *, error: bool = False, cached: bool = False) -> None:
        if not cached and self._thread is None:
            from workbench.scoring import warm_up

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
        if self._thread:
            self._thread.join()
