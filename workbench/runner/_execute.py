"""The two heavy phases of a run: retrieval for every (retriever, sample), then generation
for every (variant, sample), through the call cache and an executor."""

from __future__ import annotations

import concurrent.futures as cf
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from workbench.data import Sample
from workbench.models import Generation, Message, build_model
from workbench.prompts import PromptTemplate
from workbench.retrievers import Passage, build_retriever
from workbench.runner._cache import CallCache, call_key
from workbench.runner._grid import Plan, Variant, retriever_config
from workbench.runner._progress import ProgressSink
from workbench.spec import ExecutionSpec, GenerationParams, ModelSpec


@dataclass(frozen=True)
class Retrieval:
    passages: tuple[Passage, ...]
    latency_s: float
    started_at: float


@dataclass(frozen=True)
class SampleRecord:
    """What one variant did on one sample."""

    variant_id: str
    sample_id: str
    messages: tuple[Message, ...]
    retrieval: Retrieval
    generation: Generation
    cached: bool

    @property
    def answer(self) -> str:
        return self.generation.text

    @property
    def error(self) -> str | None:
        return self.generation.error


# --------------------------------------------------------------------------- retrieval


def retrieve_all(plan: Plan, progress: ProgressSink) -> dict[tuple[str, str], Retrieval]:
    """(retriever config key, sample id) -> passages; each distinct retriever runs once."""
    out: dict[tuple[str, str], Retrieval] = {}
    distinct = {
        json.dumps(retriever_config(v.retriever), sort_keys=True): v.retriever
        for v in plan.variants
    }
    questions = [s.question for s in plan.golden.samples]
    progress.start("retrieval", len(distinct) * len(questions))
    try:
        for key, spec in distinct.items():
            retriever = build_retriever(spec, plan.corpus)
            started = time.time()
            t0 = time.perf_counter()
            batches = retriever.retrieve_many(questions, k=spec.k)
            each = (time.perf_counter() - t0) / max(1, len(questions))
            for i, (sample, passages) in enumerate(zip(plan.golden.samples, batches, strict=True)):
                out[(key, sample.id)] = Retrieval(tuple(passages), each, started + i * each)
            progress.advance(len(questions))
    finally:
        progress.finish()
    return out


def retrieval_key(variant: Variant) -> str:
    return json.dumps(retriever_config(variant.retriever), sort_keys=True)


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class CallTask:
    """A picklable model call (a Dask worker rebuilds the model from its spec)."""

    model: ModelSpec
    usd_per_hour: float
    messages: tuple[Message, ...]
    params: GenerationParams


_POOL: dict[str, Any] = {}
_POOL_LOCK = threading.Lock()


def _pooled(spec: ModelSpec, usd_per_hour: float) -> Any:
    key = spec.model_dump_json() + f"|{usd_per_hour}"
    with _POOL_LOCK:
        if key not in _POOL:
            _POOL[key] = build_model(spec, usd_per_hour=usd_per_hour)
        return _POOL[key]


def seed_pool(plan: Plan) -> None:
    """In-process calls use this plan's model objects (built and checked for this run).

    Replaced, not kept from an earlier run: a model object remembers where its file was
    (a cache dir since deleted, a GGUF since replaced) and would fail or answer for
    another file. Loaded weights are shared by path, so nothing is loaded twice."""
    rate = plan.spec.pricing.local_usd_per_hour
    with _POOL_LOCK:
        for variant in plan.variants:
            _POOL[variant.model.model_dump_json() + f"|{rate}"] = plan.model_for(variant)


def run_call(task: CallTask) -> Generation:
    """Execute one call; a provider error that escapes becomes a failed Generation."""
    started = time.time()
    try:
        return _pooled(task.model, task.usd_per_hour).generate(task.messages, task.params)
    except Exception as exc:  # a provider bug must not kill the grid: record it
        return Generation.failed(f"{type(exc).__name__}: {exc}", started_at=started)


@contextmanager
def executor_for(execution: ExecutionSpec) -> Iterator[cf.Executor]:
    if execution.executor == "dask":
        from workbench.runner._dask import dask_executor

        with dask_executor(execution) as pool:
            yield pool
        return
    with cf.ThreadPoolExecutor(
        max_workers=execution.concurrency, thread_name_prefix="wb-call"
    ) as pool:
        yield pool


def render(prompt: PromptTemplate, sample: Sample, retrieval: Retrieval) -> tuple[Message, ...]:
    return tuple(prompt.render(sample.question, [(p.title, p.text) for p in retrieval.passages]))


def generate_all(
    plan: Plan,
    retrievals: dict[tuple[str, str], Retrieval],
    cache: CallCache | None,
    progress: ProgressSink,
) -> list[SampleRecord]:
    """Every (variant, sample): cached calls are read back, the rest run on the executor."""
    spec = plan.spec
    rate = spec.pricing.local_usd_per_hour
    seed_pool(plan)
    records: list[SampleRecord | None] = []
    pending: list[tuple[int, str, CallTask, Variant, Sample, tuple[Message, ...], Retrieval]] = []
    progress.start("generation", plan.n_calls)
    try:
        for variant in plan.variants:
            identity = variant.model_identity
            for sample in plan.golden.samples:
                retrieval = retrievals[(retrieval_key(variant), sample.id)]
                messages = render(variant.prompt, sample, retrieval)
                key = call_key(identity, variant.params, messages)
                hit = cache.get(key) if cache is not None else None
                if hit is not None:
                    records.append(
                        SampleRecord(variant.variant_id, sample.id, messages, retrieval, hit, True)
                    )
                    progress.advance(cached=True)
                    continue
                records.append(None)
                task = CallTask(variant.model, rate, messages, variant.params)
                pending.append((len(records) - 1, key, task, variant, sample, messages, retrieval))
        if pending:
            with executor_for(spec.execution) as pool:
                futures = {pool.submit(run_call, item[2]): item for item in pending}
                try:
                    for future in cf.as_completed(futures):
                        slot, key, _task, variant, sample, messages, retrieval = futures[future]
                        generation = future.result()
                        if cache is not None:  # every finished call is kept, whatever happens next
                            cache.put(key, generation)
                        records[slot] = SampleRecord(
                            variant.variant_id, sample.id, messages, retrieval, generation, False
                        )
                        progress.advance(error=not generation.ok)
                except BaseException:  # Ctrl-C: do not wait for the calls not yet started
                    for future in futures:
                        future.cancel()
                    raise
    finally:
        progress.finish()
    return [r for r in records if r is not None]


def count_model_calls(records: Sequence[SampleRecord]) -> int:
    return sum(not r.cached for r in records)
