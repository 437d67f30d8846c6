"""Helpers of the reliability tests: run the CLI in a subprocess, watch its real progress
(call log, call cache, MLflow store) from outside, and check the store afterwards."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "tests.reliability.plugin"


def read_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The complete lines of a plugin call/score log (a line cut by SIGKILL is ignored)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


def started_keys(path: str | os.PathLike[str]) -> list[str]:
    return [e["key"] for e in read_log(path) if e.get("event") == "start"]


def finished_keys(path: str | os.PathLike[str]) -> list[str]:
    return [e["key"] for e in read_log(path) if e.get("event") == "end"]


def subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test's environment (its own store and cache dir) plus the plugin and its logs."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["WORKBENCH_PLUGINS"] = PLUGIN
    env["WB_CALL_LOG"] = str(tmp_path / "calls.log")
    env["WB_SCORE_LOG"] = str(tmp_path / "scores.log")
    env.update(extra)
    return env


@dataclass
class Launched:
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    started: float

    def text(self) -> tuple[str, str]:
        return (
            self.stdout.read_text(errors="replace"),
            self.stderr.read_text(errors="replace"),
        )

    def kill(self) -> None:
        """SIGKILL the whole process group (the CLI and anything it started)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


def launch(args: list[str], env: Mapping[str, str], cwd: Path, tag: str) -> Launched:
    """``python -m workbench.cli <args>`` in its own process group, output to files."""
    out, err = cwd / f"{tag}.stdout", cwd / f"{tag}.stderr"
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=cwd,
        env=dict(env),
        stdout=out.open("wb"),
        stderr=err.open("wb"),
        start_new_session=True,
    )
    return Launched(proc, out, err, time.perf_counter())


def run_cli(
    args: list[str], env: Mapping[str, str], cwd: Path, tag: str, timeout: float = 600
) -> tuple[int, str, str]:
    launched = launch(args, env, cwd, tag)
    try:
        code = launched.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        launched.kill()
        raise
    out, err = launched.text()
    return code, out, err


def wait_for(
    launched: Launched, condition: Callable[[], bool], *, timeout: float, poll: float = 0.01
) -> bool:
    """Poll ``condition`` until it holds (True) or the process ends / time runs out (False)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if launched.proc.poll() is not None:
            return False
        with contextlib.suppress(sqlite3.Error):
            if condition():
                return True
        time.sleep(poll)
    return False


# --------------------------------------------------------------------------- raw stores


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read a sqlite file another process is writing (WAL readers never block writers)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def cache_keys(cache_dir: Path) -> set[str]:
    """The keys in the call cache (only successful generations are stored)."""
    return {row[0] for row in query(cache_dir / "calls.sqlite", "SELECT key FROM calls")}


def mlflow_db(tmp_path: Path) -> Path:
    return tmp_path / "mlruns" / "mlflow.db"


def run_statuses(db: Path) -> dict[str, int]:
    rows = query(db, "SELECT status, COUNT(*) FROM runs GROUP BY status")
    return {status: n for status, n in rows}


def parent_runs(db: Path) -> list[tuple[str, str, str | None]]:
    """(run id, status, workbench.complete tag) of every parent run."""
    return query(
        db,
        "SELECT r.run_uuid, r.status, c.value FROM runs r "
        "JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = 'workbench.role' AND t.value = 'parent' "
        "LEFT JOIN tags c ON c.run_uuid = r.run_uuid AND c.key = 'workbench.complete'",
    )


def child_runs(db: Path) -> list[tuple[str, str]]:
    return query(
        db,
        "SELECT r.run_uuid, r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
        "AND t.key = 'workbench.role' AND t.value = 'variant'",
    )


def trace_count(db: Path) -> int:
    rows = query(db, "SELECT COUNT(*) FROM trace_info")
    return int(rows[0][0]) if rows else 0


# --------------------------------------------------------------------------- checking


def assert_store_complete(
    tracking_uri: str, experiment: str, *, variants: int, samples: int
) -> dict[str, Any]:
    """Every (variant, sample) exactly once, in tables and traces; nothing left RUNNING.

    Returns what it found (parent run, child run ids) for further checks."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment!r}"
    every = client.search_runs([exp.experiment_id], max_results=5000)
    running = [r.info.run_id for r in every if r.info.status != "FINISHED"]
    assert not running, f"runs not FINISHED: {running}"
    parents = [r for r in every if r.data.tags.get("workbench.role") == "parent"]
    assert len(parents) == 1, f"{len(parents)} parent runs"
    parent = parents[0]
    assert parent.data.tags.get("workbench.complete") == "true"
    children = [r for r in every if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == len(every) - 1, "a run outside the parent"
    vids = [c.data.tags["workbench.variant_id"] for c in children]
    assert len(vids) == variants and len(set(vids)) == variants, vids
    for child in children:
        run_id = child.info.run_id
        assert child.data.params.get("variant_id") == child.data.tags["workbench.variant_id"]
        table = read_table(client, run_id, "samples.json")
        assert len(table) == samples and table["sample_id"].nunique() == samples, len(table)
        traces = []
        token = None
        while True:
            page = client.search_traces(
                locations=[exp.experiment_id],
                run_id=run_id,
                include_spans=False,
                max_results=500,
                page_token=token,
            )
            traces.extend(page)
            token = page.token
            if not token:
                break
        ids = [t.info.tags["workbench.sample_id"] for t in traces]
        assert len(ids) == samples and len(set(ids)) == samples, (len(ids), len(set(ids)))
        assert set(ids) == set(table["sample_id"])
        assert set(table["trace_id"]) == {t.info.trace_id for t in traces}
        assert child.data.metrics["n"] == samples
        full = client.get_run(run_id)
        assert full.data.params.get("dataset.digest"), "child run without its params"
        datasets = full.inputs.dataset_inputs if full.inputs else []
        assert len(datasets) == 1, f"{len(datasets)} dataset inputs on {run_id}"
        assert full.data.tags.get("mlflow.linkedPrompts"), "no linked prompt"
        artifacts = {a.path for a in client.list_artifacts(run_id)}
        assert {"samples.json", "spec.yaml"} <= artifacts, artifacts
    return {"parent": parent, "children": children, "experiment_id": exp.experiment_id}


def read_table(client: Any, run_id: str, name: str) -> Any:
    """A table artifact through ``client`` (``MlflowClient.load_table`` searches the process's
    global tracking URI, not the client's)."""
    import tempfile

    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, name, tmp)
        return pd.read_json(path, orient="split")


@contextlib.contextmanager
def timed(record: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        record[name] = time.perf_counter() - t0
