"""LLM-judged ragas metrics with any workbench model as the judge.

The judge is a ragas ``InstructorBaseRagasLLM`` over a workbench provider (a local
llama.cpp model or an OpenAI-compatible endpoint). It asks for JSON constrained by the
response model's schema, *tightened* so tiny models always terminate (bounded strings as
patterns, bounded arrays, 0/1 verdicts), then validates it. Unparseable output, timeouts
and endpoint errors become NaN + reason on the sample, never a crash. Judge calls go
through the call cache, so an unchanged rerun makes no judge calls.

Tiny local judges (135M-270M) produce valid but nearly meaningless judgements: treat
their scores as a check of the plumbing (see README, "A note on judges").
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

from workbench import _paths
from workbench.errors import ConfigError
from workbench.models import CallCache, Generation, Message, build_model, call_key
from workbench.records import NA, MetricInfo, Score
from workbench.scoring._registry import ScoreItem, ScoringContext, scorer
from workbench.spec import ExperimentSpec, GenerationParams, JudgeSpec, resolve_model

M = TypeVar("M")


class JudgeOutputError(RuntimeError):
    """The judge's reply could not be parsed into the requested response model."""


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.get("$defs", {})

    def visit(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return visit(copy.deepcopy(defs[ref.split("/")[-1]]))
            return {k: visit(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [visit(v) for v in node]
        return node

    return visit(schema)


def _looks_binary(name: str, prop: dict[str, Any]) -> bool:
    desc = str(prop.get("description") or "").lower()
    return (
        name in {"verdict", "noncommittal", "attributed"}
        or "0/1" in desc
        or "binary" in desc
        or "1 if" in desc
    )


def tighten_schema(
    schema: dict[str, Any], *, max_str_len: int = 160, max_items: int = 6
) -> dict[str, Any]:
    """Bound every string and array so generation always ends; 0/1 integers become an enum.

    Strings get a *pattern*, not ``maxLength``: llama.cpp's maxLength grammar admits raw
    newlines (invalid JSON) and whitespace-only items (measured: 2 of 15 calls failed).
    """
    schema = _inline_refs(schema)

    def visit(node: Any, name: str = "") -> Any:
        if isinstance(node, list):
            return [visit(v, name) for v in node]
        if not isinstance(node, dict):
            return node
        node = {
            k: (visit(v, k) if k not in ("properties", "enum", "const", "required") else v)
            for k, v in node.items()
        }
        if "properties" in node:
            node["properties"] = {k: visit(v, k) for k, v in node["properties"].items()}
            node["required"] = list(node["properties"])
            node["additionalProperties"] = False
        kind = node.get("type")
        if kind == "string" and "enum" not in node and "pattern" not in node:
            node["pattern"] = r'^[A-Za-z0-9][^"\\\n\r\t]{0,%d}$' % (max_str_len - 1)
        elif kind == "array":
            node.setdefault("minItems", 1)
            node.setdefault("maxItems", max_items)
        elif kind == "integer" and _looks_binary(name, node):
            node["enum"] = [0, 1]
        for key in ("title", "default", "examples"):
            node.pop(key, None)
        return node

    return visit(schema)


class StructuredModel(Protocol):
    """A judge model: a provider whose ``generate`` also takes a JSON ``response_format``
    (the llama.cpp and OpenAI-compatible providers do; it is compiled to a grammar)."""

    label: str

    def identity(self) -> Mapping[str, Any]: ...

    def generate(
        self,
        messages: Sequence[Message],
        config: GenerationParams,
        *,
        response_format: Mapping[str, Any] | None = None,
    ) -> Generation: ...


def build_judge(spec: ExperimentSpec, *, where: str = "<spec>") -> Any:
    """The ragas LLM for ``spec.judge`` (a workbench model, resolved like a grid model)."""
    judge_spec = spec.judge
    assert judge_spec is not None, "build_judge needs a spec with a judge"
    model_spec = resolve_model(judge_spec.model, spec, field="judge.model", where=where)
    try:
        model = build_model(model_spec, usd_per_hour=spec.pricing.local_usd_per_hour)
        model.check()
    except ConfigError as exc:
        raise ConfigError(f"judge.model: {exc.message}", where=where, hint=exc.hint) from None
    cache = CallCache(_paths.cache_dir() / "calls.sqlite") if spec.execution.cache else None
    return make_judge_llm(model, judge_spec, cache=cache, seed=spec.execution.seed)


def make_judge_llm(
    model: StructuredModel, judge_spec: JudgeSpec, *, cache: CallCache | None = None, seed: int = 0
) -> Any:
    from pydantic import BaseModel, ValidationError
    from ragas.llms.base import InstructorBaseRagasLLM

    params = GenerationParams(temperature=0.0, max_tokens=judge_spec.max_tokens, seed=seed, stop=())

    class WorkbenchJudge(InstructorBaseRagasLLM):
        """ragas calls ``generate`` / ``agenerate`` with a prompt and a pydantic model."""

        def __init__(self) -> None:
            self.model = model
            self.label = model.label
            self.calls = 0
            self.cached = 0
            self._schemas: dict[type, dict[str, Any]] = {}

        def _format(self, response_model: type[BaseModel]) -> dict[str, Any]:
            if response_model not in self._schemas:
                self._schemas[response_model] = tighten_schema(response_model.model_json_schema())
            schema = self._schemas[response_model]
            if judge_spec.response_format == "json_schema":
                return {
                    "type": "json_schema",
                    "json_schema": {"name": response_model.__name__, "schema": schema},
                }
            return {"type": "json_object", "schema": schema}

        def generate(self, prompt: str, response_model: type[M]) -> M:
            assert isinstance(response_model, type) and issubclass(response_model, BaseModel)
            messages = [Message(role="user", content=prompt)]
            fmt = self._format(response_model)
            key = call_key({**dict(model.identity()), "response_format": fmt}, params, messages)
            generation = cache.get(key) if cache is not None else None
            if generation is None:
                generation = model.generate(messages, params, response_format=fmt)
                self.calls += 1
                if generation.ok:
                    self._check(generation.text, response_model, generation.finish_reason)
                    if cache is not None:
                        cache.put(key, generation)
            else:
                self.cached += 1
            if not generation.ok:
                raise JudgeOutputError(f"judge call failed: {generation.error}")
            return self._check(generation.text, response_model, generation.finish_reason)  # type: ignore[return-value]

        @staticmethod
        def _check(raw: str, response_model: type[BaseModel], finish: str | None) -> BaseModel:
            try:
                return response_model.model_validate(json.loads(raw or "", strict=False))
            except (ValueError, ValidationError) as exc:
                cut = " (output truncated at max_tokens)" if finish == "length" else ""
                first = str(exc).splitlines()[0]
                raise JudgeOutputError(
                    f"unparseable judge output{cut}: {first}; raw={raw[:160]!r}"
                ) from None

        async def agenerate(self, prompt: str, response_model: type[M]) -> M:
            # Provider calls are synchronous (llama.cpp in-process, or httpx with retries):
            # run them in a worker thread so the event loop stays free.
            return await asyncio.to_thread(self.generate, prompt, response_model)

        def __repr__(self) -> str:
            return f"WorkbenchJudge({self.label})"

    return WorkbenchJudge()


# --------------------------------------------------------------------------- scorers

FAITHFULNESS = MetricInfo(
    "faithfulness",
    source="LLM_JUDGE",
    description="Share of answer claims supported by the retrieved context (ragas, LLM judge).",
)
RELEVANCY = MetricInfo(
    "answer_relevancy",
    source="LLM_JUDGE",
    description="How well the answer addresses the question (ragas, LLM judge + embeddings).",
)
LLM_PRECISION = MetricInfo(
    "llm_context_precision",
    source="LLM_JUDGE",
    description="Whether retrieved chunks are useful for the reference answer (ragas, LLM judge).",
)


class JudgedScorer:
    """One ragas LLM metric; calls run one at a time (or ``judge.concurrency`` remote)."""

    def __init__(self, info: MetricInfo, ctx: ScoringContext, build: Any, needs_contexts: bool):
        self.metrics = (info,)
        self.ctx = ctx
        self._build = build
        self._metric: Any = None
        self.needs_contexts = needs_contexts

    def __call__(self, item: ScoreItem) -> list[Score]:
        return self.batch([item])[0]

    def batch(self, items: Sequence[ScoreItem]) -> list[list[Score]]:
        from workbench.scoring._ragas import run_async

        if self._metric is None:
            self._metric = self._build(self.ctx.judge)
        name = self.metrics[0].name
        spec = self.ctx.judge_spec
        limit = asyncio.Semaphore(spec.concurrency if spec else 1)
        timeout = spec.timeout_s if spec else 180.0

        async def one(item: ScoreItem) -> Score:
            if self.needs_contexts and not item.retrieves:
                return Score.unscored(name, f"{NA}the variant does not retrieve", "LLM_JUDGE")
            if self.needs_contexts and not item.contexts:
                return Score.unscored(name, "nothing was retrieved", "LLM_JUDGE")
            if not item.answer.strip():
                return Score.unscored(name, "empty answer", "LLM_JUDGE")
            async with limit:
                try:
                    result = await asyncio.wait_for(self._score(item), timeout=timeout)
                except TimeoutError:
                    return Score.unscored(name, f"judge timed out after {timeout:g} s", "LLM_JUDGE")
                except Exception as exc:  # JudgeOutputError, endpoint errors, ragas ValueError
                    return Score.unscored(
                        name, f"{type(exc).__name__}: {str(exc)[:300]}", "LLM_JUDGE"
                    )
            value = getattr(result, "value", None)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                return Score.unscored(
                    name, "the judge returned no score (e.g. no statements)", "LLM_JUDGE"
                )
            return Score(name, float(value), getattr(result, "reason", None), "LLM_JUDGE")

        async def all_items() -> list[Score]:
            return await asyncio.gather(*(one(i) for i in items))

        return [[s] for s in run_async(all_items)]

    async def _score(self, item: ScoreItem) -> Any:
        if self.metrics[0].name == "faithfulness":
            return await self._metric.ascore(
                user_input=item.question,
                response=item.answer,
                retrieved_contexts=list(item.contexts),
            )
        if self.metrics[0].name == "answer_relevancy":
            return await self._metric.ascore(user_input=item.question, response=item.answer)
        return await self._metric.ascore(
            user_input=item.question,
            reference=item.reference,
            retrieved_contexts=list(item.contexts),
        )


def _faithfulness(llm: Any) -> Any:
    from ragas.metrics.collections import Faithfulness

    return Faithfulness(llm=llm)


def _relevancy(llm: Any) -> Any:
    from ragas.metrics.collections import AnswerRelevancy

    from workbench.scoring._ragas import miniLM_embeddings

    return AnswerRelevancy(llm=llm, embeddings=miniLM_embeddings(), strictness=1)


def _precision(llm: Any) -> Any:
    from ragas.metrics.collections import ContextPrecision

    return ContextPrecision(llm=llm)


@scorer("faithfulness", metrics=[FAITHFULNESS], needs=("judge",))
def faithfulness(ctx: ScoringContext) -> JudgedScorer:
    return JudgedScorer(FAITHFULNESS, ctx, _faithfulness, needs_contexts=True)


@scorer("answer_relevancy", metrics=[RELEVANCY], needs=("judge",))
def answer_relevancy(ctx: ScoringContext) -> JudgedScorer:
    return JudgedScorer(RELEVANCY, ctx, _relevancy, needs_contexts=False)


@scorer("llm_context_precision", metrics=[LLM_PRECISION], needs=("judge",))
def llm_context_precision(ctx: ScoringContext) -> JudgedScorer:
    return JudgedScorer(LLM_PRECISION, ctx, _precision, needs_contexts=True)
