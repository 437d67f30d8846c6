"""MLflow server mode for real: scripts/server.sh starts PostgreSQL and ``mlflow server`` on
free ports in a temporary folder; a grid, the gate (the CLI, in a subprocess that only
knows MLFLOW_TRACKING_URI) and a promotion run against it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import require, script_smart_and_dull, write_spec
from tests.servers import free_port
from workbench.pipeline import run

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "server.sh"

SPEC = """\
name: served
dataset: {path: datasets/acme_golden.jsonl, sample: 8}
corpus: {path: corpora/acme}
grid:
  prompt: [qa_terse@1]
  model: [scripted:smart, scripted:dull]
  retriever: [bm25]
scorers: [rank, safety, rouge_l]
thresholds: {rouge_l: ">= 0.0"}
gates:
  name: served-gates
  version: "1"
  min_pass_rate_lower_bound: 0.5
  max_high_severity_findings: 0
  primary_metric: pass_rate
"""


def _postgres_installed() -> bool:
    """Where scripts/server.sh looks: $WB_PG_BIN, Debian's folders, or pg_ctl on PATH."""
    return bool(
        os.environ.get("WB_PG_BIN")
        or any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        or shutil.which("pg_ctl")
    )


def _server(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dict, Path]]:
    require(_postgres_installed(), "PostgreSQL is not installed (make system-deps)")
    require(
        shutil.which("runuser") is not None or os.geteuid() != 0,
        "runuser is needed to run PostgreSQL as root",
    )
    # Not below tmp_path: pytest's base folder is private to root, PostgreSQL's user
    # could not enter it (the script would move the cluster to /var/tmp; both work).
    state = Path(tempfile.mkdtemp(prefix="wb-server-", dir="/tmp"))
    state.chmod(0o755)
    artifacts = tmp_path / "server-artifacts"
    env = {
        **os.environ,
        "WB_SERVER_DIR": str(state),
        "WB_PG_PORT": str(free_port()),
        "WB_MLFLOW_PORT": str(free_port()),
        "WB_ARTIFACTS_DIR": str(artifacts),
    }
    started = _server(env, "start")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        uri = f"http://127.0.0.1:{env['WB_MLFLOW_PORT']}"
        assert f"export MLFLOW_TRACKING_URI={uri}" in started.stdout
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        yield uri, env, artifacts
    finally:
        _server(env, "destroy")
        shutil.rmtree(state, ignore_errors=True)


def test_grid_gate_and_promotion_against_the_server(
    server, acme_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, env, artifacts = server
    monkeypatch.setenv("WORKBENCH_CONFIG", str(acme_dir.parent / "workbench.toml"))
    again = _server(env, "start")  # idempotent: reuses the running cluster and server
    assert again.returncode == 0 and f"MLFLOW_TRACKING_URI={uri}" in again.stdout
    assert "creating a PostgreSQL cluster" not in again.stderr
    status = _server(env, "status").stdout
    assert "postgresql: running on 127.0.0.1:" in status and f"mlflow: running at {uri}" in status

    script_smart_and_dull()
    result = run(write_spec(acme_dir, SPEC))
    assert result.tracking_uri == uri

    client = MlflowClient(uri, registry_uri=uri)  # not a registry an earlier test set
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["workbench.complete"] == "true"
    child_id = next(iter(result.variant_run_ids.values()))
    table = client.load_table(result.experiment_id, "samples.json", run_ids=[child_id])
    assert len(table) == 8
    traces = client.search_traces(locations=[result.experiment_id], run_id=child_id)
    assert len(traces) == 8 and {s.name for s in traces[0].data.spans} == {
        "answer",
        "retrieval",
        "generation",
    }
    assert any(a.name == "rouge_l" for a in traces[0].info.assessments)
    stored = {p.name for p in artifacts.rglob("*") if p.is_file()}
    assert {"samples.json", "leaderboard.json", "spec.yaml"} <= stored  # proxied artifacts

    # The CLI, in a fresh process that knows the server only through the variable.
    gate = subprocess.run(
        [sys.executable, "-m", "workbench", "gate", "served"],
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=acme_dir,
    )
    assert gate.returncode in (0, 1), gate.stdout + gate.stderr
    assert "decision logged to MLflow run" in gate.stdout
    best = result.gate.run_id
    assert client.get_run(best).data.tags["gate.verdict"] in ("pass", "fail")

    promotion = pytest.importorskip("workbench.promotion")
    from workbench.users import User, set_user

    roles = acme_dir.parent / "workbench.toml"  # who may propose and approve
    roles.write_text("[tracking]\n", encoding="utf-8")
    set_user("sam", "scientist", "pw-sam", roles)
    set_user("lee", "lead", "pw-lee", roles)

    label = result.variants.sort_values("pass_rate").iloc[-1]["variant"]
    candidate = promotion.propose(result, variant=label, user=User("sam", "scientist"))
    promotion.approve(
        candidate.version, experiment="served", reason="server test", user=User("lee", "lead")
    )
    champion = promotion.champion("served")
    assert champion is not None and str(champion.version) == str(candidate.version)
    assert client.get_model_version_by_alias("served", "champion").version == str(candidate.version)

    # The same PostgreSQL database straight from the client (no server): the bulk trace
    # writer's INSERTs on PostgreSQL, read back through MLflow.
    monkeypatch.chdir(acme_dir.parent)  # artifacts of a bare database URI go to ./mlruns
    monkeypatch.setenv("PGPASSFILE", str(Path(env["WB_SERVER_DIR"]) / "pgpass"))
    database = f"postgresql+psycopg2://workbench@127.0.0.1:{env['WB_PG_PORT']}/mlflow"
    from workbench.tracking import _bulk

    bulk_writes: list[int] = []
    real = _bulk.write_traces

    def counted(*a: object) -> None:
        real(*a)
        bulk_writes.append(1)  # only once it returned: a failure falls back silently

    monkeypatch.setattr(_bulk, "write_traces", counted)
    direct = run(
        write_spec(acme_dir, SPEC.replace("name: served", "name: served-direct")),
        tracking_uri=database,
    )
    assert bulk_writes, "the bulk writer did not succeed on PostgreSQL"
    pg_client = MlflowClient(database)
    child_id = next(iter(direct.variant_run_ids.values()))
    traces = pg_client.search_traces(locations=[direct.experiment_id], run_id=child_id)
    assert len(traces) == 8 and all(len(t.data.spans) == 3 for t in traces)
    assert {a.name for a in traces[0].info.assessments} >= {"rouge_l", "passed"}
    assert set(direct.samples["trace_id"]) >= {t.info.trace_id for t in traces}
    # ... and the server shows them like its own.
    assert len(client.search_traces(locations=[direct.experiment_id], run_id=child_id)) == 8

    stopped = _server(env, "stop")
    assert stopped.returncode == 0
    assert "postgresql: stopped" in _server(env, "status").stdout
