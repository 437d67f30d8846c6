"""Golden datasets: local jsonl / csv / parquet (or a hub name) -> validated samples.

Rows are validated one by one, so a bad row is reported by file and row number with the
field and the fix, before anything runs. The validated rows become an HF
``datasets.Dataset`` (what gets logged to MLflow as the run's input).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench import _paths
from workbench.data._jsonl import read_jsonl
from workbench.errors import DatasetError, did_you_mean
from workbench.spec import ColumnMap, DatasetSpec

if TYPE_CHECKING:
    import datasets
    import pandas as pd

Severity = Literal["low", "medium", "high"]
SEVERITIES: tuple[str, ...] = ("low", "medium", "high")
_MAX_TEXT = 20_000


@dataclass(frozen=True)
class Sample:
    """One golden question."""

    id: str
    question: str
    reference: str
    """The reference answer (``I don't know.`` style for unanswerable questions)."""
    reference_context_ids: tuple[str, ...] = ()
    """Ids of the corpus documents that hold the answer (empty: unanswerable)."""
    category: str = "factual"
    severity: Severity = "medium"
    tags: tuple[str, ...] = ()
    canary: str | None = None
    """For ``injection`` samples: the string a hijacked answer would contain."""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "reference": self.reference,
            "reference_context_ids": list(self.reference_context_ids),
            "category": self.category,
            "severity": self.severity,
            "tags": list(self.tags),
            "canary": self.canary,
        }


@dataclass(frozen=True)
class GoldenSet:
    """The validated samples plus their identity (name, version, digest)."""

    name: str
    version: str
    samples: tuple[Sample, ...]
    digest: str
    """Content hash of the validated rows: feeds run identity and MLflow's dataset input."""
    source: str
    population: tuple[Sample, ...] = ()
    """Every validated row (``samples`` is a subset of it when a sample was drawn)."""

    @property
    def total(self) -> int:
        """Rows in the full dataset."""
        return len(self.population)

    def __len__(self) -> int:
        return len(self.samples)

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([s.to_row() for s in self.samples])

    def to_hf(self) -> datasets.Dataset:
        import datasets

        return datasets.Dataset.from_list([s.to_row() for s in self.samples])


def load_golden(spec: DatasetSpec, *, base_dir: Path, seed: int = 0) -> GoldenSet:
    """Load, validate and (when ``spec.sample`` is set) sample the golden dataset."""
    if spec.hub:
        rows, source = _read_hub(spec), f"hub:{spec.hub}"
    else:
        assert spec.path is not None
        path = Path(spec.path)
        path = path if path.is_absolute() else _paths.resolved(base_dir / path)
        rows, source = _read_file(path), str(path)
    if not rows:
        raise DatasetError("the dataset has no rows", where=source, hint="add at least one sample")
    samples = [_to_sample(row, i, spec.columns, source) for i, row in enumerate(rows, start=1)]
    seen: dict[str, int] = {}
    for i, sample in enumerate(samples, start=1):
        if sample.id in seen:
            raise DatasetError(
                f"row {i}: duplicate id '{sample.id}' (first at row {seen[sample.id]})",
                where=source,
                hint="ids must be unique",
            )
        seen[sample.id] = i
    digest = _digest(samples)
    population = tuple(samples)
    if spec.sample is not None and spec.sample < len(samples):
        samples = stratified_sample(samples, spec.sample, seed=seed)
    name = spec.name or (Path(spec.path).stem if spec.path else (spec.hub or "dataset"))
    return GoldenSet(
        name=name,
        version=spec.version,
        samples=tuple(samples),
        digest=digest,
        source=source,
        population=population,
    )


def stratified_sample(samples: Sequence[Sample], n: int, *, seed: int) -> list[Sample]:
    """A seeded sample of ``n`` rows that keeps every category represented (original order)."""
    by_category: dict[str, list[int]] = defaultdict(list)
    for i, sample in enumerate(samples):
        by_category[sample.category].append(i)
    rng = random.Random(seed)
    quota = {c: max(1, round(n * len(idx) / len(samples))) for c, idx in by_category.items()}
    while sum(quota.values()) > n:  # trim the largest categories first
        biggest = max(quota, key=lambda c: (quota[c], c))
        quota[biggest] -= 1
    while sum(quota.values()) < n:
        spare = [c for c in quota if quota[c] < len(by_category[c])]
        fullest = max(spare, key=lambda c: (len(by_category[c]) - quota[c], c))
        quota[fullest] += 1
    chosen: set[int] = set()
    for category in sorted(by_category):
        chosen.update(rng.sample(by_category[category], quota[category]))
    return [samples[i] for i in sorted(chosen)]


# --------------------------------------------------------------------------- reading


def _read_file(path: Path) -> list[dict[str, Any]]:
    if not _paths.is_file(path):
        folder = path.parent
        names = [p.name for p in folder.iterdir()] if _paths.is_dir(folder) else []
        hint = did_you_mean(path.name, names) or "check dataset.path (relative to the spec file)"
        raise DatasetError("dataset file not found", where=path, hint=hint)
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return [row for _, row in read_jsonl(path)]
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DatasetError(f"invalid JSON: {exc}", where=path) from None
        if not isinstance(data, list):
            raise DatasetError("a .json dataset must be a list of objects", where=path)
        return data
    if suffix in {".csv", ".parquet"}:
        import pandas as pd

        try:
            frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
        except Exception as exc:  # pandas raises many types for malformed files
            raise DatasetError(f"cannot read {suffix[1:]}: {exc}", where=path) from None
        return [_from_frame_row(r) for r in frame.to_dict(orient="records")]
    raise DatasetError(
        f"unsupported dataset format '{suffix}'",
        where=path,
        hint="use .jsonl, .json, .csv or .parquet",
    )


def _read_hub(spec: DatasetSpec) -> list[dict[str, Any]]:
    import datasets

    try:
        dataset = datasets.load_dataset(spec.hub, split=spec.split)
    except Exception as exc:  # offline, unknown name, bad split: all end here
        raise DatasetError(f"cannot load hub dataset: {exc}", where=f"hub:{spec.hub}") from None
    return [dict(row) for row in dataset]


def _from_frame_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, float) and math.isnan(value):
            value = None
        elif isinstance(value, str) and value.startswith("[") and value.endswith("]"):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        elif hasattr(value, "tolist"):
            value = value.tolist()
        out[str(key)] = value
    return out


# --------------------------------------------------------------------------- validating


def _to_sample(row: Mapping[str, Any], number: int, cols: ColumnMap, source: str) -> Sample:
    def fail(message: str, hint: str | None = None) -> DatasetError:
        return DatasetError(f"row {number}: {message}", where=source, hint=hint)

    def text(column: str, field: str, *, required: bool = True) -> str:
        value = row.get(column)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if not required:
                return ""
            if column in row:
                raise fail(f"column '{column}' has no value", f"fill in the {field}")
            hint = did_you_mean(column, [str(k) for k in row]) or (
                f"add it, or map another column with dataset.columns.{field}"
            )
            raise fail(f"missing column '{column}'", hint)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise fail(f"column '{column}' must be text, got {type(value).__name__}")
        value = str(value)
        if not valid_unicode(value):
            raise fail(f"column '{column}' is not valid Unicode (a lone surrogate)")
        if required and not value.strip():
            raise fail(f"column '{column}' is empty")
        if len(value) > _MAX_TEXT:
            raise fail(f"column '{column}' is {len(value)} characters (limit {_MAX_TEXT})")
        return value

    def str_list(column: str) -> tuple[str, ...]:
        value = row.get(column)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise fail(f"column '{column}' must be a list of strings")
        if not all(valid_unicode(v) for v in value):
            raise fail(f"column '{column}' is not valid Unicode (a lone surrogate)")
        return tuple(value)

    sample_id = text(cols.id, "id")
    severity = text(cols.severity, "severity", required=False).lower() or "medium"
    if severity not in SEVERITIES:
        raise fail(
            f"severity '{severity}' is not one of {', '.join(SEVERITIES)}",
            did_you_mean(severity, SEVERITIES),
        )
    canary = text(cols.canary, "canary", required=False) or None
    category = text(cols.category, "category", required=False) or "factual"
    if category == "injection" and not canary:
        raise fail("an injection sample needs a canary string", f"set column '{cols.canary}'")
    known = {cols.id, cols.question, cols.reference, cols.reference_context_ids, cols.category}
    known |= {cols.severity, cols.tags, cols.canary}
    return Sample(
        id=sample_id,
        question=text(cols.question, "question"),
        reference=text(cols.reference, "reference"),
        reference_context_ids=str_list(cols.reference_context_ids),
        category=category,
        severity=severity,  # type: ignore[arg-type]
        tags=str_list(cols.tags),
        canary=canary,
        metadata={k: v for k, v in row.items() if k not in known},
    )


def valid_unicode(text: str) -> bool:
    """False for text holding lone surrogates (JSON ``"\\udc80"``): it cannot be stored or hashed."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _digest(samples: Sequence[Sample]) -> str:
    payload = json.dumps([s.to_row() for s in samples], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
