"""The one retry policy of model calls: bounded, Retry-After honoured, attempts counted,
non-retryable failures tried once, and failures returned as data (never raised)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.reliability.fault_server import FaultConfig, fault_server
from workbench.models import Generation, Message, RetryPolicy
from workbench.models._openai import OpenAIModel
from workbench.models._retry import AttemptFailed, parse_retry_after, retry_after
from workbench.spec import GenerationParams, ModelSpec


def scripted(*steps: AttemptFailed | str) -> tuple[list[int], Callable[[], str]]:
    """An attempt function that fails or answers as scripted; ``calls`` counts its runs."""
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        step = steps[len(calls) - 1]
        if isinstance(step, AttemptFailed):
            raise step
        return step

    return calls, attempt


def test_retries_until_an_answer_and_counts_the_attempts(no_retry_waits: list[float]) -> None:
    calls, attempt = scripted(AttemptFailed("HTTP 500"), AttemptFailed("timeout"), "ok")
    outcome = RetryPolicy(max_retries=4).call(attempt)
    assert (outcome.value, outcome.error, outcome.attempts) == ("ok", None, 3)
    assert len(calls) == 3 and len(no_retry_waits) == 2


def test_retry_after_is_honoured_and_capped(no_retry_waits: list[float]) -> None:
    policy = RetryPolicy(max_retries=3, max_retry_after_s=60.0)
    _, attempt = scripted(
        AttemptFailed("HTTP 429", retry_after=7.0),
        AttemptFailed("HTTP 429", retry_after=600.0),
        AttemptFailed("HTTP 503"),
        "ok",
    )
    outcome = policy.call(attempt)
    assert outcome.attempts == 4 and outcome.value == "ok"
    assert no_retry_waits[:2] == [7.0, 60.0]
    full = policy.base_delay_s * 2 ** (3 - 1)  # backoff before retry number 3
    assert full / 2 <= no_retry_waits[2] <= full


def test_backoff_grows_with_jitter_and_stops_at_the_bound(no_retry_waits: list[float]) -> None:
    policy = RetryPolicy(max_retries=5, base_delay_s=0.5, max_delay_s=2.0)
    calls, attempt = scripted(*[AttemptFailed(f"HTTP 500 #{i}") for i in range(6)])
    outcome = policy.call(attempt)
    assert outcome.value is None and outcome.error == "HTTP 500 #5"  # the last attempt's error
    assert outcome.attempts == len(calls) == 6
    for retry, waited in enumerate(no_retry_waits, start=1):
        full = min(2.0, 0.5 * 2 ** (retry - 1))
        assert full / 2 <= waited <= full


def test_a_non_retryable_failure_is_tried_once(no_retry_waits: list[float]) -> None:
    calls, attempt = scripted(AttemptFailed("HTTP 401: bad key", retryable=False), "never")
    outcome = RetryPolicy(max_retries=4).call(attempt)
    assert (outcome.value, outcome.error, outcome.attempts) == (None, "HTTP 401: bad key", 1)
    assert len(calls) == 1 and no_retry_waits == []


def test_zero_retries_means_one_attempt(no_retry_waits: list[float]) -> None:
    _, attempt = scripted(AttemptFailed("HTTP 500"), "ok")
    outcome = RetryPolicy(max_retries=0).call(attempt)
    assert (outcome.error, outcome.attempts) == ("HTTP 500", 1) and no_retry_waits == []


def test_an_unexpected_exception_is_not_swallowed(no_retry_waits: list[float]) -> None:
    def broken() -> str:
        raise KeyError("a bug, not a failed call")

    with pytest.raises(KeyError):
        RetryPolicy().call(broken)
    assert no_retry_waits == []


def test_retry_after_headers() -> None:
    assert retry_after({"retry-after": "7"}) == 7.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "7"}) == 0.25
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None and retry_after(None) is None
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    assert 0.0 < (parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT") or 0) < 3e9


# --------------------------------------------------------------------------- the provider


def model(url: str, *, max_retries: int, key_env: str | None = None) -> OpenAIModel:
    spec = ModelSpec(
        provider="openai",
        base_url=url,
        model="m",
        api_key_env=key_env,
        timeout_s=2.0,
        max_retries=max_retries,
    )
    return OpenAIModel(spec)


MESSAGES = [Message(role="user", content="When does Acme ship?\n[1] Shipping\nOn Fridays.")]


def call(m: OpenAIModel) -> Generation:
    return m.generate(MESSAGES, GenerationParams(max_tokens=16))


def test_openai_provider_honours_retry_after_and_records_attempts(
    no_retry_waits: list[float],
) -> None:
    config = FaultConfig(fault_rate=1.0, kinds=("429",), retry_after="3")
    with fault_server(config) as server:
        generation = call(model(server.url, max_retries=2))
        requests = len(server.completions())
    assert generation.error is not None and generation.error.startswith("HTTP 429")
    assert generation.attempts == requests == 3
    assert no_retry_waits == [3.0, 3.0]


@pytest.mark.parametrize("kind", ["500", "malformed", "drop"])
def test_openai_provider_retries_transient_faults(kind: str, no_retry_waits: list[float]) -> None:
    config = FaultConfig(fault_rate=1.0, kinds=(kind,))
    with fault_server(config) as server:
        generation = call(model(server.url, max_retries=1))
        requests = len(server.completions())
    assert not generation.ok and generation.attempts == requests == 2
    assert len(no_retry_waits) == 1


def test_openai_provider_answers_after_a_fault(no_retry_waits: list[float]) -> None:
    # seed 1 draws two faults, then an answer (checked against the server's log below)
    config = FaultConfig(fault_rate=0.5, kinds=("500",), seed=1)
    with fault_server(config) as server:
        generation = call(model(server.url, max_retries=4))
        kinds = [r.kind for r in server.completions()]
    assert generation.ok and generation.text == "On Fridays."
    assert kinds == ["500", "500", "ok"] and generation.attempts == 3
    assert len(no_retry_waits) == 2
    assert generation.usage.prompt_tokens > 0 and generation.finish_reason == "stop"


def test_openai_provider_does_not_retry_a_refused_key(
    no_retry_waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WB_RETRY_KEY", "sk-wrong-key-123")
    config = FaultConfig(fault_rate=0.0, api_key="sk-right-key-456")
    with fault_server(config) as server:
        generation = call(model(server.url, max_retries=4, key_env="WB_RETRY_KEY"))
        requests = [r.kind for r in server.requests]
    assert generation.error is not None and generation.error.startswith("HTTP 401")
    assert generation.attempts == 1 and requests == ["unauthorized"]
    assert no_retry_waits == []
    assert "sk-wrong-key-123" not in generation.error
