"""A local OpenAI-compatible server that misbehaves on purpose (stdlib only, 127.0.0.1).

At ``fault_rate`` a completion request gets one of these faults instead of an answer:

- ``timeout``: the server sleeps ``hang_s`` (past the client's timeout) before answering;
- ``429``: HTTP 429 with ``Retry-After: <retry_after>``;
- ``500``: HTTP 500 with a JSON error body;
- ``malformed``: HTTP 200 whose body is not JSON;
- ``truncated``: HTTP 200 announcing a longer ``Content-Length`` than it sends, then closes;
- ``drop``: the connection is closed without any response.

Otherwise it answers a valid chat (``/v1/chat/completions``) or text (``/v1/completions``)
completion with ``usage``: the first line of the first retrieved passage in the prompt, or
"I don't know." when there is none (so answers are deterministic and checkable).
``GET /v1/models`` always answers (the workbench's pre-flight check), unless ``models_fault``.
With ``api_key`` set, a request without ``Authorization: Bearer <api_key>`` gets HTTP 401;
with ``echo_key`` every error body quotes the key the request carried (a careless server,
for the leak test). Faults are drawn from a seeded RNG, so a sequential client sees the same sequence
every time; every request is recorded in ``server.requests``.

Run it by hand: ``python -m tests.reliability.fault_server --port 8099 --fault-rate 0.3``.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("timeout", "429", "500", "malformed", "truncated", "drop")


@dataclass
class FaultConfig:
    fault_rate: float = 0.3
    kinds: tuple[str, ...] = FAULTS
    seed: int = 0
    retry_after: str = "7"
    hang_s: float = 1.5
    api_key: str | None = None
    echo_key: bool = False
    """Error bodies (401, 429, 500) quote the key the request was sent with."""
    open_models: bool = False
    """``GET /v1/models`` needs no key (so a rejected key is only found mid-grid)."""
    models_fault: bool = False


@dataclass
class Request:
    path: str
    model: str | None
    kind: str
    """``ok``, one of FAULTS, or ``unauthorized`` / ``not-found``."""
    at: float = field(default_factory=time.time)


def answer_for(prompt_text: str) -> str:
    if "[1]" in prompt_text:
        line = prompt_text.split("[1]", 1)[1].split("\n")[1][:120].strip()
        return line or "I don't know."
    return "I don't know."


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # do not wait for a handler still "hanging" on a timeout fault
    request_queue_size = 128  # never refuse a connection: only the drawn faults happen
    allow_reuse_address = True

    def __init__(self, config: FaultConfig, port: int = 0):
        self.config = config
        self.requests: list[Request] = []
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def draw(self) -> str:
        with self._lock:
            if self._rng.random() < self.config.fault_rate:
                return self._rng.choice(self.config.kinds)
            return "ok"

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def completions(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("completions")]

    def kinds(self) -> Counter[str]:
        return Counter(r.kind for r in self.completions())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing
    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        if self.server.config.echo_key:
            sent = self.headers.get("Authorization", "").removeprefix("Bearer ")
            message += f" (request key: {sent})"
        body = {"error": {"message": message, "type": "fault", "code": status}}
        self._send(status, json.dumps(body).encode(), headers)

    def _authorized(self) -> bool:
        key = self.server.config.api_key
        if key is None:
            return True
        if self.headers.get("Authorization", "") == f"Bearer {key}":
            return True
        self._error(401, "invalid api key")
        return False

    def _drop(self) -> None:
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- endpoints
    def do_GET(self) -> None:
        if not self.path.rstrip("/").endswith("/models"):
            self.server.record(Request(self.path, None, "not-found"))
            self._error(404, "not found")
            return
        if not self.server.config.open_models and not self._authorized():
            self.server.record(Request(self.path, None, "unauthorized"))
            return
        if self.server.config.models_fault:
            self.server.record(Request(self.path, None, "500"))
            self._error(500, "models endpoint broken")
            return
        self.server.record(Request(self.path, None, "ok"))
        body = {"object": "list", "data": [{"id": "fault-model", "object": "model"}]}
        self._send(200, json.dumps(body).encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            payload = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            payload = {}
        model = payload.get("model")
        if not self.path.rstrip("/").endswith("completions"):
            self.server.record(Request(self.path, model, "not-found"))
            self._error(404, "not found")
            return
        if not self._authorized():
            self.server.record(Request(self.path, model, "unauthorized"))
            return
        kind = self.server.draw()
        self.server.record(Request(self.path, model, kind))
        if kind == "ok":
            self._send(200, json.dumps(self._completion(payload)).encode())
        elif kind == "timeout":
            time.sleep(self.server.config.hang_s)
            with suppress(OSError):  # the client gave up long ago
                self._send(200, json.dumps(self._completion(payload)).encode())
        elif kind == "429":
            self._error(429, "rate limited", {"Retry-After": self.server.config.retry_after})
        elif kind == "500":
            self._error(500, "internal fault")
        elif kind == "malformed":
            self._send(200, b'{"id": "chatcmpl-fault", "choices": [{"message": ')
        elif kind == "truncated":
            body = json.dumps(self._completion(payload)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) + 100))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self._drop()
        elif kind == "drop":
            self._drop()

    def _completion(self, payload: dict[str, Any]) -> dict[str, Any]:
        chat = "messages" in payload
        if chat:
            messages = payload.get("messages") or [{}]
            prompt_text = str(messages[-1].get("content", ""))
            all_text = " ".join(str(m.get("content", "")) for m in messages)
        else:
            prompt_text = all_text = str(payload.get("prompt", ""))
        text = answer_for(prompt_text)
        usage = {
            "prompt_tokens": len(all_text.split()),
            "completion_tokens": len(text.split()),
            "total_tokens": len(all_text.split()) + len(text.split()),
        }
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop", "logprobs": None}
        if chat:
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        return {
            "id": f"cmpl-{random.getrandbits(32):08x}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": payload.get("model", "fault-model"),
            "choices": [choice],
            "usage": usage,
        }


@contextmanager
def fault_server(config: FaultConfig | None = None, port: int = 0) -> Iterator[FaultServer]:
    """Serve in a background thread; yields the server (``.url`` is the ``/v1`` base URL)."""
    server = FaultServer(config or FaultConfig(), port)
    thread = threading.Thread(target=server.serve_forever, name="fault-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--kinds", default=",".join(FAULTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retry-after", default="7")
    parser.add_argument("--hang-s", type=float, default=1.5)
    args = parser.parse_args()
    config = FaultConfig(
        fault_rate=args.fault_rate,
        kinds=tuple(k for k in args.kinds.split(",") if k),
        seed=args.seed,
        retry_after=args.retry_after,
        hang_s=args.hang_s,
    )
    with fault_server(config, args.port) as server:
        print(f"fault server on {server.url} (fault rate {config.fault_rate:.0%})", flush=True)
        with suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
