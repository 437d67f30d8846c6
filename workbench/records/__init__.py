"""The shared record types every stage of the pipeline imports, and nothing else.

This package sits at the bottom of the pipeline's layers (see docs/architecture.md): the
runner, scoring, analysis, gates and tracking all read and write these types, and none
of them imports another stage to get them. It imports only spec, data, models, prompts
and retrievers (for the types of their values), never a stage above it.
"""

from workbench.records._calls import CallTask, Retrieval, SampleRecord
from workbench.records._gates import GateDecision, RuleResult, format_number
from workbench.records._progress import NullProgress, ProgressSink, RecordingProgress
from workbench.records._result import RunResult
from workbench.records._scores import NA, MetricInfo, MetricKind, Score, ScoreSource
from workbench.records._variant import Plan, Variant, retriever_config, short_hash

__all__ = [
    "NA",
    "CallTask",
    "GateDecision",
    "MetricInfo",
    "MetricKind",
    "NullProgress",
    "Plan",
    "ProgressSink",
    "RecordingProgress",
    "Retrieval",
    "RuleResult",
    "RunResult",
    "SampleRecord",
    "Score",
    "ScoreSource",
    "Variant",
    "format_number",
    "retriever_config",
    "short_hash",
]
