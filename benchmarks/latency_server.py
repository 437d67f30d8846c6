"""A latency-bound OpenAI-compatible server: every completion takes a fixed time, no CPU.

It stands in for a remote provider, so the concurrency and growth benchmarks measure the
workbench and not a model: ``/v1/chat/completions`` and ``/v1/completions`` sleep
``--latency-ms`` (asyncio, so any number of requests wait at once) and answer with the
first line of the first retrieved passage, or "I don't know." when there is none.
``GET /stats`` returns the number of completions served; ``POST /reset`` zeroes it.

    .venv/bin/python benchmarks/latency_server.py --port 8311 --latency-ms 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

_STATE = {"completions": 0, "in_flight": 0, "max_in_flight": 0}


def answer_for(prompt: str) -> str:
    if "[1]" in prompt:
        after = prompt.split("[1]", 1)[1].split("\n")
        if len(after) > 1 and after[1].strip():
            return after[1].strip()[:160]
    return "I don't know."


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send_json(send: Any, status: int, payload: Any) -> None:
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def make_app(latency_s: float, model: str) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path, method = scope["path"].rstrip("/"), scope["method"]
        body = await _body(receive)
        if method == "GET" and path == "/v1/models":
            return await _send_json(send, 200, {"object": "list", "data": [{"id": model}]})
        if method == "GET" and path == "/stats":
            return await _send_json(send, 200, dict(_STATE))
        if method == "POST" and path == "/reset":
            _STATE.update(completions=0, in_flight=0, max_in_flight=0)
            return await _send_json(send, 200, dict(_STATE))
        if method != "POST" or path not in ("/v1/chat/completions", "/v1/completions"):
            return await _send_json(send, 404, {"error": {"message": f"no route {path}"}})
        request = json.loads(body or b"{}")
        _STATE["in_flight"] += 1
        _STATE["max_in_flight"] = max(_STATE["max_in_flight"], _STATE["in_flight"])
        try:
            await asyncio.sleep(latency_s)
        finally:
            _STATE["in_flight"] -= 1
        _STATE["completions"] += 1
        chat = path.endswith("chat/completions")
        prompt = (
            "\n".join(m.get("content") or "" for m in request.get("messages", []))
            if chat
            else str(request.get("prompt", ""))
        )
        text = answer_for(prompt)
        usage = {
            "prompt_tokens": len(prompt.split()),
            "completion_tokens": len(text.split()),
            "total_tokens": len(prompt.split()) + len(text.split()),
        }
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
        if chat:
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        payload = {
            "id": f"cmpl-{_STATE['completions']}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": request.get("model", model),
            "choices": [choice],
            "usage": usage,
        }
        await _send_json(send, 200, payload)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8311)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--model", default="latency-200ms")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost"):
        sys.exit("error: the benchmark server listens on 127.0.0.1 only")
    import uvicorn

    uvicorn.run(
        make_app(args.latency_ms / 1000.0, args.model),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=1024,
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
