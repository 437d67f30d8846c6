"""Fixtures of the scale tests: a fixed-latency OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port

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
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            assert proc.poll() is None, "the latency server exited"
            try:
                if httpx.get(f"{base}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline, "the latency server did not start"
            time.sleep(0.1)
        yield LatencyServer(f"{base}/v1")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
