"""A workbench plugin for the reliability tests' subprocesses (``WORKBENCH_PLUGINS``).

Imported only by subprocesses: it re-registers ``llama_cpp``, so never import it in the
pytest process (read its logs with ``tests.reliability.harness.read_log``).

``workbench.testing.CALLS`` counts calls inside one process; a run killed with SIGKILL and
run again is two processes, so the models here append one line per call to a log file
(``$WB_CALL_LOG``) that the test reads afterwards:

- provider ``counted``: a deterministic scripted model (answers with the first line of the
  first retrieved passage, or declines) that sleeps ``$WB_CALL_DELAY`` seconds per call;
- provider ``llama_cpp`` is wrapped so calls of the REAL local models are counted too
  (same identity, same cache keys);
- scorer ``probe``: scores every answer 1.0 after ``$WB_SCORE_DELAY`` seconds and appends a
  line to ``$WB_SCORE_LOG``, so a test can see the scoring phase in progress.

Each line is ``{"event": "start"|"end", "key": <call cache key>, "pid": ...}`` written with
one ``O_APPEND`` write (atomic for lines this short).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

from workbench.models import Generation, Message, Usage, call_key, register
from workbench.models._llama_cpp import LlamaCppModel
from workbench.records import MetricInfo, Score
from workbench.scoring._registry import ScoreItem, ScoringContext, scorer
from workbench.spec import GenerationParams
from workbench.testing import ScriptedModel


def append(env: str, payload: dict[str, Any]) -> None:
    path = os.environ.get(env)
    if not path:
        return
    line = (json.dumps(payload, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def answer_from_context(messages: Sequence[Message]) -> str:
    text = messages[-1].content
    if "[1]" in text:
        return text.split("[1]", 1)[1].split("\n")[1][:120].strip() or "I don't know."
    return "I don't know."


class CountedModel(ScriptedModel):
    """A scripted model whose calls are logged to ``$WB_CALL_LOG`` (across processes)."""

    def check(self) -> None:
        pass

    def generate(self, messages: Sequence[Message], config: GenerationParams) -> Generation:
        key = call_key(self.identity(), config, messages)
        append("WB_CALL_LOG", {"event": "start", "key": key, "pid": os.getpid()})
        started = time.time()
        time.sleep(float(os.environ.get("WB_CALL_DELAY", "0")))
        text = answer_from_context(messages)
        words = sum(len(m.content.split()) for m in messages)
        generation = Generation(
            text=text,
            usage=Usage(prompt_tokens=words, completion_tokens=len(text.split())),
            latency_s=time.time() - started,
            cost_usd=0.000001 * words,
            started_at=started,
        )
        append("WB_CALL_LOG", {"event": "end", "key": key, "pid": os.getpid()})
        return generation


class CountedLlama(LlamaCppModel):
    """The real llama.cpp provider, with each call logged to ``$WB_CALL_LOG``."""

    def generate(
        self, messages: Sequence[Message], config: GenerationParams, **kw: Any
    ) -> Generation:
        key = call_key(self.identity(), config, messages)
        append("WB_CALL_LOG", {"event": "start", "key": key, "pid": os.getpid()})
        generation = super().generate(messages, config, **kw)
        append("WB_CALL_LOG", {"event": "end", "key": key, "pid": os.getpid()})
        return generation


PROBE = MetricInfo("probe", True, description="Reliability-test probe: always 1.0.")


class ProbeScorer:
    metrics = (PROBE,)

    def __call__(self, item: ScoreItem) -> list[Score]:
        time.sleep(float(os.environ.get("WB_SCORE_DELAY", "0")))
        append("WB_SCORE_LOG", {"event": "scored", "sample": item.sample_id, "pid": os.getpid()})
        return [Score("probe", 1.0)]


@scorer("probe", metrics=[PROBE], default=False)
def probe(ctx: ScoringContext) -> ProbeScorer:
    return ProbeScorer()


register("counted", "tests.reliability.plugin:CountedModel")
register("llama_cpp", "tests.reliability.plugin:CountedLlama")
