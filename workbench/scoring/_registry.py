"""Scorers by name: ``@scorer`` factories in the one plugin registry, with "did you mean".

A scorer turns one :class:`ScoreItem` into scores for the metrics it declares; a scorer
that is faster in bulk (embeddings, a judge) also offers ``batch``. Scorers never log,
print or raise for one bad sample: they return ``Score.unscored(name, reason)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from workbench.errors import ConfigError
from workbench.plugins import SCORER_ATTR, SCORERS
from workbench.records import MetricInfo, Score


@dataclass(frozen=True)
class ScoreItem:
    """Everything a scorer may look at for one (variant, sample)."""

    sample_id: str
    question: str
    reference: str
    answer: str
    category: str
    severity: str
    canary: str | None
    reference_ids: tuple[str, ...]
    reference_contexts: tuple[str, ...]
    """Texts of the reference documents."""
    contexts: tuple[str, ...]
    """Texts of the retrieved passages, in rank order."""
    retrieved_doc_ids: tuple[str, ...]
    retrieves: bool
    """False for variants without a retriever (rank metrics do not apply)."""
    k: int
    system_prompt: str
    error: str | None = None


@dataclass(frozen=True)
class ScoringContext:
    """What scorer factories may need: the judge model (None without one) and its settings."""

    judge: Any = None
    judge_spec: Any = None
    seed: int = 0


class Scorer(Protocol):
    @property
    def metrics(self) -> Sequence[MetricInfo]: ...

    def __call__(self, item: ScoreItem) -> list[Score]: ...


@dataclass(frozen=True)
class ScorerDef:
    name: str
    metrics: tuple[MetricInfo, ...]
    factory: Callable[..., Scorer]
    needs: tuple[str, ...] = ()
    """``judge``: only runs when the experiment names a judge model."""
    default: bool = True
    options: dict[str, Any] = field(default_factory=dict)


def scorer(
    name: str,
    *,
    metrics: Sequence[MetricInfo],
    needs: Sequence[str] = (),
    default: bool = True,
) -> Callable[[Callable[..., Scorer]], Callable[..., Scorer]]:
    """Register a scorer factory: ``@scorer("rouge_l", metrics=[MetricInfo("rouge_l")])``.

    The definition goes into :data:`workbench.plugins.SCORERS`, the registry providers and
    retrievers use too; the factory is returned unchanged, its definition attached (so an
    entry point may name the factory).
    """

    def register(factory: Callable[..., Scorer]) -> Callable[..., Scorer]:
        made = ScorerDef(name, tuple(metrics), factory, tuple(needs), default)
        setattr(factory, SCORER_ATTR, made)
        SCORERS.register(name, made)
        return factory

    return register


def definition(name: str) -> ScorerDef:
    """The scorer registered as ``name``; an unknown name is a ConfigError with "did you mean"."""
    found = SCORERS.get(name)
    if not isinstance(found, ScorerDef):
        raise ConfigError(
            f"scorer '{name}' is a {type(found).__name__}, not a @scorer factory",
            hint="decorate the factory with workbench.scoring.scorer(...)",
        )
    if found.name != name:
        raise ConfigError(
            f"scorer plugin '{name}' defines a scorer named '{found.name}'",
            hint="use the @scorer name as the entry point's name",
        )
    return found


def registry() -> dict[str, ScorerDef]:
    """Every scorer, loaded (built-ins first, in their declared order)."""
    return {name: definition(name) for name in SCORERS}


def select(
    names: Sequence[str] | None,
    *,
    judge: bool,
    judge_metrics: Sequence[str] = (),
    where: str = "scorers",
) -> list[ScorerDef]:
    """The scorers to run: the named ones, or every default one plus the judge's metrics."""
    if names is None:
        known = registry()
        chosen = [d for d in known.values() if d.default and "judge" not in d.needs]
        return chosen + [known[m] for m in judge_metrics if judge and m in known]
    chosen = []
    for i, name in enumerate(names):
        if name not in SCORERS:
            raise ConfigError(f"{where}[{i}]: unknown scorer '{name}'", hint=SCORERS.hint(name))
        found = definition(name)
        if "judge" in found.needs and not judge:
            raise ConfigError(
                f"{where}[{i}]: scorer '{name}' needs a judge model", hint="add a judge: section"
            )
        chosen.append(found)
    return chosen


def unscored_all(metrics: Sequence[MetricInfo], reason: str) -> list[Score]:
    return [Score.unscored(m.name, reason, m.source) for m in metrics]
