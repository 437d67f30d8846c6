"""Local GGUF models through llama-cpp-python.

Local calls are CPU-bound: one loaded instance per model file, and one call at a time on
the whole machine (two llama.cpp jobs on 2 cores run 5-40x slower, measured).
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from workbench import _paths
from workbench.errors import ConfigError
from workbench.models._catalog import catalog_entry, file_digest, locate
from workbench.models._types import Generation, Message, Usage, messages_to_prompt
from workbench.spec import GenerationParams, ModelSpec

_CALL_LOCK = threading.Lock()  # one llama.cpp call at a time in this process
_LOAD_LOCK = threading.Lock()
_LOADED: dict[tuple[str, int], Any] = {}
_GRAMMARS: dict[str, Any] = {}


def _grammar(response_format: Mapping[str, Any]) -> Any:
    """A compiled llama.cpp grammar for a JSON schema (raises if it does not compile,
    instead of silently falling back to "any JSON" as the server does)."""
    import json

    from llama_cpp.llama_grammar import LlamaGrammar

    schema = json.dumps(response_format.get("schema") or {"type": "object"}, sort_keys=True)
    if schema not in _GRAMMARS:
        _GRAMMARS[schema] = LlamaGrammar.from_json_schema(schema, verbose=False)
    return _GRAMMARS[schema]


@atexit.register
def close_all() -> None:
    """Free the models before interpreter teardown (llama.cpp's __del__ fails after it)."""
    with _LOAD_LOCK:
        for llm in _LOADED.values():
            try:
                llm.close()
            except Exception:  # already closed
                pass
        _LOADED.clear()


def threads() -> int:
    return int(os.environ.get("WORKBENCH_LLAMA_THREADS") or os.cpu_count() or 2)


class LlamaCppModel:
    """A GGUF file run in-process: chat mode for instruct models, completion for base models."""

    local = True

    def __init__(self, spec: ModelSpec, *, usd_per_hour: float = 0.0):
        self.spec = spec
        if spec.path:
            self.path = _paths.expanded(spec.path)
            if not _paths.is_file(self.path):
                raise ConfigError(
                    f"GGUF file not found: {self.path}", hint="check the model's path"
                )
            with open(self.path, "rb") as handle:
                if handle.read(4) != b"GGUF":  # fail now, not once per call in the grid
                    raise ConfigError(
                        f"not a GGUF file: {self.path}", hint="give the path of a .gguf model"
                    )
            self.mode: Literal["chat", "completion"] = spec.mode or "chat"
            self.default_stop: tuple[str, ...] = ()
        else:
            assert spec.model is not None
            entry = catalog_entry(spec.model)
            self.path = locate(entry)
            self.mode = spec.mode or entry.mode
            self.default_stop = entry.stop
        self.label = spec.label
        rate = (
            spec.price.usd_per_hour if spec.price and spec.price.usd_per_hour is not None else None
        )
        self.usd_per_hour = usd_per_hour if rate is None else rate
        self._digest: str | None = None

    def identity(self) -> Mapping[str, Any]:
        """What makes this model's outputs what they are: the file's bytes and how it is used."""
        if self._digest is None:
            self._digest = file_digest(self.path)
        return {
            "provider": "llama_cpp",
            "digest": self._digest,
            "mode": self.mode,
            "n_ctx": self.spec.n_ctx,
        }

    def check(self) -> None:
        self.identity()

    def _llama(self) -> Any:
        key = (str(self.path.resolve()), self.spec.n_ctx)
        with _LOAD_LOCK:
            if key not in _LOADED:
                from llama_cpp import Llama
                from llama_cpp._utils import suppress_stdout_stderr

                # llama.cpp prints a note on Gemma's sliding-window cache even with
                # verbose=False; a load error still raises (and is reported) normally.
                with suppress_stdout_stderr(disable=False):
                    _LOADED[key] = Llama(
                        model_path=str(self.path),
                        n_ctx=self.spec.n_ctx,
                        n_threads=threads(),
                        n_threads_batch=threads(),
                        seed=0,
                        verbose=False,
                    )
            return _LOADED[key]

    def generate(
        self,
        messages: Sequence[Message],
        config: GenerationParams,
        *,
        response_format: Mapping[str, Any] | None = None,
    ) -> Generation:
        """``response_format={"type": "json_object", "schema": S}`` constrains the output to
        the JSON schema S with a grammar (chat and completion mode alike)."""
        stop = list(config.stop if config.stop is not None else self.default_stop) or None
        options: dict[str, Any] = {
            "temperature": config.temperature,
            "top_p": config.top_p,
            "max_tokens": config.max_tokens,
            "seed": config.seed,
            "stop": stop,
        }
        with _CALL_LOCK:
            started = time.time()
            t0 = time.perf_counter()
            try:
                llm = self._llama()
                if response_format is not None:
                    options["grammar"] = _grammar(response_format)
                    options["stop"] = None  # the grammar decides where the JSON ends
                if self.mode == "chat":
                    out = llm.create_chat_completion(
                        messages=[m.model_dump() for m in messages], **options
                    )
                    choice = out["choices"][0]
                    text = choice["message"].get("content") or ""
                else:
                    out = llm.create_completion(prompt=messages_to_prompt(messages), **options)
                    choice = out["choices"][0]
                    text = choice.get("text") or ""
            except Exception as exc:  # llama.cpp raises ValueError for context overflow etc.
                return Generation.failed(
                    f"{type(exc).__name__}: {exc}",
                    latency_s=time.perf_counter() - t0,
                    started_at=started,
                )
            latency = time.perf_counter() - t0
        usage = out.get("usage") or {}
        return Generation(
            text=text.strip(),
            usage=Usage(
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
            ),
            latency_s=latency,
            cost_usd=latency * self.usd_per_hour / 3600.0,
            finish_reason=choice.get("finish_reason"),
            started_at=started,
        )
