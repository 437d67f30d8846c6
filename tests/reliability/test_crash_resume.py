"""Item 1: a grid run by ``python -m workbench.cli run`` is killed with SIGKILL in each phase;
the same command run again completes it.

The kill points are found by watching real progress from outside the process: the call log
the models append to (and the call cache), the probe scorer's log, and the MLflow store's
sqlite file. Afterwards every (variant, sample) is in MLflow exactly once (tables and
traces), no run is left RUNNING, and only the calls missing from the cache are made again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import write_spec
from tests.reliability import harness as h

pytestmark = pytest.mark.reliability

VARIANTS, SAMPLES = 8, 10
N = VARIANTS * SAMPLES

SPEC = f"""\
name: crash
dataset: {{path: datasets/acme_golden.jsonl, sample: {SAMPLES}}}
corpus: {{path: corpora/acme}}
grid:
  prompt: [qa_terse@1, qa_grounded@1]
  model: [counted:alpha, counted:beta]
  retriever: [none, bm25]
retrievers:
  bm25: {{type: bm25, k: 2, chunk_size: 80}}
thresholds: {{rouge_l: ">= 0.0"}}
scorers: [rank, safety, rouge_l, probe]
execution: {{concurrency: CONCURRENCY}}
"""


@dataclass(frozen=True)
class KillPoint:
    name: str
    phase: str
    concurrency: int
    condition: Callable[[Path], bool]
    """True once the run (seen from outside) has reached the point to kill it at."""


def _calls_done(tmp: Path, n: int) -> bool:
    return len(h.finished_keys(tmp / "calls.log")) >= n


def _scored(tmp: Path, n: int) -> bool:
    return len(h.read_log(tmp / "scores.log")) >= n


def _parent_created(tmp: Path) -> bool:
    return bool(h.parent_runs(h.mlflow_db(tmp)))


def _some_traces(tmp: Path) -> bool:
    return N // 3 <= h.trace_count(h.mlflow_db(tmp)) < N


def _children_done_parent_open(tmp: Path) -> bool:
    db = h.mlflow_db(tmp)
    children = h.child_runs(db)
    finished = [c for c in children if c[1] == "FINISHED"]
    parents = h.parent_runs(db)
    return len(finished) == VARIANTS and bool(parents) and parents[0][2] != "true"


KILL_POINTS = [
    KillPoint("generation", "generation", 1, lambda t: _calls_done(t, N // 3)),
    KillPoint("generation-4-workers", "generation", 4, lambda t: _calls_done(t, N // 2)),
    KillPoint("scoring", "scoring", 1, lambda t: _scored(t, N // 4)),
    KillPoint("logging-parent-created", "logging", 1, _parent_created),
    KillPoint("logging-traces", "logging", 1, _some_traces),
    KillPoint("logging-parent-last", "logging", 1, _children_done_parent_open),
]


def _snapshot(tmp: Path, cache: Path) -> dict[str, object]:
    db = h.mlflow_db(tmp)
    return {
        "cached": h.cache_keys(cache),
        "started": h.started_keys(tmp / "calls.log"),
        "finished": h.finished_keys(tmp / "calls.log"),
        "scored": len(h.read_log(tmp / "scores.log")),
        "runs": h.run_statuses(db),
        "traces": h.trace_count(db),
        "parents": h.parent_runs(db),
    }


@pytest.mark.parametrize("point", KILL_POINTS, ids=lambda p: p.name)
def test_sigkill_then_rerun_completes_without_loss_or_repeats(
    point: KillPoint, acme_dir: Path, tmp_path: Path, figure: Callable[..., None]
) -> None:
    import os

    cache = Path(os.environ["WORKBENCH_CACHE_DIR"])
    spec = write_spec(acme_dir, SPEC.replace("CONCURRENCY", str(point.concurrency)))
    env = h.subprocess_env(tmp_path, WB_CALL_DELAY="0.05", WB_SCORE_DELAY="0.03")
    args = ["run", str(spec)]

    first = h.launch(args, env, tmp_path, "first")
    reached = h.wait_for(first, lambda: point.condition(tmp_path), timeout=180, poll=0.005)
    killed_at = time.perf_counter() - first.started
    first.kill()
    _out, err = first.text()
    assert reached, f"the run ended before reaching {point.name}:\n{err[-3000:]}"
    at_kill = _snapshot(tmp_path, cache)
    cached_at_kill: set[str] = at_kill["cached"]  # type: ignore[assignment]
    started_first: list[str] = at_kill["started"]  # type: ignore[assignment]

    # The kill landed where it was meant to.
    if point.phase == "generation":
        assert 0 < len(cached_at_kill) < N
        assert at_kill["runs"] == {} and at_kill["scored"] == 0
        in_flight = len(started_first) - len(at_kill["finished"])  # type: ignore[arg-type]
        assert 0 <= in_flight <= point.concurrency
    elif point.phase == "scoring":
        assert len(cached_at_kill) == N and 0 < at_kill["scored"] < N  # type: ignore[operator]
        assert at_kill["runs"] == {}
    else:
        assert len(cached_at_kill) == N and at_kill["scored"] == N
        assert at_kill["parents"] and at_kill["parents"][0][1] == "RUNNING"  # type: ignore[index]

    t0 = time.perf_counter()
    second = h.launch(args, env, tmp_path, "second")
    code = second.proc.wait(timeout=600)
    rerun_s = time.perf_counter() - t0
    _out, err = second.text()
    assert code == 0, err[-3000:]

    log = h.read_log(tmp_path / "calls.log")
    started_second = [
        e["key"] for e in log if e["event"] == "start" and e["pid"] == second.proc.pid
    ]
    # Only what the cache lacked at the kill is generated again, each exactly once.
    assert not set(started_second) & cached_at_kill
    assert len(started_second) == len(set(started_second)) == N - len(cached_at_kill)
    assert set(started_second) | cached_at_kill == h.cache_keys(cache)
    assert len(h.cache_keys(cache)) == N

    uri = os.environ["MLFLOW_TRACKING_URI"]
    found = h.assert_store_complete(uri, "crash", variants=VARIANTS, samples=SAMPLES)
    parent = found["parent"]
    if point.phase == "logging":  # the interrupted parent run was resumed, not duplicated
        assert parent.info.run_id == at_kill["parents"][0][0]  # type: ignore[index]
        assert parent.data.tags["workbench.resumed"] == "1"
    assert parent.data.metrics["model_calls"] == N - len(cached_at_kill)
    assert parent.data.metrics["cached_calls"] == len(cached_at_kill)
    figure(
        kill_point=point.name,
        concurrency=point.concurrency,
        killed_after_s=round(killed_at, 2),
        cached_at_kill=len(cached_at_kill),
        in_flight_at_kill=len(started_first) - len(at_kill["finished"]),  # type: ignore[arg-type]
        scored_at_kill=at_kill["scored"],
        traces_at_kill=at_kill["traces"],
        runs_at_kill=at_kill["runs"],
        calls_total=N,
        calls_on_rerun=len(started_second),
        rerun_s=round(rerun_s, 2),
    )


REAL_SPEC = """\
name: crash-real
dataset: {path: datasets/acme_golden.jsonl, sample: 4}
corpus: {path: corpora/acme}
grid:
  prompt: [qa_grounded@1]
  model: [llama_cpp:gemma-3-270m, llama_cpp:smollm2-135m]
  retriever: [bm25]
retrievers:
  bm25: {type: bm25, k: 2, chunk_size: 80}
params: {max_tokens: 48}
thresholds: {rouge_l: ">= 0.0"}
scorers: [rank, safety, rouge_l]
"""


@pytest.mark.slow
def test_sigkill_during_real_local_generation_then_rerun(
    acme_dir: Path, tmp_path: Path, figure: Callable[..., None]
) -> None:
    """The same with the real llama.cpp models (their calls counted by the plugin's wrapper
    of the ``llama_cpp`` provider: same identity, same cache keys)."""
    import os

    cache = Path(os.environ["WORKBENCH_CACHE_DIR"])
    spec = write_spec(acme_dir, REAL_SPEC)
    env = h.subprocess_env(tmp_path)
    args = ["run", str(spec)]
    total = 2 * 4
    first = h.launch(args, env, tmp_path, "first")
    reached = h.wait_for(first, lambda: _calls_done(tmp_path, 3), timeout=400, poll=0.05)
    killed_at = time.perf_counter() - first.started
    first.kill()
    assert reached, first.text()[1][-3000:]
    cached_at_kill = h.cache_keys(cache)
    started_first = h.started_keys(tmp_path / "calls.log")
    assert 3 <= len(cached_at_kill) < total
    assert h.run_statuses(h.mlflow_db(tmp_path)) == {}

    t0 = time.perf_counter()
    second = h.launch(args, env, tmp_path, "second")
    code = second.proc.wait(timeout=600)
    rerun_s = time.perf_counter() - t0
    assert code == 0, second.text()[1][-3000:]
    log = h.read_log(tmp_path / "calls.log")
    started_second = [
        e["key"] for e in log if e["event"] == "start" and e["pid"] == second.proc.pid
    ]
    assert not set(started_second) & cached_at_kill
    assert len(set(started_second)) == len(started_second) == total - len(cached_at_kill)
    assert len(h.cache_keys(cache)) == total
    found = h.assert_store_complete(
        os.environ["MLFLOW_TRACKING_URI"], "crash-real", variants=2, samples=4
    )
    assert found["parent"].data.metrics["model_calls"] == total - len(cached_at_kill)
    figure(
        kill_point="generation (real llama.cpp models)",
        killed_after_s=round(killed_at, 2),
        cached_at_kill=len(cached_at_kill),
        in_flight_at_kill=len(started_first) - len(cached_at_kill),
        calls_total=total,
        calls_on_rerun=len(started_second),
        rerun_s=round(rerun_s, 2),
    )
