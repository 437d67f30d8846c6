"""Benchmark 4: concurrency against a latency-bound endpoint.

The fixed-latency OpenAI-compatible server (benchmarks/latency_server.py, 200 ms a call,
127.0.0.1) stands in for a remote provider. The same grid runs with 1, 4, 16 and 32
workers (cold call cache each time, no MLflow logging); the figure is the generation
phase's wall time with 1 worker divided by that with k workers (goal >= 25x at 32).
``--dask`` adds the same grid on a local Dask cluster (one worker process, 32 threads).

    flock /tmp/wb-heavy.lock .venv/bin/python benchmarks/concurrency.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import _common as C

GOAL_32 = 25.0


class PhaseTimer:
    """A progress sink that keeps each phase's wall time."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._phase: str | None = None
        self._t0 = 0.0

    def start(self, phase: str, total: int) -> None:
        self._phase, self._t0 = phase, time.perf_counter()

    def advance(self, n: int = 1, *, error: bool = False, cached: bool = False) -> None:
        pass

    def finish(self) -> None:
        if self._phase is not None:
            self.phases[self._phase] = time.perf_counter() - self._t0
            self._phase = None

    def log(self, message: str) -> None:
        pass


def spec(base_url: str, workers: int, executor: str = "thread") -> dict[str, Any]:
    return {
        "name": "bench-concurrency",
        "dataset": {"path": "datasets/synth.jsonl"},
        "models": {
            "remote": {
                "provider": "openai",
                "model": "latency",
                "base_url": base_url,
                "max_retries": 0,
                "timeout_s": 60,
            },
        },
        "grid": {"prompt": ["qa_terse@1"], "model": ["remote"], "retriever": ["none"]},
        "scorers": ["safety"],
        "thresholds": {},
        "execution": {"concurrency": workers, "executor": executor, "max_error_rate": 0.0},
    }


def one(base_url: str, project: Any, workers: int, executor: str = "thread") -> dict[str, float]:
    from workbench.pipeline import run

    timer = PhaseTimer()
    C.fresh_cache(project.parent / f"cache-{workers}-{time.time_ns()}")
    before = C.server_stats(base_url)["completions"]
    t0 = time.perf_counter()
    result = run(spec(base_url, workers, executor), base_dir=project, progress=timer, track=False)
    wall = time.perf_counter() - t0
    calls = C.server_stats(base_url)["completions"] - before
    assert result.error_rate == 0.0 and calls == len(result.samples), (result.error_rate, calls)
    return {"generation": timer.phases["generation"], "run": wall, "calls": calls}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=192, help="samples (one variant)")
    parser.add_argument("--workers", default="1,4,16,32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--dask", action="store_true", help="also the Dask executor at the top")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    levels = [int(w) for w in args.workers.split(",")]
    info = C.machine()
    os.environ.setdefault("WORKBENCH_DASK_PROCESSES", "1")

    results: dict[str, list[dict[str, float]]] = {}
    with C.workspace() as ws, C.latency_server(args.latency_ms) as base_url:
        project = C.synth_project(ws / "project", args.calls)
        one(base_url, project, max(levels))  # warm-up: imports, first connections
        for _ in range(args.repeats):  # interleaved, so drift hits every level alike
            for k in levels:
                results.setdefault(f"thread {k}", []).append(one(base_url, project, k))
            if args.dask:
                results.setdefault(f"dask {max(levels)}", []).append(
                    one(base_url, project, max(levels), "dask")
                )

    base = C.median([r["generation"] for r in results[f"thread {levels[0]}"]])
    ideal = args.calls * args.latency_ms / 1000
    rows = []
    for label, runs in results.items():
        gen = [r["generation"] for r in runs]
        whole = [r["run"] for r in runs]
        k = int(label.split()[1])
        goal = f">= {GOAL_32:g}x" if k == 32 and label.startswith("thread") else ""
        rows.append(
            [
                label,
                C.spread(gen),
                f"{base / C.median(gen):.1f}x",
                f"{ideal / k:.2f}",
                C.spread(whole),
                int(runs[0]["calls"]),
                goal,
            ]
        )
    body = "\n".join(
        [
            "## 4. Concurrency against a latency-bound endpoint",
            "",
            f"Command: `{C.command_line()}`  ",
            f"Machine: {C.machine_line(info)}.",
            "",
            f"{args.calls} calls (1 variant x {args.calls} samples) to the fixed-latency server "
            f"({args.latency_ms:g} ms a call, 127.0.0.1), cold call cache, no MLflow logging. "
            f"n = {args.repeats} runs per level, interleaved; median (min-max). The speedup is "
            "the generation phase's wall time with 1 worker divided by its wall time with k.",
            "",
            C.table(
                [
                    "executor, workers",
                    "generation s",
                    "speedup",
                    "ideal s",
                    "whole run s",
                    "calls served",
                    "goal",
                ],
                rows,
            ),
        ]
    )
    C.write_section("concurrency", body, write=not args.no_write)


if __name__ == "__main__":
    sys.exit(main())
