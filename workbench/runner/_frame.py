"""What a run returns: per-sample and per-variant DataFrames, and its MLflow run ids."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.records import Plan, SampleRecord

if TYPE_CHECKING:
    import pandas as pd


def samples_frame(plan: Plan, records: Sequence[SampleRecord]) -> pd.DataFrame:
    import pandas as pd

    variants = {v.variant_id: v for v in plan.variants}
    samples = {s.id: s for s in plan.golden.samples}
    rows: list[dict[str, Any]] = []
    for record in records:
        variant = variants[record.variant_id]
        sample = samples[record.sample_id]
        gen = record.generation
        passages = record.retrieval.passages
        rows.append(
            {
                "variant_id": variant.variant_id,
                "variant": variant.label,
                **variant.factors(),
                "sample_id": sample.id,
                "question": sample.question,
                "reference": sample.reference,
                "reference_context_ids": list(sample.reference_context_ids),
                "category": sample.category,
                "severity": sample.severity,
                "answer": gen.text,
                "error": gen.error,
                "latency_s": gen.latency_s,
                "prompt_tokens": gen.usage.prompt_tokens,
                "completion_tokens": gen.usage.completion_tokens,
                "cost_usd": math.nan if gen.cost_usd is None else gen.cost_usd,
                "attempts": gen.attempts,
                "cached": record.cached,
                "retrieval_latency_s": record.retrieval.latency_s,
                "retrieved_ids": [p.chunk_id for p in passages],
                "retrieved_doc_ids": [p.doc_id for p in passages],
                "contexts": [p.text for p in passages],
            }
        )
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["error"] = frame["error"].astype(object).where(frame["error"].notna(), None)
    return frame
