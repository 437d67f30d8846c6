"""Fakes for unit tests of the workbench's *logic* (never to show a feature working).

``ScriptedModel`` is a provider named ``scripted``: a spec ``scripted:<script>`` answers
with the function registered under that name, and every call is counted, so a test can
assert "the second run made zero model calls".
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from workbench.models import Generation, Message, Usage, register
from workbench.records import MetricInfo, Score
from workbench.retrievers import Passage
from workbench.scoring import ScoreItem
from workbench.spec import GenerationParams, ModelSpec

Script = Callable[[Sequence[Message]], str]
SCRIPTS: dict[str, Script] = {}
CALLS: Counter[str] = Counter()
_LOCK = threading.Lock()


def script(name: str, fn: Script | None = None, *, answer: str | None = None) -> None:
    """Register what ``scripted:<name>`` answers: a function of the messages, or a constant."""
    if fn is None:
        if answer is None:
            raise ValueError("give fn or answer")
        const = answer

        def fn(messages: Sequence[Message]) -> str:
            return const

    SCRIPTS[name] = fn


def question_of(messages: Sequence[Message]) -> str:
    """The text after the last ``Question:`` in the rendered prompt."""
    text = messages[-1].content
    return text.rsplit("Question:", 1)[-1].split("\n", 1)[0].strip()


def reset_calls() -> None:
    with _LOCK:
        CALLS.clear()


class ScriptedModel:
    """A deterministic model: the registered script decides; ``FAIL:`` answers fail."""

    local = False

    def __init__(self, spec: ModelSpec, *, usd_per_hour: float = 0.0):
        self.spec = spec
        self.label = spec.label
        self.mode: Literal["chat", "completion"] = spec.mode or "chat"
        self.name = spec.model or "default"
        self.usd_per_hour = usd_per_hour

    def identity(self) -> Mapping[str, Any]:
        return {"provider": "scripted", "model": self.name, "mode": self.mode}

    def check(self) -> None:
        if self.name not in SCRIPTS:
            from workbench.errors import ConfigError

            raise ConfigError(
                f"no script registered as '{self.name}'", hint="call workbench.testing.script()"
            )

    def generate(self, messages: Sequence[Message], config: GenerationParams) -> Generation:
        with _LOCK:
            CALLS[self.name] += 1
        started = time.time()
        text = SCRIPTS[self.name](messages)
        if text.startswith("FAIL:"):
            return Generation.failed(text[5:].strip(), started_at=started)
        words = sum(len(m.content.split()) for m in messages)
        return Generation(
            text=text,
            usage=Usage(prompt_tokens=words, completion_tokens=len(text.split())),
            latency_s=0.001,
            cost_usd=0.000001 * words,
            started_at=started,
        )


register("scripted", "workbench.testing:ScriptedModel")


class StaticRetriever:
    """Returns the same passages for every query."""

    def __init__(self, passages: Sequence[Passage]):
        self.passages = list(passages)

    def retrieve(self, query: str, *, k: int) -> list[Passage]:
        return self.passages[:k]


class FixedScorer:
    """Scores every item with a fixed value (or a function of the answer)."""

    def __init__(
        self, name: str, value: float | Callable[[str], float], *, higher_is_better: bool = True
    ):
        self.metrics = (MetricInfo(name, higher_is_better),)
        self._value = value

    def __call__(self, item: ScoreItem) -> list[Score]:
        value = self._value(item.answer) if callable(self._value) else self._value
        return [Score(self.metrics[0].name, float(value))]
