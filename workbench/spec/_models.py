"""The experiment spec: pydantic models, ``extra="forbid"``, one JSON schema checked in.

Short forms are accepted where people type them by hand and expanded by validators:

    grid:
      prompt: [qa_terse@1, qa_grounded@1]
      model: [llama_cpp:gemma-3-270m, llama_cpp:smollm2-135m]
      retriever: [none, bm25, dense]
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbench.plugins import PROVIDERS, RETRIEVERS

RETRIEVER_TYPES = ("none", "bm25", "dense", "hybrid")
"""The built-in retriever types; plugins add more (``workbench.plugins.RETRIEVERS``)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnMap(_Strict):
    """Which dataset column holds each field of a golden sample."""

    id: str = "id"
    question: str = "question"
    reference: str = "reference_answer"
    reference_context_ids: str = "reference_doc_ids"
    category: str = "category"
    severity: str = "severity"
    tags: str = "tags"
    canary: str = "canary"


class DatasetSpec(_Strict):
    """The golden dataset: a local jsonl / csv / parquet file, or a hub dataset."""

    path: str | None = Field(
        None, description="File relative to the spec file (jsonl, csv, parquet)."
    )
    hub: str | None = Field(None, description="HF hub dataset name (needs a network).")
    split: str = "train"
    name: str | None = Field(None, description="Name shown in MLflow; defaults to the file stem.")
    version: str = "1"
    columns: ColumnMap = ColumnMap()
    sample: int | None = Field(
        None,
        ge=1,
        description="Run on a seeded sample of this many rows, stratified by category "
        "(None: the whole dataset).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of 'path' (a local file) or 'hub' (a dataset name)")
        return self


class CorpusSpec(_Strict):
    """Documents the retrievers search: a folder of .md/.txt files or a jsonl (id, title, text)."""

    path: str
    name: str | None = None


class PriceSpec(_Strict):
    """USD prices. Remote models: per 1M tokens. Local models: per hour of compute."""

    input_per_1m: float | None = Field(None, ge=0)
    output_per_1m: float | None = Field(None, ge=0)
    usd_per_hour: float | None = Field(None, ge=0)


class ModelSpec(_Strict):
    """One model: a local GGUF through llama.cpp or any OpenAI-compatible endpoint."""

    provider: str
    name: str | None = Field(None, description="Label in tables; defaults to `model`.")
    model: str | None = Field(
        None, description="llama_cpp: catalog name (gemma-3-270m, smollm2-135m); openai: model id."
    )
    path: str | None = Field(None, description="llama_cpp: a GGUF file instead of a catalog name.")
    mode: Literal["chat", "completion"] | None = Field(
        None, description="chat messages or a plain completion prompt (base models)."
    )
    base_url: str | None = Field(None, description="openai: e.g. http://127.0.0.1:8080/v1")
    api_key_env: str | None = Field(
        None, description="openai: NAME of the env var holding the key (the key is never stored)."
    )
    n_ctx: int = Field(4096, ge=256)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    price: PriceSpec | None = None

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in PROVIDERS:
            raise ValueError(str(PROVIDERS.unknown(value)))
        return value

    @model_validator(mode="after")
    def _complete(self) -> ModelSpec:
        if self.provider == "llama_cpp" and not (self.model or self.path):
            raise ValueError("a llama_cpp model needs 'model' (catalog name) or 'path' (GGUF file)")
        if self.provider == "openai" and not self.model:
            raise ValueError("an openai model needs 'model' (the endpoint's model id)")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.model:
            return self.model
        from pathlib import PurePath

        return PurePath(self.path or "model").stem


class RetrieverSpec(_Strict):
    """How contexts are found: none, bm25, dense (MiniLM), hybrid (reciprocal-rank fusion)."""

    type: str
    name: str | None = None
    k: int = Field(3, ge=1, le=100)
    chunk_size: int = Field(0, ge=0, description="Words per chunk; 0 keeps each document whole.")
    chunk_overlap: int = Field(0, ge=0)
    rrf_k: int = Field(60, ge=1, description="hybrid: the constant of reciprocal-rank fusion.")

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in RETRIEVERS:
            raise ValueError(str(RETRIEVERS.unknown(value)))
        return value

    @model_validator(mode="after")
    def _overlap_fits(self) -> RetrieverSpec:
        if self.chunk_size and self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self

    @property
    def label(self) -> str:
        return self.name or self.type


class GenerationParams(_Strict):
    """Generation parameters: part of a variant's identity."""

    temperature: float = Field(0.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(96, ge=1, le=8192)
    seed: int = 0
    stop: tuple[str, ...] | None = Field(
        None, description="Stop sequences; None uses the model's default."
    )


class GridSpec(_Strict):
    """The variants: every combination of prompt x model x retriever x params."""

    prompt: Annotated[list[str], Field(min_length=1)]
    model: Annotated[list[str | ModelSpec], Field(min_length=1)]
    retriever: Annotated[list[str | RetrieverSpec], Field(min_length=1)] = ["none"]
    params: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="Generation parameters to sweep, e.g. {temperature: [0.0, 0.7]}.",
    )

    @field_validator("params")
    @classmethod
    def _known_params(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        from workbench.errors import did_you_mean

        known = tuple(GenerationParams.model_fields)
        for key, levels in value.items():
            if key not in known:
                hint = did_you_mean(key, known)
                raise ValueError(
                    f"unknown generation parameter '{key}'"
                    + (f" ({hint})" if hint else "")
                    + f"; known: {', '.join(known)}"
                )
            if not isinstance(levels, list) or not levels:
                raise ValueError(f"params.{key} must be a non-empty list of values")
        return value


class ExecutionSpec(_Strict):
    """How the grid runs: workers, cache, error budget."""

    concurrency: int = Field(1, ge=1, le=256, description="Parallel calls (remote endpoints).")
    executor: Literal["thread", "dask"] = "thread"
    address: str | None = Field(None, description="dask: scheduler address, e.g. tcp://host:8786")
    cache: bool = True
    max_error_rate: float = Field(0.2, ge=0, le=1)
    seed: int = 0


class PricingSpec(_Strict):
    local_usd_per_hour: float = Field(
        0.10, ge=0, description="Price of the compute a local model runs on (cost = time x rate)."
    )


JudgeMetric = Literal["faithfulness", "answer_relevancy", "llm_context_precision"]
JUDGE_METRICS: tuple[JudgeMetric, ...] = (
    "faithfulness",
    "answer_relevancy",
    "llm_context_precision",
)
_THRESHOLD = r"^\s*(>=|<=|>|<|==)\s*-?\d+(\.\d+)?\s*$"


class JudgeSpec(_Strict):
    """An LLM judge for ragas' LLM-judged metrics (any provider of the workbench)."""

    model: str | ModelSpec = Field(
        description="provider:model short form, a name under models:, or a full model."
    )
    metrics: list[JudgeMetric] = Field(default_factory=lambda: list(JUDGE_METRICS))
    max_tokens: int = Field(384, ge=16, le=8192)
    timeout_s: float = Field(180.0, gt=0)
    concurrency: int = Field(1, ge=1, le=64, description="Parallel judge calls (remote judges).")
    response_format: Literal["json_object_schema", "json_schema"] = Field(
        "json_object_schema",
        description="How the judge is asked for JSON: a llama.cpp server/local model takes "
        "{type: json_object, schema}; OpenAI takes {type: json_schema}.",
    )


RuleBasis = Literal["bound", "point"]
GATE_RULES: tuple[str, ...] = (
    "pass_rate_lower_bound",
    "high_severity_rate",
    "p95_latency_s",
    "cost_per_success_usd",
    "error_rate",
)
"""Rules of a gate policy that are decided on a bound (besides the metrics: ones)."""


class CalibrationPolicy(_Strict):
    """When an LLM-judged metric may decide a gate: its agreement with people is shown."""

    min_kappa: float = Field(
        0.4,
        ge=-1,
        le=1,
        description="Cohen's kappa of the judge's verdict against people's, at the metric's "
        "threshold, must reach this (0.4: moderate agreement).",
    )
    min_ratings: int = Field(30, ge=1, description="... on at least this many rated answers.")
    uncalibrated: Literal["fail", "report"] = Field(
        "report",
        description="A rule on an uncalibrated judge metric: 'fail' it, or 'report' it "
        "(decided on its bound, marked uncalibrated).",
    )


class GatePolicy(_Strict):
    """Release gates: every rule must hold for a variant to pass. Omitted rules are not checked.

    Each rule is decided on a one-sided 95 % bound that errs against the candidate (the
    lower bound of what should be high, the upper bound of what should be low) unless
    ``bound`` says ``point`` for it.
    """

    name: str = "default"
    version: str = "1"
    min_pass_rate_lower_bound: float | None = Field(
        None,
        ge=0,
        le=1,
        description="The one-sided 95 % Wilson lower bound of the pass rate must reach this.",
    )
    max_high_severity_findings: int | None = Field(
        0, ge=0, description="High-severity safety findings allowed in the run (a count)."
    )
    max_high_severity_rate: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Upper bound (Wilson) of the share of answers with a high-severity finding.",
    )
    max_p95_latency_s: float | None = Field(
        None, gt=0, description="Upper bound (order statistic) of the p95 latency."
    )
    max_cost_per_success_usd: float | None = Field(
        None, ge=0, description="Upper bound of the cost per successful task."
    )
    max_error_rate: float | None = Field(
        None, ge=0, le=1, description="Upper bound (Wilson) of the error rate."
    )
    max_unscored_fraction: float | None = Field(
        None, ge=0, le=1, description="Per metric: the share of samples a metric could not score."
    )
    metrics: dict[str, Annotated[str, Field(pattern=_THRESHOLD)]] = Field(
        default_factory=dict,
        description="Metric means, e.g. {semantic_similarity: '>= 0.6'} (decided on the "
        "mean's lower bound for >=, its upper bound for <=).",
    )
    bound: dict[str, RuleBasis] = Field(
        default_factory=dict,
        description="Per rule: 'bound' (the default) or 'point' (decide on the estimate "
        "alone), e.g. {p95_latency_s: point}. Keys: " + ", ".join(GATE_RULES) + " or a "
        "metric of metrics:.",
    )
    primary_metric: str = Field(
        "pass_rate", description="What a challenger must improve (promotion)."
    )
    guard_metrics: list[str] = Field(
        default_factory=list,
        description="What a challenger must be shown no worse on than the champion, by more "
        "than the guard's margin (a one-sided non-inferiority test).",
    )
    guard_margin: float = Field(
        0.05, ge=0, description="Non-inferiority margin of a guard, in the metric's units."
    )
    guard_margins: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict, description="Per guard metric: its own margin."
    )
    judge_calibration: CalibrationPolicy = CalibrationPolicy()

    @model_validator(mode="after")
    def _known_rules(self) -> GatePolicy:
        from workbench.errors import did_you_mean

        known = (*GATE_RULES, *self.metrics)
        for rule in self.bound:
            if rule not in known:
                hint = did_you_mean(rule, known)
                raise ValueError(
                    f"bound.{rule}: not a rule of this policy"
                    + (f" ({hint})" if hint else "")
                    + f"; rules: {', '.join(known)}"
                )
        return self

    def margin(self, guard: str) -> float:
        """The non-inferiority margin of ``guard``."""
        return self.guard_margins.get(guard, self.guard_margin)


class ExperimentSpec(_Strict):
    """One experiment: a golden dataset, a corpus and a grid of variants."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="workbench experiment")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    description: str = ""
    dataset: DatasetSpec
    corpus: CorpusSpec | None = None
    prompts_dir: str = "prompts"
    models: dict[str, ModelSpec] = Field(
        default_factory=dict, description="Named models the grid can refer to by name."
    )
    retrievers: dict[str, RetrieverSpec] = Field(
        default_factory=dict, description="Named retrievers the grid can refer to by name."
    )
    grid: GridSpec
    params: GenerationParams = GenerationParams()
    scorers: list[str] | None = Field(
        None, description="Scorers to run; None runs every scorer that needs no judge."
    )
    judge: JudgeSpec | None = None
    thresholds: dict[str, Annotated[str, Field(pattern=_THRESHOLD)]] = Field(
        default_factory=lambda: {"semantic_similarity": ">= 0.7"},
        description="Per-sample pass rule: every threshold holds, no high-severity finding, no error.",
    )
    gates: GatePolicy | str | None = Field(
        None, description="Release gates inline, or the path of a policy YAML file."
    )
    execution: ExecutionSpec = ExecutionSpec()
    pricing: PricingSpec = PricingSpec()
