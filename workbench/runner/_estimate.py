"""``--dry-run``: the grid, the number of calls, and an estimate of tokens, time and cost,
without calling or loading any model."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from workbench.records import Plan

TYPICAL_ANSWER_TOKENS = 24
"""Short RAG answers run 10-30 tokens; the estimate assumes this many (max_tokens caps it)."""
CHARS_PER_TOKEN = 4.0
# Measured on 2 cores (docs/benchmarks.md): prompt-eval and generation tokens per second.
LOCAL_SPEED: dict[str, tuple[float, float]] = {
    "gemma-3-270m": (570.0, 55.0),
    "smollm2-135m": (280.0, 90.0),
}
DEFAULT_LOCAL_SPEED = (300.0, 50.0)


@dataclass(frozen=True)
class VariantEstimate:
    variant_id: str
    label: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float | None
    """Local models only (remote latency depends on the endpoint)."""
    cost_usd: float | None


@dataclass(frozen=True)
class Estimate:
    n_variants: int
    n_samples: int
    total_samples: int
    variants: list[VariantEstimate]

    @property
    def calls(self) -> int:
        return sum(v.calls for v in self.variants)

    @property
    def prompt_tokens(self) -> int:
        return sum(v.prompt_tokens for v in self.variants)

    @property
    def completion_tokens(self) -> int:
        return sum(v.completion_tokens for v in self.variants)

    @property
    def seconds(self) -> float | None:
        known = [v.seconds for v in self.variants if v.seconds is not None]
        return sum(known) if known else None

    @property
    def cost_usd(self) -> float | None:
        known = [v.cost_usd for v in self.variants if v.cost_usd is not None]
        return sum(known) if known else None


def estimate(plan: Plan) -> Estimate:
    spec = plan.spec
    questions = [s.question for s in plan.golden.samples]
    rows = []
    for variant in plan.variants:
        context_chars = 0.0
        if variant.retriever.type != "none" and plan.corpus is not None:
            chunks = plan.corpus.chunks(
                variant.retriever.chunk_size, variant.retriever.chunk_overlap
            )
            mean_chunk = statistics.fmean(len(c.text) + len(c.title) + 6 for c in chunks)
            context_chars = min(variant.retriever.k, len(chunks)) * mean_chunk
        template_chars = sum(len(content) for _, content in variant.prompt.messages)
        per_call = [(template_chars + len(q) + context_chars) / CHARS_PER_TOKEN for q in questions]
        prompt_tokens = int(sum(per_call))
        answer = min(TYPICAL_ANSWER_TOKENS, variant.params.max_tokens)
        completion_tokens = answer * len(questions)
        model = plan.model_for(variant)
        seconds = cost = None
        if getattr(model, "local", False):
            p_rate, g_rate = LOCAL_SPEED.get(variant.model.model or "", DEFAULT_LOCAL_SPEED)
            seconds = prompt_tokens / p_rate + completion_tokens / g_rate
            cost = seconds * getattr(model, "usd_per_hour", spec.pricing.local_usd_per_hour) / 3600
        elif variant.model.price and variant.model.price.input_per_1m is not None:
            price = variant.model.price
            cost = (
                prompt_tokens * (price.input_per_1m or 0)
                + completion_tokens * (price.output_per_1m or 0)
            ) / 1e6
        rows.append(
            VariantEstimate(
                variant.variant_id,
                variant.label,
                len(questions),
                prompt_tokens,
                completion_tokens,
                seconds,
                cost,
            )
        )
    return Estimate(len(plan.variants), len(plan.golden), plan.golden.total, rows)
