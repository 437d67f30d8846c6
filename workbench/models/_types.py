"""What a model takes and returns. A failed call is a Generation with ``error`` set."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from workbench.spec import GenerationParams

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Role
    content: str


class Usage(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0


class Generation(BaseModel):
    """What one model call produced (or why it produced nothing)."""

    model_config = ConfigDict(frozen=True)

    text: str = ""
    usage: Usage = Usage()
    latency_s: float = 0.0
    cost_usd: float | None = None
    error: str | None = None
    """Why the call failed (after retries); None when it succeeded."""
    attempts: int = 1
    finish_reason: str | None = None
    started_at: float = Field(default_factory=time.time)
    """Wall-clock start (epoch seconds), so traces can be drawn after the fact."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failed(
        cls,
        error: str,
        *,
        latency_s: float = 0.0,
        attempts: int = 1,
        started_at: float | None = None,
    ) -> Generation:
        return cls(
            error=error,
            latency_s=latency_s,
            attempts=attempts,
            started_at=started_at if started_at is not None else time.time(),
        )


@runtime_checkable
class Model(Protocol):
    """One required method: turn messages into a Generation (never raise for a failed call)."""

    def generate(self, messages: Sequence[Message], config: GenerationParams) -> Generation: ...


class ModelInfo(Protocol):
    """What the runner needs besides ``generate``: identity, mode, label, readiness."""

    label: str
    mode: Literal["chat", "completion"]
    local: bool

    def identity(self) -> Mapping[str, Any]: ...

    def check(self) -> None: ...


class Provider(Model, ModelInfo, Protocol):
    """A provider instance as the registry builds it: a model that also knows its identity."""


def messages_to_prompt(messages: Sequence[Message]) -> str:
    """Completion-mode rendering for base models: the message texts, one blank line apart."""
    return "\n\n".join(m.content.strip() for m in messages if m.content.strip())
