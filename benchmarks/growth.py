"""Benchmark 6: growth in samples and in variants.

The whole ``wb.run`` (generation against the fixed-latency server, scoring, MLflow logging
to a fresh sqlite store) at 100 -> 1,000 -> 10,000 samples (1 variant) and at 4 -> 16 -> 64
variants (100 samples), each point in a fresh process so its peak memory is its own. The
curve should be linear in calls (constant seconds per call) with flat memory per call.

    flock /tmp/wb-heavy.lock .venv/bin/python benchmarks/growth.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import _common as C


def point_spec(base_url: str, samples: int, variants: int, workers: int) -> dict[str, Any]:
    prompts = ["qa_terse@1", "qa_grounded@1"] if variants > 1 else ["qa_terse@1"]
    seeds = max(1, variants // len(prompts))
    assert len(prompts) * seeds == variants, "variants: 1 or an even number"
    grid: dict[str, Any] = {"prompt": prompts, "model": ["remote"], "retriever": ["none"]}
    if seeds > 1:
        grid["params"] = {"seed": list(range(seeds))}
    return {
        "name": f"bench-growth-{samples}x{variants}",
        "dataset": {"path": "datasets/synth.jsonl"},
        "models": {
            "remote": {
                "provider": "openai",
                "model": "latency",
                "base_url": base_url,
                "max_retries": 1,
                "timeout_s": 60,
            },
        },
        "grid": grid,
        "scorers": ["safety", "rouge_l"],
        "thresholds": {"rouge_l": ">= 0.2"},
        "execution": {"concurrency": workers, "max_error_rate": 0.0},
    }


def child(args: argparse.Namespace) -> None:
    """One point, in this (fresh) process; prints a JSON line."""
    from workbench.pipeline import run

    with C.workspace() as ws:
        project = C.synth_project(ws / "project", args.samples)
        rss0 = C.peak_rss_mb()
        import workbench.runner  # noqa: F401  (imports before the clock starts)

        t0 = time.perf_counter()
        result = run(
            point_spec(args.base_url, args.samples, args.variants, args.workers), base_dir=project
        )
        wall = time.perf_counter() - t0
        out = {
            "samples": args.samples,
            "variants": args.variants,
            "calls": len(result.samples),
            "wall_s": wall,
            "rss_start_mb": rss0,
            "peak_rss_mb": C.peak_rss_mb(),
            "errors": int(result.samples["error"].notna().sum()),
        }
    print("RESULT " + json.dumps(out), flush=True)


def measure(base_url: str, samples: int, variants: int, workers: int) -> dict[str, Any]:
    cmd = [
        C.PY,
        __file__,
        "--child",
        "--base-url",
        base_url,
        "--samples",
        str(samples),
        "--variants",
        str(variants),
        "--workers",
        str(workers),
    ]
    wall, peak, rc, output = C.run_measured(cmd)
    lines = [x for x in output.splitlines() if x.startswith("RESULT ")]
    if rc != 0 or not lines:
        raise RuntimeError(f"point {samples}x{variants} failed (rc {rc}):\n{output[-3000:]}")
    data = json.loads(lines[-1][len("RESULT ") :])
    data["process_wall_s"], data["process_peak_mb"] = wall, peak
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", default="100,1000,10000")
    parser.add_argument("--variants", default="4,16,64")
    parser.add_argument("--variant-samples", type=int, default=100)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.samples, args.variants = int(args.samples), int(args.variants)
        return child(args)

    info = C.machine()
    points = [(int(s), 1) for s in args.samples.split(",")]
    points += [(args.variant_samples, int(v)) for v in args.variants.split(",")]
    rows: dict[tuple[int, int], list[dict[str, Any]]] = {}
    with C.latency_server(args.latency_ms) as base_url:
        for _ in range(args.repeats):
            for samples, variants in points:
                data = measure(base_url, samples, variants, args.workers)
                rows.setdefault((samples, variants), []).append(data)
                print(json.dumps(data), file=sys.stderr, flush=True)

    def block(keys: list[tuple[int, int]], title: str) -> list[str]:
        out = [title, ""]
        table_rows = []
        first = None
        for key in keys:
            runs = rows[key]
            calls = runs[0]["calls"]
            wall = C.median([r["wall_s"] for r in runs])
            peak = C.median([r["process_peak_mb"] for r in runs])
            ideal = calls * args.latency_ms / 1000 / args.workers
            if first is None:
                first = (calls, wall, peak)
            per_call = (peak - first[2]) * 1024 / (calls - first[0]) if calls > first[0] else None
            table_rows.append(
                [
                    f"{key[0]:,} x {key[1]}",
                    f"{calls:,}",
                    C.fmt(wall),
                    f"{wall / calls * 1000:.1f}",
                    C.fmt(ideal),
                    f"{peak:.0f}",
                    "-" if per_call is None else f"{per_call:.1f}",
                ]
            )
        out.append(
            C.table(
                [
                    "samples x variants",
                    "calls",
                    "wall s",
                    "ms per call",
                    "latency floor s",
                    "peak RSS MiB",
                    "KiB per added call",
                ],
                table_rows,
            )
        )
        return out

    samples_keys = [(int(s), 1) for s in args.samples.split(",")]
    variant_keys = [(args.variant_samples, int(v)) for v in args.variants.split(",")]
    body = "\n".join(
        [
            "## 6. Growth in samples and variants",
            "",
            f"Command: `{C.command_line()}`  ",
            f"Machine: {C.machine_line(info)}.",
            "",
            f"Whole `wb.run` (generation at {args.workers} workers against the fixed-latency "
            f"server, {args.latency_ms:g} ms a call; scoring: safety, rouge_l; MLflow logging "
            "to a fresh sqlite store, traces included), each point in a fresh process; peak "
            f"RSS is that process's. n = {args.repeats} per point (median). 'Latency floor' "
            "is calls x latency / workers, the time the endpoint alone imposes.",
            "",
            *block(samples_keys, "Samples (1 variant):"),
            "",
            *block(variant_keys, f"Variants ({args.variant_samples} samples each):"),
        ]
    )
    C.write_section("growth", body, write=not args.no_write)


if __name__ == "__main__":
    sys.exit(main())
