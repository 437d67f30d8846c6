"""Any OpenAI-compatible endpoint: OpenAI, vLLM, Ollama, a llama.cpp server.

The API key is read at call time from the environment variable the config *names*; it is
never stored in the spec, logged, or put in an error message.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from workbench.errors import ConfigError, ModelCallError
from workbench.models._retry import AttemptFailed, RetryPolicy, retry_after
from workbench.models._types import Generation, Message, Usage, messages_to_prompt
from workbench.spec import GenerationParams, ModelSpec

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_NO_KEY = "sk-no-key-required"
_FATAL_STATUS = {400, 401, 403, 404, 422}


class OpenAIModel:
    local = False

    def __init__(
        self, spec: ModelSpec, *, usd_per_hour: float = 0.0, retry: RetryPolicy | None = None
    ):
        del usd_per_hour  # remote models are priced per token
        self.spec = spec
        self.label = spec.label
        self.mode: Literal["chat", "completion"] = spec.mode or "chat"
        self.base_url = (
            spec.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        ).rstrip("/")
        self.retry = retry or RetryPolicy(max_retries=spec.max_retries)
        self._client: Any = None
        self._client_lock = threading.Lock()

    def identity(self) -> Mapping[str, Any]:
        return {
            "provider": "openai",
            "base_url": self.base_url,
            "model": self.spec.model,
            "mode": self.mode,
        }

    def _key(self) -> str:
        name = self.spec.api_key_env
        if not name:
            return _NO_KEY
        key = os.environ.get(name)
        if not key:
            raise ConfigError(
                f"model '{self.label}': environment variable {name} is not set",
                hint=f"export {name}=... (the key is read from the environment, never from the spec)",
            )
        return key

    def _scrub(self, text: str) -> str:
        key = os.environ.get(self.spec.api_key_env or "", "")
        return text.replace(key, "***") if key and len(key) >= 6 else text

    def client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                try:
                    import openai
                except ModuleNotFoundError:
                    raise ConfigError(
                        "the openai provider needs the openai package", hint="pip install openai"
                    ) from None
                _load_httpx2()
                self._client = openai.OpenAI(
                    base_url=self.base_url,
                    api_key=self._key(),
                    max_retries=0,  # retried by the one policy (models._retry)
                    timeout=self.spec.timeout_s,
                )
            return self._client

    def check(self) -> None:
        """Fail fast, before a grid starts, when the endpoint is unreachable or refuses the key."""
        import httpx

        headers = {"Authorization": f"Bearer {self._key()}"}
        try:
            response = httpx.get(f"{self.base_url}/models", headers=headers, timeout=10.0)
        except httpx.HTTPError as exc:
            raise ModelCallError(
                f"model '{self.label}': cannot reach {self.base_url} ({type(exc).__name__})",
                hint="start the server or fix base_url",
            ) from None
        if response.status_code in (401, 403):
            raise ModelCallError(
                f"model '{self.label}': {self.base_url} refused the key (HTTP {response.status_code})",
                hint=f"check {self.spec.api_key_env}",
            )

    def generate(
        self,
        messages: Sequence[Message],
        config: GenerationParams,
        *,
        response_format: Mapping[str, Any] | None = None,
    ) -> Generation:
        """``response_format`` is passed through: ``{"type": "json_object", "schema": S}`` for a
        llama.cpp server, ``{"type": "json_schema", ...}`` for OpenAI."""
        import openai

        client = self.client()
        options: dict[str, Any] = {
            "model": self.spec.model,
            "temperature": config.temperature,
            "top_p": config.top_p,
            # llama.cpp's server ignores max_completion_tokens: send the classic field.
            "max_tokens": config.max_tokens,
            "seed": config.seed,
        }
        if config.stop:
            options["stop"] = list(config.stop)
        if response_format is not None:
            options["response_format"] = dict(response_format)
        started = time.time()
        t0 = time.perf_counter()

        def attempt() -> Generation:
            try:
                if self.mode == "chat":
                    resp = client.chat.completions.create(
                        messages=[m.model_dump() for m in messages], **options
                    )
                    choice = resp.choices[0]
                    text = choice.message.content or ""
                else:
                    resp = client.completions.create(prompt=messages_to_prompt(messages), **options)
                    choice = resp.choices[0]
                    text = choice.text or ""
                prompt_tokens = int(getattr(resp.usage, "prompt_tokens", 0) or 0)
                completion_tokens = int(getattr(resp.usage, "completion_tokens", 0) or 0)
                return Generation(
                    text=text.strip(),
                    usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
                    latency_s=time.perf_counter() - t0,  # the whole call, retries included
                    cost_usd=self._cost(prompt_tokens, completion_tokens),
                    finish_reason=getattr(choice, "finish_reason", None),
                    started_at=started,
                )
            except Exception as exc:  # every way an attempt fails becomes data
                raise self._failure(exc, openai) from None

        outcome = self.retry.call(attempt)
        if outcome.value is None:
            return Generation.failed(
                self._scrub(outcome.error or "no attempt made"),
                latency_s=time.perf_counter() - t0,
                attempts=outcome.attempts,
                started_at=started,
            )
        return outcome.value.model_copy(update={"attempts": outcome.attempts})

    def _failure(self, exc: Exception, openai: Any) -> AttemptFailed:
        """One failed attempt, as the policy sees it: its message, whether to try again,
        and the wait the server asked for."""
        if isinstance(exc, openai.APIStatusError):
            response = exc.response
            return AttemptFailed(
                f"HTTP {exc.status_code}: {_short(exc.message)}",
                retryable=exc.status_code not in _FATAL_STATUS,
                retry_after=retry_after(response.headers if response is not None else None),
            )
        if isinstance(exc, openai.APITimeoutError):
            return AttemptFailed(f"timeout after {self.spec.timeout_s:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return AttemptFailed(f"connection error: {_short(str(exc.__cause__ or exc))}")
        # malformed JSON, empty choices, truncated body ...
        return AttemptFailed(f"bad response: {type(exc).__name__}: {_short(str(exc))}")

    def _cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        price = self.spec.price
        if price is None or price.input_per_1m is None or price.output_per_1m is None:
            return None
        return (prompt_tokens * price.input_per_1m + completion_tokens * price.output_per_1m) / 1e6


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _load_httpx2() -> None:
    """openai checks ``sys.modules`` for httpx2 on every request. Another thread importing it
    (sentence-transformers and huggingface_hub do, as the scorers warm up) would expose a
    half-initialised module to those checks, and calls would fail with "partially
    initialized module 'httpx2'". Loaded here, before the first call, it is never half-there."""
    import importlib

    with contextlib.suppress(ImportError):
        importlib.import_module("httpx2")
