"""workbench: evaluation-first LLM experimentation on MLflow.

``import workbench as wb`` stays light: the public names below load their module on first
use, and heavy libraries (mlflow, torch, ragas, llama.cpp, streamlit) load inside the
module that needs them.

    result = wb.run("experiments/quickstart.yaml")
    result.variants      # leaderboard DataFrame
    result.samples       # per-sample DataFrame
    result.run_id        # MLflow parent run
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from workbench._env import apply_defaults
from workbench._version import __version__
from workbench.errors import (
    ConfigError,
    DatasetError,
    GateFailed,
    ModelCallError,
    NotFoundError,
    PermissionDenied,
    PromotionError,
    TrackingError,
    WorkbenchError,
)

apply_defaults()


_LAZY: dict[str, str] = {
    "run": "workbench.pipeline:run",
    "prepare": "workbench.pipeline:prepare",
    "estimate": "workbench.runner:estimate",
    "RunResult": "workbench.records:RunResult",
    "RunFailed": "workbench.pipeline:RunFailed",
    "load_spec": "workbench.spec:load_spec",
    "ExperimentSpec": "workbench.spec:ExperimentSpec",
    "GatePolicy": "workbench.spec:GatePolicy",
    "gate": "workbench.pipeline:gate",
    "load_experiment": "workbench.tracking.read:load_experiment",
    "compare": "workbench.analysis:compare_grid",
    "leaderboard": "workbench.analysis:leaderboard",
    "load_champion": "workbench.serving:load_champion",
}

__all__ = [
    "ConfigError",
    "DatasetError",
    "ExperimentSpec",
    "GateFailed",
    "GatePolicy",
    "ModelCallError",
    "NotFoundError",
    "PermissionDenied",
    "PromotionError",
    "RunFailed",
    "RunResult",
    "TrackingError",
    "WorkbenchError",
    "__version__",
    "compare",
    "estimate",
    "gate",
    "leaderboard",
    "load_champion",
    "load_experiment",
    "load_spec",
    "prepare",
    "run",
]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from workbench.analysis import compare_grid as compare
    from workbench.analysis import leaderboard
    from workbench.pipeline import RunFailed, gate, prepare, run
    from workbench.records import RunResult
    from workbench.runner import estimate
    from workbench.serving import load_champion
    from workbench.spec import ExperimentSpec, GatePolicy, load_spec
    from workbench.tracking.read import load_experiment
