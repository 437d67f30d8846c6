"""The one retry policy of model calls (on tenacity): bounded attempts, exponential
backoff with jitter, and a server's ``Retry-After`` honoured.

A provider runs one attempt in a function that returns its result or raises
:class:`AttemptFailed` (retryable or not, with the wait the server asked for);
:meth:`RetryPolicy.call` runs it and hands back the result or the last error, with the
number of attempts made: a failed call is data, never an exception.

Tests make waits instant through a fixture that replaces :data:`sleep`, not by
shortening delays in the code.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

sleep = time.sleep  # replaced by the `no_retry_waits` test fixture

T = TypeVar("T")


class AttemptFailed(Exception):
    """One attempt of a call failed; ``message`` is what is recorded if it was the last."""

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        """Seconds the server asked to wait (``Retry-After``), or None."""


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A call's result, or the error of its last attempt; ``attempts`` counts them all."""

    value: T | None
    error: str | None
    attempts: int


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_retry_after_s: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based): what the server
        asked for (capped), else the exponential backoff with 50-100 % jitter."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_retry_after_s)
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return backoff * (0.5 + random.random() / 2)

    def call(self, attempt: Callable[[], T]) -> Outcome[T]:
        """Run ``attempt`` until it returns, raises a non-retryable :class:`AttemptFailed`,
        or ``max_retries`` retries are spent. Any other exception propagates."""
        import tenacity

        made = 0

        def counted() -> T:
            nonlocal made
            made += 1
            return attempt()

        def wait(state: tenacity.RetryCallState) -> float:
            failed = state.outcome.exception() if state.outcome is not None else None
            told = failed.retry_after if isinstance(failed, AttemptFailed) else None
            return self.delay(state.attempt_number, told)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=wait,
            retry=tenacity.retry_if_exception(
                lambda exc: isinstance(exc, AttemptFailed) and exc.retryable
            ),
            sleep=lambda seconds: sleep(seconds),  # looked up at call time (test fixture)
            reraise=True,
        )
        try:
            return Outcome(retrying(counted), None, made)
        except AttemptFailed as failed:
            return Outcome(None, failed.message, made)


def retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """The wait a response asks for: ``retry-after-ms``, else ``Retry-After`` (seconds or
    an HTTP date), else None."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    return parse_retry_after(value) if value is not None else None


def parse_retry_after(value: str) -> float | None:
    """``Retry-After`` as seconds: an integer/float, or an HTTP date."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
