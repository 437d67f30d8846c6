"""Item 6: an API key in the environment, named by the provider config, is found nowhere the
workbench writes: MLflow params, tags, metric names, dataset inputs, artifacts, traces
(spans and assessments), prompt versions (read through ``MlflowClient``), the raw store
files (sqlite, WAL, artifacts) and the call cache, the CLI's stdout/stderr, and the model
server's log. The endpoints are made careless on purpose: every error body quotes the key
the request carried, so the key reaches the workbench in error messages and must be
scrubbed before anything is recorded.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_spec
from tests.reliability import harness as h
from tests.reliability.fault_server import FaultConfig, fault_server
from tests.servers import free_port, server_process, smollm2_path

pytestmark = pytest.mark.reliability


def new_key() -> str:
    return "sk-wb-" + secrets.token_hex(16)


def spec_text(url: str, *, name: str = "secrets", max_retries: int = 0, extra: str = "") -> str:
    return f"""\
name: {name}
dataset: {{path: datasets/acme_golden.jsonl, sample: 12}}
corpus: {{path: corpora/acme}}
models:
  remote: {{provider: openai, base_url: "{url}", model: remote-model, api_key_env: WB_SECRET_KEY,
           timeout_s: 30, max_retries: {max_retries}, price: {{input_per_1m: 1.0, output_per_1m: 2.0}}}}
grid:
  prompt: [qa_terse@1, qa_grounded@1]
  model: [remote]
  retriever: [none, bm25]
retrievers:
  bm25: {{type: bm25, k: 2, chunk_size: 80}}
thresholds: {{rouge_l: ">= 0.0"}}
scorers: [rank, safety, rouge_l]
execution: {{concurrency: 2, max_error_rate: 0.6}}
{extra}"""


class Scan:
    """Where a secret was found, and how much was looked at."""

    def __init__(self, secret: str):
        self.secret = secret
        self.needle = secret.encode()
        self.found: list[str] = []
        self.items = 0

    def text(self, where: str, value: Any) -> None:
        self.items += 1
        if self.secret in str(value):
            self.found.append(where)

    def data(self, where: str, value: bytes) -> None:
        self.items += 1
        if self.needle in value:
            self.found.append(where)

    def files(self, roots: Iterable[Path]) -> None:
        for root in roots:
            for path in Path(root).rglob("*"):
                if path.is_file():
                    self.data(str(path), path.read_bytes())

    def mlflow(self, tracking_uri: str) -> None:
        """Everything the store answers through the client."""
        from mlflow import MlflowClient
        from mlflow.entities import ViewType

        client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
        for exp in client.search_experiments(view_type=ViewType.ALL):
            self.text(f"experiment {exp.name}", [exp.name, exp.tags, exp.artifact_location])
            for run in client.search_runs(
                [exp.experiment_id], run_view_type=ViewType.ALL, max_results=5000
            ):
                rid = run.info.run_id
                self.text(f"run {rid} params", run.data.params)
                self.text(f"run {rid} tags", run.data.tags)
                self.text(f"run {rid} metric names", list(run.data.metrics))
                self.text(f"run {rid} info", run.info.to_proto())
                full = client.get_run(rid)
                if full.inputs:
                    for ds in full.inputs.dataset_inputs:
                        self.text(f"run {rid} dataset", ds.to_proto())
                self._artifacts(client, rid, None)
            token = None
            while True:
                page = client.search_traces(
                    locations=[exp.experiment_id], max_results=200, page_token=token
                )
                for trace in page:
                    self.text(f"trace {trace.info.trace_id}", trace.to_json())
                token = page.token
                if not token:
                    break
        for prompt in client.search_prompts():
            for version in client.search_prompt_versions(prompt.name):
                self.text(
                    f"prompt {prompt.name}/{version.version}",
                    [version.template, version.tags, version.commit_message],
                )

    def _artifacts(self, client: Any, run_id: str, path: str | None) -> None:
        for item in client.list_artifacts(run_id, path):
            if item.is_dir:
                self._artifacts(client, run_id, item.path)
                continue
            with tempfile.TemporaryDirectory() as tmp:
                local = client.download_artifacts(run_id, item.path, tmp)
                self.data(f"{run_id}/{item.path} artifact", Path(local).read_bytes())


def full_scan(secret: str, tmp_path: Path, outputs: dict[str, str]) -> Scan:
    scan = Scan(secret)
    scan.mlflow(os.environ["MLFLOW_TRACKING_URI"])
    scan.files([tmp_path / "mlruns", Path(os.environ["WORKBENCH_CACHE_DIR"])])
    for name, text in outputs.items():
        scan.text(name, text)
    return scan


def errors_in_store(experiment: str) -> list[str]:
    from mlflow import MlflowClient

    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name(experiment)
    out: list[str] = []
    for run in client.search_runs([exp.experiment_id], "tags.`workbench.role` = 'variant'"):
        table = h.read_table(client, run.info.run_id, "samples.json")
        out += [e for e in table["error"] if isinstance(e, str)]
    return out


def test_key_never_written_while_the_endpoint_echoes_it_in_errors(
    acme_dir: Path, tmp_path: Path, figure: Callable[..., None]
) -> None:
    key = new_key()
    config = FaultConfig(fault_rate=0.3, seed=5, kinds=("429", "500"), api_key=key, echo_key=True)
    with fault_server(config) as server:
        env = h.subprocess_env(tmp_path, WB_SECRET_KEY=key)
        spec = write_spec(acme_dir, spec_text(server.url))
        code, out, err = h.run_cli(["run", str(spec)], env, tmp_path, "run")
        echoed = sum(1 for r in server.requests if r.kind in ("429", "500"))
    assert code == 0, err[-3000:]
    assert echoed > 0  # the key did come back in error bodies ...
    errors = errors_in_store("secrets")
    assert errors and all("request key: ***" in e for e in errors), errors[:3]  # ... scrubbed
    scan = full_scan(key, tmp_path, {"cli stdout": out, "cli stderr": err})
    assert not scan.found, scan.found
    assert scan.items > 100
    figure(scenario="fault server echoing the key in 30 % error bodies", echoed_errors=echoed,
           recorded_errors=len(errors), items_scanned=scan.items, found=len(scan.found))  # fmt: skip


def test_rejected_key_mid_grid_and_at_preflight_is_not_leaked(
    acme_dir: Path, tmp_path: Path, figure: Callable[..., None]
) -> None:
    good, wrong = new_key(), new_key()
    # /models open: the wrong key is only refused on the completions (401, not retried).
    config = FaultConfig(fault_rate=0.0, api_key=good, echo_key=True, open_models=True)
    with fault_server(config) as server:
        env = h.subprocess_env(tmp_path, WB_SECRET_KEY=wrong)
        spec = write_spec(acme_dir, spec_text(server.url, max_retries=3))
        code, out, err = h.run_cli(["run", str(spec)], env, tmp_path, "mid")
        rejected = sum(1 for r in server.requests if r.kind == "unauthorized")
    assert code == 1 and "calls failed" in err, err[-2000:]  # the error budget, logged FAILED
    assert rejected == 4 * 12  # one attempt per call: a 401 is not retried
    errors = errors_in_store("secrets")
    assert len(errors) == 48 and all(e.startswith("HTTP 401") and "***" in e for e in errors)
    # Pre-flight: the key is refused on /models before any call.
    config = FaultConfig(fault_rate=0.0, api_key=good, echo_key=True)
    with fault_server(config) as server:
        spec = write_spec(acme_dir, spec_text(server.url, name="preflight"), name="pre.yaml")
        code2, out2, err2 = h.run_cli(["run", str(spec)], env, tmp_path, "pre")
    assert code2 == 2 and "refused the key (HTTP 401)" in err2 and "WB_SECRET_KEY" in err2
    outputs = {
        "cli stdout": out,
        "cli stderr": err,
        "preflight stdout": out2,
        "preflight stderr": err2,
    }
    scan = full_scan(wrong, tmp_path, outputs)
    assert not scan.found, scan.found
    assert not full_scan(good, tmp_path, outputs).found
    figure(scenario="wrong key: 401 on every call (echoed) and at pre-flight", rejected_calls=rejected,
           items_scanned=scan.items, found=len(scan.found))  # fmt: skip


@pytest.mark.slow
def test_key_against_a_real_llama_server(
    acme_dir: Path, tmp_path: Path, figure: Callable[..., None]
) -> None:
    """The same scan with a real ``llama_cpp.server`` requiring the key (its log included)."""
    key = new_key()
    port = free_port()
    log_path = tmp_path / "llama-server.log"
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path()),
        "--model_alias", "remote-model", "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--api_key", key, "--verbose", "true",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    with server_process(
        cmd,
        f"{base}/models",
        name="llama_cpp.server",
        log=log_path,
        headers={"Authorization": f"Bearer {key}"},
        start_timeout=90,
    ):
        env = h.subprocess_env(tmp_path, WB_SECRET_KEY=key)
        text = (
            spec_text(base)
            .replace("sample: 12", "sample: 3")
            .replace("retriever: [none, bm25]", "retriever: [bm25]")
        )
        text = text.replace("name: secrets", "name: secrets\nparams: {max_tokens: 32}")
        spec = write_spec(acme_dir, text)
        code, out, err = h.run_cli(["run", str(spec)], env, tmp_path, "real")
        # a wrong key through the same server: a 401 the CLI reports, the key unprinted
        wrong = new_key()
        env_wrong = {**env, "WB_SECRET_KEY": wrong}
        code2, out2, err2 = h.run_cli(["run", str(spec)], env_wrong, tmp_path, "real-wrong")
    assert code == 0, err[-3000:]
    assert code2 == 2 and "refused the key" in err2
    server_log = log_path.read_text(errors="replace")
    assert "POST /v1/chat/completions" in server_log or "completion" in server_log.lower()
    outputs = {"cli stdout": out, "cli stderr": err, "llama server log": server_log,
               "wrong-key stdout": out2, "wrong-key stderr": err2}  # fmt: skip
    scan = full_scan(key, tmp_path, outputs)
    assert not scan.found, scan.found
    assert not full_scan(wrong, tmp_path, outputs).found
    figure(scenario="real llama_cpp.server with --api_key", items_scanned=scan.items,
           server_log_bytes=len(server_log), found=len(scan.found))  # fmt: skip


def test_the_scan_finds_a_planted_key(tmp_path: Path) -> None:
    """Positive control: the scanner sees a key in a param, a tag, a metric name, an
    artifact, a trace and the raw files."""
    import mlflow
    from mlflow import MlflowClient

    from workbench.tracking import ensure_store

    key = new_key()
    uri = ensure_store(os.environ["MLFLOW_TRACKING_URI"])
    client = MlflowClient(uri)
    exp = client.create_experiment(
        "planted", artifact_location=(tmp_path / "mlruns" / "art").as_uri()
    )
    places = {
        "params": lambda r: client.log_param(r, "p", f"x{key}x"),
        "tags": lambda r: client.set_tag(r, "t", key),
        "metric names": lambda r: client.log_metric(r, f"m.{key}", 1.0),
        "artifact": lambda r: client.log_text(r, f"..{key}..", "a.txt"),
    }
    for what, plant in places.items():
        run_id = client.create_run(exp, run_name=what).info.run_id
        plant(run_id)
        client.set_terminated(run_id)
    mlflow.set_tracking_uri(uri)  # an earlier test may have pointed the process elsewhere,
    mlflow.tracing.reset()  # and the span exporter keeps the store it first saw
    root = client.start_trace("t", inputs={"q": key}, experiment_id=exp)
    client.end_trace(root.trace_id)
    mlflow.flush_trace_async_logging()
    scan = Scan(key)
    scan.mlflow(uri)
    scan.files([tmp_path / "mlruns"])
    for what in places:
        assert any(place.endswith(what) or place.startswith(what) for place in scan.found), (
            what,
            scan.found,
        )
    assert any(p.startswith("trace") for p in scan.found), scan.found
    assert any(p.endswith("mlflow.db") or p.endswith("-wal") for p in scan.found), scan.found
