"""``execution.executor: dask`` gives the same records and scores as the thread executor,
and keeps the call cache and resume in the client process.

Scripted models check the logic in-process (a worker thread); the process-based runs use
a real OpenAI-compatible HTTP server (the fixed-latency one of the benchmarks), so the
calls really travel to a worker process and back; the slow test does the same against a
real ``llama_cpp.server``.
"""

from __future__ import annotations

import concurrent.futures as cf
from pathlib import Path

import pandas as pd
import pytest

import workbench.testing as wt
from tests.conftest import script_smart_and_dull, write_spec
from workbench.errors import ConfigError
from workbench.pipeline import run

SCRIPTED = """\
name: scale
dataset: {path: datasets/acme_golden.jsonl, sample: 8}
corpus: {path: corpora/acme}
grid:
  prompt: [qa_terse@1, qa_grounded@1]
  model: [scripted:smart, scripted:dull]
  retriever: [none, bm25]
scorers: [rank, safety, rouge_l]
thresholds: {rouge_l: ">= 0.2"}
execution: {concurrency: 4}
"""

ENDPOINT = """\
name: scale-endpoint
dataset: {{path: datasets/acme_golden.jsonl, sample: 6}}
corpus: {{path: corpora/acme}}
models:
  remote: {{provider: openai, model: {model}, base_url: "{base_url}", max_retries: 0}}
grid:
  prompt: [qa_terse@1, qa_grounded@1]
  model: [remote]
  retriever: [none, bm25]
scorers: [rank, safety, rouge_l]
thresholds: {{rouge_l: ">= 0.2"}}
params: {{temperature: 0.0, max_tokens: 48, seed: 0}}
execution: {{concurrency: {concurrency}}}
"""

# What must not depend on the executor (timings, costs of time and trace ids may).
STABLE = [
    "variant_id",
    "sample_id",
    "answer",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "attempts",
    "retrieved_ids",
    "passed",
    "findings",
]


@pytest.fixture(autouse=True)
def _scripts() -> None:
    script_smart_and_dull()


def _stable(result) -> pd.DataFrame:
    metrics = [m.name for m in result.metrics]
    frame = result.samples[[*STABLE, *metrics]].copy()
    for col in ("retrieved_ids", "findings"):
        frame[col] = frame[col].map(tuple)
    return frame.sort_values(["variant_id", "sample_id"]).reset_index(drop=True)


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(_stable(a), _stable(b))
    assert set(a.variants["variant_id"]) == set(b.variants["variant_id"])
    board_a = a.variants.set_index("variant_id").sort_index()
    board_b = b.variants.set_index("variant_id").sort_index()
    for metric in [m.name for m in a.metrics] + ["pass_rate"]:
        pd.testing.assert_series_equal(board_a[metric], board_b[metric])


def test_dask_threads_give_the_thread_executor_records(
    acme_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_DASK_PROCESSES", "0")  # scripts live in this process
    spec = write_spec(acme_dir, SCRIPTED)
    threads = run(spec, overrides=["execution.cache=false"])
    calls = sum(wt.CALLS.values())
    wt.reset_calls()
    dask = run(spec, overrides=["execution.cache=false", "execution.executor=dask"])
    assert sum(wt.CALLS.values()) == calls == 64
    assert dask.model_calls == threads.model_calls == 64
    _same(threads, dask)
    assert dask.run_id and dask.run_id != threads.run_id  # both logged to MLflow


def test_dask_worker_process_against_an_endpoint(acme_dir: Path, latency_server) -> None:
    text = ENDPOINT.format(model="latency", base_url=latency_server.base_url, concurrency=4)
    spec = write_spec(acme_dir, text)
    threads = run(spec, overrides=["execution.cache=false"])
    assert latency_server.completions == 24
    dask = run(spec, overrides=["execution.cache=false", "execution.executor=dask"])
    assert latency_server.completions == 48  # the worker process made every call
    assert dask.error_rate == 0.0
    _same(threads, dask)


def test_dask_keeps_cache_and_resume_in_the_client(
    acme_dir: Path, latency_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = ENDPOINT.format(model="latency", base_url=latency_server.base_url, concurrency=4)
    spec = write_spec(acme_dir, text)
    first = run(spec, overrides=["execution.executor=dask"])
    assert first.model_calls == 24 and latency_server.completions == 24
    second = run(spec, overrides=["execution.executor=dask"])  # the client wrote the cache
    assert second.model_calls == 0 and second.cached_calls == 24
    assert latency_server.completions == 24
    _same(first, second)

    # One prompt changed: only its variants are called again, on the cluster.
    prompt = acme_dir / "prompts" / "qa_terse.v1.yaml"
    prompt.write_text(prompt.read_text().replace("one short sentence", "one sentence"))
    third = run(spec, overrides=["execution.executor=dask"])
    assert third.model_calls == 12 and latency_server.completions == 36


def test_dask_scheduler_address(acme_dir: Path, latency_server) -> None:
    from distributed import LocalCluster

    text = ENDPOINT.format(model="latency", base_url=latency_server.base_url, concurrency=2)
    spec = write_spec(acme_dir, text)
    with LocalCluster(
        n_workers=2,
        threads_per_worker=2,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        result = run(
            spec,
            overrides=[
                "execution.cache=false",
                "execution.executor=dask",
                f"execution.address={address}",
            ],
        )
        assert result.model_calls == 24 and latency_server.completions == 24
        # 4 worker threads on the cluster, but execution.concurrency caps the calls in flight
        assert latency_server.max_in_flight == 2
        assert cluster.scheduler is not None  # the run closed its client, not our cluster
    threads = run(spec, overrides=["execution.cache=false"])
    _same(threads, result)


def test_unreachable_scheduler_is_a_config_error(acme_dir: Path) -> None:
    from tests.servers import free_port

    spec = write_spec(acme_dir, SCRIPTED)
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        run(spec, overrides=["execution.executor=dask", f"execution.address={address}"])
    assert sum(wt.CALLS.values()) == 0


@pytest.mark.slow
def test_dask_against_a_real_llama_server(acme_dir: Path) -> None:
    from tests.servers import llama_server

    with llama_server() as base_url:
        text = ENDPOINT.format(model="smollm2", base_url=base_url, concurrency=1)
        spec = write_spec(acme_dir, text)
        threads = run(spec, overrides=["execution.cache=false", "dataset.sample=4"])
        dask = run(
            spec,
            overrides=["execution.cache=false", "dataset.sample=4", "execution.executor=dask"],
        )
    assert threads.error_rate == 0.0 and dask.error_rate == 0.0
    assert (threads.samples["answer"].str.len() > 0).all()
    _same(threads, dask)  # temperature 0, fixed seed: the same answers


class _HeldExecutor:
    """Stands in for distributed's ClientExecutor: futures settle when the test says."""

    def __init__(self) -> None:
        self.submitted: list[tuple[object, cf.Future]] = []

    def submit(self, fn, *args):
        future: cf.Future = cf.Future()
        self.submitted.append((args, future))
        return future

    def shutdown(self, wait: bool = True) -> None:
        pass


class _FakeClient:
    def __init__(self) -> None:
        self.inner = _HeldExecutor()

    def get_executor(self, **kwargs):
        return self.inner


def test_dask_executor_caps_calls_in_flight_and_turns_lost_workers_into_failed_calls() -> None:
    from workbench.models import Generation, Message
    from workbench.records import CallTask
    from workbench.runner import run_call
    from workbench.runner._dask import DaskExecutor
    from workbench.spec import GenerationParams, ModelSpec

    client = _FakeClient()
    pool = DaskExecutor(client, max_in_flight=2)
    task = CallTask(
        ModelSpec(provider="scripted", model="dull"),
        0.0,
        (Message(role="user", content="q"),),
        GenerationParams(),
    )
    outer = [pool.submit(run_call, task) for _ in range(5)]
    assert len(client.inner.submitted) == 2  # the other three wait in the client
    client.inner.submitted[0][1].set_exception(RuntimeError("KilledWorker: worker died"))
    assert len(client.inner.submitted) == 3  # a slot freed: the next call went out
    lost = outer[0].result(timeout=5)
    assert isinstance(lost, Generation) and not lost.ok
    assert lost.error == "dask: RuntimeError: KilledWorker: worker died"
    done = 1
    while done < len(client.inner.submitted):  # each answer lets the next waiting call out
        client.inner.submitted[done][1].set_result(Generation(text="ok"))
        done += 1
        assert len(client.inner.submitted) - done <= 2
    assert done == 5
    assert [f.result(timeout=5).text for f in outer[1:]] == ["ok"] * 4
    pool.shutdown()
