"""Fixtures of the reliability suite: figures for docs/reliability.md.

Set ``WB_FIGURES=path.jsonl`` to collect the measured figures of a test session (one JSON
line per test: fault rates, retry counts, fuzz case counts, kill points, durations);
without it ``figure`` does nothing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[..., None]:
    def record(**data: Any) -> None:
        path = os.environ.get("WB_FIGURES")
        if not path:
            return
        line = {"test": request.node.nodeid, "at": time.strftime("%Y-%m-%d %H:%M:%S"), **data}
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, default=str) + "\n")

    return record
