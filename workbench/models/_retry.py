"""Bounded retries with exponential backoff that honour ``Retry-After``.

Tests make waits instant through a fixture that replaces :data:`sleep`, not by
shortening delays in the code.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

sleep = time.sleep  # replaced by the `no_retry_waits` test fixture


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_retry_after_s: float = 60.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if retry_after:
            told = parse_retry_after(retry_after)
            if told is not None:
                return min(told, self.max_retry_after_s)
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return backoff * (0.5 + random.random() / 2)  # jitter: 50-100 % of the backoff

    def wait(self, attempt: int, retry_after: str | None = None) -> float:
        seconds = self.delay(attempt, retry_after)
        sleep(seconds)
        return seconds


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
