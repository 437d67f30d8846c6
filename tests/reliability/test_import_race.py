"""A thread importing httpx2 while calls are in flight must not break the openai provider.

openai looks httpx2 up in ``sys.modules`` on every request; the scorers' warm-up imports
sentence-transformers (which imports httpx2) in a background thread while a remote grid runs.
Before the fix, calls made during that import failed with "partially initialized module
'httpx2'". Here the import is made slow on purpose, so the window is seconds wide, not
microseconds, and the call lands in it every time."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, importlib.machinery, sys, threading, time

    class SlowHttpx2(importlib.abc.MetaPathFinder):
        '''httpx2 sits half-initialised in sys.modules for a second while it imports.'''

        def find_spec(self, name, path, target=None):
            if name != "httpx2":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            real_exec = spec.loader.exec_module

            def exec_module(module):
                started.set()
                time.sleep(1.0)
                real_exec(module)

            spec.loader.exec_module = exec_module
            return spec

    started = threading.Event()
    sys.meta_path.insert(0, SlowHttpx2())

    from tests.reliability.fault_server import FaultConfig, fault_server
    from workbench.models._openai import OpenAIModel
    from workbench.models._types import Message
    from workbench.spec import GenerationParams, ModelSpec

    with fault_server(FaultConfig(fault_rate=0.0)) as server:
        model = OpenAIModel(ModelSpec(provider="openai", model="m", base_url=server.url,
                                      max_retries=0, timeout_s=10))
        import openai  # the provider's own import, before the other thread starts
        assert "httpx2" not in sys.modules, "already loaded: the race cannot happen here"
        other = threading.Thread(target=lambda: __import__("httpx2"))
        other.start()
        assert started.wait(10), "the slow import never started"
        generation = model.generate([Message(role="user", content="What is the SLA?")],
                                    GenerationParams(max_tokens=8))
        other.join()
    print("ERROR:", generation.error)
    """
)


@pytest.mark.skipif(importlib.util.find_spec("httpx2") is None, reason="httpx2 not installed")
def test_call_during_another_threads_httpx2_import_succeeds() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ERROR: None" in proc.stdout, proc.stdout[-2000:]
