"""Fixtures of the scale tests: a fixed-latency OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, server_process

ROOT = Path(__file__).resolve().parents[2]


class LatencyServer:
    def __init__(self, base_url: str):
        self.base_url = base_url

    def stats(self) -> dict[str, int]:
        return httpx.get(self.base_url.removesuffix("/v1") + "/stats", timeout=5).json()

    @property
    def completions(self) -> int:
        """Completions served so far (counted by the server itself)."""
        return int(self.stats()["completions"])

    @property
    def max_in_flight(self) -> int:
        """The most requests the server was answering at the same moment."""
        return int(self.stats()["max_in_flight"])


@pytest.fixture
def latency_server() -> Iterator[LatencyServer]:
    """benchmarks/latency_server.py: answers after 20 ms, uses no CPU while waiting."""
    port = free_port()
    cmd = [sys.executable, str(ROOT / "benchmarks" / "latency_server.py")]
    cmd += ["--port", str(port), "--latency-ms", "20"]
    base = f"http://127.0.0.1:{port}/v1"
    with server_process(cmd, f"{base}/models", name="latency server", start_timeout=30):
        yield LatencyServer(base)
