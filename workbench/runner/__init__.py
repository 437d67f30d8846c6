"""The runner: expands the grid and makes the calls. It never scores, logs or gates.

    plan(source)                      -> Plan (dataset, corpus, prompts, models, variants)
    retrieve_all(plan, sink)          -> passages per (retriever, sample)
    generate_all(plan, retrievals, cache, sink) -> [SampleRecord]
    samples_frame(plan, records)      -> the per-sample DataFrame

``workbench.pipeline`` composes these with scoring, tracking and gates.
"""

from workbench.runner._estimate import Estimate, VariantEstimate, estimate
from workbench.runner._execute import (
    count_model_calls,
    generate_all,
    render,
    retrieval_key,
    retrieve_all,
    run_call,
)
from workbench.runner._frame import samples_frame
from workbench.runner._grid import plan

__all__ = [
    "Estimate",
    "VariantEstimate",
    "count_model_calls",
    "estimate",
    "generate_all",
    "plan",
    "render",
    "retrieval_key",
    "retrieve_all",
    "run_call",
    "samples_frame",
]
