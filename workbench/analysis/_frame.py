"""Shared checks on the samples frame: required columns, metric and variant look-ups.

Every function here turns a would-be ``KeyError`` into a
:class:`~workbench.errors.WorkbenchError` that names the offending column, metric or
variant and, where one is close, suggests the right spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from workbench.analysis._errors import AnalysisError
from workbench.errors import NotFoundError, did_you_mean
from workbench.records import MetricInfo

PASS_RATE = "pass_rate"
PASS_COLUMN = "passed"
DEFAULT_FACTORS: tuple[str, ...] = ("prompt", "model", "retriever")
PASS_METRIC = MetricInfo(
    name=PASS_RATE,
    higher_is_better=True,
    kind="binary",
    source="CODE",
    description="share of samples that passed (errors count as failures)",
)

__all__ = [
    "DEFAULT_FACTORS",
    "PASS_COLUMN",
    "PASS_METRIC",
    "PASS_RATE",
    "check_confidence",
    "find_metric",
    "metric_column",
    "metric_values",
    "require_columns",
    "resolve_metrics",
    "resolve_variant",
    "variant_order",
]


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, what: str = "samples") -> None:
    """Return None if ``frame`` has every column; else raise NotFoundError naming the first missing."""
    present = [str(c) for c in frame.columns]
    for column in columns:
        if column not in frame.columns:
            raise NotFoundError(
                f"the {what} frame has no column '{column}'",
                hint=did_you_mean(column, present),
            )


def check_confidence(confidence: float, *, name: str = "confidence") -> None:
    """Return None if ``0 < confidence < 1``; else raise AnalysisError."""
    if not 0.0 < float(confidence) < 1.0:
        raise AnalysisError(f"{name} must lie strictly between 0 and 1, got {confidence!r}")


def metric_column(info: MetricInfo) -> str:
    """Return the samples column holding ``info``'s values (``passed`` for ``pass_rate``)."""
    return PASS_COLUMN if info.name == PASS_RATE else info.name


def resolve_metrics(samples: pd.DataFrame, metrics: Sequence[MetricInfo]) -> list[MetricInfo]:
    """Return ``[pass_rate, *metrics]`` after checking each metric has a column in ``samples``.

    ``pass_rate`` (read from the ``passed`` column) always comes first; a ``MetricInfo``
    named ``pass_rate`` in ``metrics`` is ignored. Duplicate names raise AnalysisError, a
    metric without a column raises NotFoundError.
    """
    require_columns(samples, [PASS_COLUMN])
    out = [PASS_METRIC]
    seen = {PASS_RATE}
    numeric = [str(c) for c in samples.columns if pd.api.types.is_numeric_dtype(samples[c])]
    for info in metrics:
        if not isinstance(info, MetricInfo):
            raise AnalysisError(f"metrics must be MetricInfo objects, got {info!r}")
        if info.name == PASS_RATE:
            continue
        if info.name in seen:
            raise AnalysisError(f"metric '{info.name}' is listed twice")
        if info.name not in samples.columns:
            raise NotFoundError(
                f"metric '{info.name}' is not a column of the samples frame",
                hint=did_you_mean(info.name, numeric),
            )
        seen.add(info.name)
        out.append(info)
    return out


def find_metric(infos: Sequence[MetricInfo], name: str) -> MetricInfo:
    """Return the MetricInfo called ``name``; raise NotFoundError (with a suggestion) if absent."""
    for info in infos:
        if info.name == name:
            return info
    names = [i.name for i in infos]
    raise NotFoundError(
        f"unknown metric '{name}' (known: {', '.join(names)})",
        hint=did_you_mean(name, names),
    )


def metric_values(frame: pd.DataFrame, info: MetricInfo) -> npt.NDArray[np.float64]:
    """Return the metric's values as float64 (NaN = unscored; a missing ``passed`` counts as 0).

    Raises AnalysisError when a binary metric holds a value other than 0, 1 or NaN.
    """
    column = metric_column(info)
    values: npt.NDArray[np.float64] = np.asarray(
        pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
        dtype=np.float64,
    )
    if info.name == PASS_RATE:
        values = np.nan_to_num(values, nan=0.0)
    if info.kind == "binary":
        scored = values[~np.isnan(values)]
        bad = scored[(scored != 0.0) & (scored != 1.0)]
        if bad.size:
            raise AnalysisError(
                f"binary metric '{info.name}' (column '{column}') holds {float(bad[0])!r}; "
                "binary values must be 0, 1 or NaN"
            )
    return values


def variant_order(samples: pd.DataFrame) -> list[str]:
    """Return the variant ids in order of first appearance; raise AnalysisError on a missing id."""
    require_columns(samples, ["variant_id"])
    ids = samples["variant_id"]
    if ids.isna().any():
        raise AnalysisError("the samples frame has rows without a variant_id")
    return [str(v) for v in pd.unique(ids)]


def resolve_variant(samples: pd.DataFrame, key: str) -> str:
    """Return the variant_id that ``key`` names: a variant_id, or else a unique ``variant`` label.

    Raises NotFoundError (with "did you mean ...?") when nothing matches and
    AnalysisError when a label is shared by several variant ids.
    """
    ids = variant_order(samples)
    if key in ids:
        return key
    labels: list[str] = []
    if "variant" in samples.columns:
        matches = pd.unique(samples.loc[samples["variant"] == key, "variant_id"])
        if len(matches) == 1:
            return str(matches[0])
        if len(matches) > 1:
            raise AnalysisError(
                f"variant label '{key}' matches {len(matches)} variant ids; pass the variant_id"
            )
        labels = [str(v) for v in pd.unique(samples["variant"].dropna())]
    raise NotFoundError(f"unknown variant '{key}'", hint=did_you_mean(key, [*ids, *labels]))
