"""The two heavy phases of a run: retrieval for every (retriever, sample), then generation
for every (variant, sample), through the call cache and an executor."""

from __future__ import annotations

import concurrent.futures as cf
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from workbench.data import Sample
from workbench.models import CallCache, Message, call_key
from workbench.prompts import PromptTemplate
from workbench.records import (
    CallTask,
    Plan,
    ProgressSink,
    Retrieval,
    SampleRecord,
    Variant,
    retriever_config,
)
from workbench.retrievers import build_retriever
from workbench.runner._calls import run_call, seed_pool
from workbench.runner._dask import dask_executor
from workbench.spec import ExecutionSpec

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


@contextmanager
def executor_for(execution: ExecutionSpec) -> Iterator[cf.Executor]:
    if execution.executor == "dask":
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
