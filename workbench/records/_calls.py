"""What a run does per call: the retrieval, the call task and the record of its answer."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.models import Generation, Message
from workbench.retrievers import Passage
from workbench.spec import GenerationParams, ModelSpec


@dataclass(frozen=True)
class Retrieval:
    passages: tuple[Passage, ...]
    latency_s: float
    started_at: float


@dataclass(frozen=True)
class SampleRecord:
    """What one variant did on one sample."""

    variant_id: str
    sample_id: str
    messages: tuple[Message, ...]
    retrieval: Retrieval
    generation: Generation
    cached: bool

    @property
    def answer(self) -> str:
        return self.generation.text

    @property
    def error(self) -> str | None:
        return self.generation.error


@dataclass(frozen=True)
class CallTask:
    """A picklable model call (a Dask worker rebuilds the model from its spec)."""

    model: ModelSpec
    usd_per_hour: float
    messages: tuple[Message, ...]
    params: GenerationParams
