"""Experiment specs: pydantic models, YAML loading with pointed errors, the JSON schema."""

from workbench.spec._load import (
    SCHEMA_PATH,
    SpecSource,
    apply_overrides,
    load_spec,
    write_schema,
)
from workbench.spec._models import (
    JUDGE_METRICS,
    RETRIEVER_TYPES,
    ColumnMap,
    CorpusSpec,
    DatasetSpec,
    ExecutionSpec,
    ExperimentSpec,
    GatePolicy,
    GenerationParams,
    GridSpec,
    JudgeSpec,
    ModelSpec,
    PriceSpec,
    PricingSpec,
    RetrieverSpec,
)
from workbench.spec._resolve import resolve_model, resolve_retriever
from workbench.spec._rules import OPS as RULE_OPS
from workbench.spec._rules import holds, parse_rule

__all__ = [
    "JUDGE_METRICS",
    "RETRIEVER_TYPES",
    "RULE_OPS",
    "SCHEMA_PATH",
    "ColumnMap",
    "CorpusSpec",
    "DatasetSpec",
    "ExecutionSpec",
    "ExperimentSpec",
    "GatePolicy",
    "GenerationParams",
    "GridSpec",
    "JudgeSpec",
    "ModelSpec",
    "PriceSpec",
    "PricingSpec",
    "RetrieverSpec",
    "SpecSource",
    "apply_overrides",
    "holds",
    "load_spec",
    "parse_rule",
    "resolve_model",
    "resolve_retriever",
    "write_schema",
]
