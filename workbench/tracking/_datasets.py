"""The golden set as an MLflow dataset input of each variant's run (context ``eval``)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.entities import Dataset

    from workbench.records import Plan

_DATASETS: dict[tuple[Any, ...], Dataset] = {}
_KEEP = 8
"""Dataset entities kept per process (one per golden-set version)."""


def log_dataset(mlflow_client: Any, run_id: str, plan: Plan) -> None:
    from mlflow.entities import DatasetInput, InputTag

    tag = InputTag(key="mlflow.data.context", value="eval")
    mlflow_client.log_inputs(run_id, datasets=[DatasetInput(dataset_entity(plan), tags=[tag])])


def dataset_entity(plan: Plan) -> Dataset:
    """The golden set as an MLflow dataset entity, made once per dataset version: every
    variant's run links the same one, and inferring its schema costs ~50 ms."""
    from mlflow.data.pandas_dataset import from_pandas

    golden = plan.golden
    key = (golden.name, golden.digest, str(golden.source), tuple(s.id for s in golden.samples))
    if key not in _DATASETS:
        with warnings.catch_warnings():  # MLflow registers its local source class twice
            warnings.filterwarnings(
                "ignore", message="The specified dataset source can be interpreted"
            )
            dataset = from_pandas(
                golden.to_pandas(), source=golden.source, name=golden.name, digest=golden.digest
            )
        if len(_DATASETS) >= _KEEP:
            _DATASETS.clear()
        _DATASETS[key] = dataset._to_mlflow_entity()
    return _DATASETS[key]
