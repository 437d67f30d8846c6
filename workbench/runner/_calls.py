"""One model call (what an executor runs), and the pool of model objects it uses."""

from __future__ import annotations

import threading
import time
from typing import Any

from workbench.models import Generation, build_model
from workbench.records import CallTask, Plan
from workbench.spec import ModelSpec

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
