"""Item 5: the MLflow store goes away in the middle of logging.

A real ``mlflow server`` (one worker, sqlite backend and artifacts in tmp) is killed while
the CLI logs a grid to it. The CLI reports a clear error (exit 2, one ``error:`` line, no
traceback), the model outputs stay in the local call cache, and once the server is back
the same command finishes the logging without calling a model again (the plugin's call
log counts calls across processes) and without duplicating a run, table row or trace.

A second case restarts the server within the client's HTTP retry window: the run then
completes without any error.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import write_spec
from tests.reliability import harness as h
from tests.servers import MlflowServer, mlflow_server

pytestmark = pytest.mark.reliability

VARIANTS, SAMPLES = 8, 10
N = VARIANTS * SAMPLES
SPEC = f"""\
name: storefault
dataset: {{path: datasets/acme_golden.jsonl, sample: {SAMPLES}}}
corpus: {{path: corpora/acme}}
grid:
  prompt: [qa_terse@1, qa_grounded@1]
  model: [counted:alpha, counted:beta]
  retriever: [none, bm25]
retrievers:
  bm25: {{type: bm25, k: 2, chunk_size: 80}}
thresholds: {{rouge_l: ">= 0.0"}}
scorers: [rank, safety, rouge_l]
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MlflowServer]:
    with mlflow_server(tmp_path / "server") as srv:
        yield srv


def _env(tmp_path: Path, server: MlflowServer, **extra: str) -> dict[str, str]:
    return h.subprocess_env(tmp_path, MLFLOW_TRACKING_URI=server.url, WB_CALL_DELAY="0.02", **extra)


def test_server_killed_mid_logging_then_rerun_finishes_it(
    server: MlflowServer, acme_dir: Path, tmp_path: Path, figure: Callable[..., None]
) -> None:
    cache = Path(os.environ["WORKBENCH_CACHE_DIR"])
    spec = write_spec(acme_dir, SPEC)
    # Few HTTP retries, so the dead store is reported in seconds (defaults: 7 retries with
    # exponential backoff, about two minutes; see the second test).
    env = _env(
        tmp_path, server, MLFLOW_HTTP_REQUEST_MAX_RETRIES="1", MLFLOW_HTTP_REQUEST_TIMEOUT="10"
    )
    first = h.launch(["run", str(spec)], env, tmp_path, "first")
    reached = h.wait_for(first, lambda: server.traces() >= N // 4, timeout=300, poll=0.02)
    traces_at_kill = server.traces()
    server.kill()
    killed_at = time.perf_counter() - first.started
    assert reached, first.text()[1][-3000:]
    code = first.proc.wait(timeout=300)
    failed_after = time.perf_counter() - first.started - killed_at
    _out, err = first.text()
    assert code == 2, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    assert f"logging to the MLflow store {server.url} failed" in lines[0]
    assert "rerun the same command" in lines[0]
    # Every answer is in the local cache; nothing was lost with the store.
    assert len(h.cache_keys(cache)) == N
    calls_first = len(h.started_keys(tmp_path / "calls.log"))
    assert calls_first == N

    restart_s = server.start()
    second = h.launch(["run", str(spec)], env, tmp_path, "second")
    assert second.proc.wait(timeout=600) == 0, second.text()[1][-3000:]
    assert len(h.started_keys(tmp_path / "calls.log")) == N  # zero model calls on the rerun
    found = h.assert_store_complete(server.url, "storefault", variants=VARIANTS, samples=SAMPLES)
    assert found["parent"].data.tags["workbench.resumed"] == "1"
    assert found["parent"].data.metrics["model_calls"] == 0
    figure(
        scenario="mlflow server SIGKILLed mid-logging, rerun after restart",
        traces_at_kill=traces_at_kill,
        killed_after_s=round(killed_at, 2),
        error_reported_after_s=round(failed_after, 2),
        error_line=lines[0][:300],
        calls_first=calls_first,
        calls_rerun=0,
        server_restart_s=round(restart_s, 2),
    )


def test_server_back_within_the_retry_window_run_completes(
    server: MlflowServer, acme_dir: Path, tmp_path: Path, figure: Callable[..., None]
) -> None:
    """With MLflow's HTTP retries (here 7, backoff factor 1: about a minute of patience), a
    store that is restarted a few seconds later costs nothing but time."""
    spec = write_spec(acme_dir, SPEC)
    env = _env(
        tmp_path,
        server,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="7",
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="1",
        MLFLOW_HTTP_REQUEST_TIMEOUT="30",
    )
    run = h.launch(["run", str(spec)], env, tmp_path, "run")
    reached = h.wait_for(run, lambda: server.traces() >= N // 4, timeout=300, poll=0.02)
    server.kill()
    assert reached, run.text()[1][-3000:]
    time.sleep(3)
    assert run.proc.poll() is None, run.text()[1][-3000:]  # still retrying
    restart_s = server.start()
    code = run.proc.wait(timeout=600)
    _out, err = run.text()
    assert code == 0, err[-3000:]
    assert len(h.started_keys(tmp_path / "calls.log")) == N
    h.assert_store_complete(server.url, "storefault", variants=VARIANTS, samples=SAMPLES)
    figure(
        scenario="mlflow server down ~3 s + restart inside the HTTP retry window",
        server_restart_s=round(restart_s, 2),
        wall_s=round(time.perf_counter() - run.started, 2),
    )


def test_local_sqlite_store_locked_mid_logging_then_rerun(
    acme_dir: Path, tmp_path: Path, figure: Callable[..., None]
) -> None:
    """The default local store (sqlite) refuses writes: another process holds a write lock
    longer than MLflow's busy timeout (20 s). Same outcome: exit 2, cache kept, rerun
    completes with zero model calls and no duplicates."""
    import sqlite3

    cache = Path(os.environ["WORKBENCH_CACHE_DIR"])
    spec = write_spec(acme_dir, SPEC)
    env = h.subprocess_env(tmp_path, WB_CALL_DELAY="0.02")
    db = h.mlflow_db(tmp_path)
    first = h.launch(["run", str(spec)], env, tmp_path, "first")
    reached = h.wait_for(first, lambda: h.trace_count(db) >= N // 4, timeout=300, poll=0.02)
    assert reached, first.text()[1][-3000:]
    blocker = sqlite3.connect(str(db), timeout=30, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    locked_at = time.perf_counter()
    try:
        code = first.proc.wait(timeout=300)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    failed_after = time.perf_counter() - locked_at
    _out, err = first.text()
    assert code == 2, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    assert "logging to the MLflow store sqlite:///" in lines[0] and "locked" in lines[0]
    assert len(h.cache_keys(cache)) == N
    assert h.run_statuses(db).get("RUNNING", 0) >= 1  # what the rerun must resume

    second = h.launch(["run", str(spec)], env, tmp_path, "second")
    assert second.proc.wait(timeout=600) == 0, second.text()[1][-3000:]
    assert len(h.started_keys(tmp_path / "calls.log")) == N  # zero model calls on the rerun
    found = h.assert_store_complete(
        os.environ["MLFLOW_TRACKING_URI"], "storefault", variants=VARIANTS, samples=SAMPLES
    )
    assert found["parent"].data.tags["workbench.resumed"] == "1"
    figure(
        scenario="local sqlite store write-locked by another process mid-logging",
        error_reported_after_s=round(failed_after, 2),
        error_line=lines[0][:300],
        calls_rerun=0,
    )
