"""The runner: grid expansion, call cache, executors, progress, and ``run``."""

from workbench.runner._cache import CallCache, call_key
from workbench.runner._estimate import Estimate, VariantEstimate, estimate
from workbench.runner._execute import CallTask, Retrieval, SampleRecord, run_call
from workbench.runner._grid import Plan, Variant, plan, retriever_config
from workbench.runner._progress import NullProgress, ProgressSink, RecordingProgress, RichProgress
from workbench.runner._result import RunResult, samples_frame
from workbench.runner._run import RunFailed, execute, prepare, run

__all__ = [
    "CallCache",
    "CallTask",
    "Estimate",
    "NullProgress",
    "Plan",
    "ProgressSink",
    "RecordingProgress",
    "Retrieval",
    "RichProgress",
    "RunFailed",
    "RunResult",
    "SampleRecord",
    "Variant",
    "VariantEstimate",
    "call_key",
    "estimate",
    "execute",
    "plan",
    "prepare",
    "retriever_config",
    "run",
    "run_call",
    "samples_frame",
]
