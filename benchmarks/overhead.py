"""Benchmark 1 (and issue 2's overhead benchmark): the workbench against the model's own limit.

On the quickstart grid (a subset: both local models, both prompts, retrievers none and
bm25, a few samples), with one worker:

(a) grid wall time / the sum of raw llama.cpp call times for the same calls (the same
    rendered prompts, in the same order, on a separately loaded ``llama_cpp.Llama``,
    timed around ``create_chat_completion`` / ``create_completion`` only): the generation
    phase alone, the whole run without scoring and logging (goal <= 1.05), and the whole
    run with the quickstart's scoring and MLflow logging;
(b) the unchanged rerun (cache hits, zero model calls) / the cold run;
(c) MLflow logging time (``log_run``), also per trace.

Each repetition runs raw, then the workbench without scoring/logging, then with them, each
in a fresh process (timed inside it, after imports), so machine drift hits all three
alike and no model object or cache outlives its measurement; the ratios are per
repetition, then the median.

    flock /tmp/wb-heavy.lock .venv/bin/python benchmarks/overhead.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import _common as C
from concurrency import PhaseTimer
from logging_read import Timers

QUICKSTART = C.EXPERIMENTS / "quickstart.yaml"
GOAL = 1.05


def overrides(samples: int, retrievers: str, *, score: bool) -> list[str]:
    out = [
        f"dataset.sample={samples}",
        f"grid.retriever=[{retrievers}]",
        "execution.concurrency=1",
    ]
    if not score:
        out += ["scorers=[]", "thresholds={}", "gates=null"]
    return out


def raw_calls(the_plan: Any) -> tuple[float, int]:
    """The same calls straight on llama.cpp: (sum of call seconds, calls)."""
    from llama_cpp import Llama

    from workbench.models import messages_to_prompt
    from workbench.models._llama_cpp import threads
    from workbench.records import NullProgress
    from workbench.runner import render, retrieval_key, retrieve_all

    retrievals = retrieve_all(the_plan, NullProgress())
    loaded: dict[str, Any] = {}
    total, calls = 0.0, 0
    try:
        for variant in the_plan.variants:
            model = the_plan.model_for(variant)
            key = str(model.path)
            if key not in loaded:  # loading is not a call: not timed
                loaded[key] = Llama(
                    model_path=key,
                    n_ctx=model.spec.n_ctx,
                    n_threads=threads(),
                    n_threads_batch=threads(),
                    seed=0,
                    verbose=False,
                )
            llm = loaded[key]
            params = variant.params
            stop = list(params.stop if params.stop is not None else model.default_stop) or None
            options = {
                "temperature": params.temperature,
                "top_p": params.top_p,
                "max_tokens": params.max_tokens,
                "seed": params.seed,
                "stop": stop,
            }
            for sample in the_plan.golden.samples:
                messages = render(
                    variant.prompt, sample, retrievals[(retrieval_key(variant), sample.id)]
                )
                t0 = time.perf_counter()
                if model.mode == "chat":
                    llm.create_chat_completion(
                        messages=[m.model_dump() for m in messages], **options
                    )
                else:
                    llm.create_completion(prompt=messages_to_prompt(messages), **options)
                total += time.perf_counter() - t0
                calls += 1
    finally:
        for llm in loaded.values():
            llm.close()
    return total, calls


def wb_run(samples: int, retrievers: str, *, score: bool) -> dict[str, Any]:
    """One cold workbench run (fresh call cache; a fresh store when logging)."""
    import workbench.tracking as tracking
    from workbench.pipeline import run

    timer, timers = PhaseTimer(), Timers()
    with C.workspace():
        with timers.wrap({"log_run": (tracking, "log_run")}):
            t0 = time.perf_counter()
            result = run(
                str(QUICKSTART),
                overrides=overrides(samples, retrievers, score=score),
                progress=timer,
                track=score,
                raise_on_failure=False,
            )
            cold = time.perf_counter() - t0
        out = {
            "cold": cold,
            "generation": timer.phases["generation"],
            "calls": result.model_calls,
            "errors": int(result.samples["error"].notna().sum()),
            "log_run": timers.spent.get("log_run", 0.0),
            "traces": len(result.samples),
            "sum_latency": float(result.samples["latency_s"].sum()),
        }
        if score:  # (b) the unchanged rerun, same cache and store
            t0 = time.perf_counter()
            again = run(
                str(QUICKSTART),
                overrides=overrides(samples, retrievers, score=score),
                raise_on_failure=False,
            )
            out["rerun"] = time.perf_counter() - t0
            out["rerun_calls"] = again.model_calls
    return out


def child(args: argparse.Namespace) -> None:
    """One measurement in this fresh process; prints a JSON line."""
    if args.child == "raw":
        from workbench.pipeline import prepare

        with C.workspace():
            the_plan = prepare(
                str(QUICKSTART), overrides=overrides(args.samples, args.retrievers, score=False)
            )
            raw, n = raw_calls(the_plan)
        out: dict[str, Any] = {"raw": raw, "n": n}
    else:
        out = wb_run(args.samples, args.retrievers, score=args.child == "full")
    print("RESULT " + json.dumps(out), flush=True)


def measure(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        C.PY,
        __file__,
        "--child",
        kind,
        "--samples",
        str(args.samples),
        "--retrievers",
        args.retrievers,
    ]
    env = {**os.environ, "WORKBENCH_LLAMA_THREADS": str(args.threads)}
    _, _, rc, output = C.run_measured(cmd, env=env)
    lines = [x for x in output.splitlines() if x.startswith("RESULT ")]
    if rc != 0 or not lines:
        raise RuntimeError(f"{kind} failed (rc {rc}):\n{output[-3000:]}")
    data = json.loads(lines[-1][len("RESULT ") :])
    if kind != "raw" and data.get("errors"):
        raise RuntimeError(f"{kind}: {data['errors']} model calls failed; the figure would lie")
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=6)
    parser.add_argument("--retrievers", default="none,bm25")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="llama.cpp threads, raw and workbench alike (1: a busy second core disturbs less)",
    )
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", choices=["raw", "bare", "full"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    info = C.machine()
    from workbench.pipeline import prepare

    the_plan = prepare(
        str(QUICKSTART), overrides=overrides(args.samples, args.retrievers, score=False)
    )
    reps = []
    for i in range(args.repeats):
        raw = measure("raw", args)
        bare = measure("bare", args)
        full = measure("full", args)
        reps.append({"raw": raw["raw"], "n": raw["n"], "bare": bare, "full": full})
        print(
            f"repetition {i + 1}: raw {raw['raw']:.1f} s, bare {bare['cold']:.1f} s, "
            f"full {full['cold']:.1f} s",
            file=sys.stderr,
            flush=True,
        )

    def ratios(f: Any) -> list[float]:
        return [f(r) / r["raw"] for r in reps]

    n_calls = reps[0]["n"]
    rows = [
        ["raw llama.cpp, sum of call times", C.spread([r["raw"] for r in reps]) + " s", "1", ""],
        [
            "workbench generation phase",
            C.spread([r["bare"]["generation"] for r in reps]) + " s",
            C.spread(ratios(lambda r: r["bare"]["generation"])),
            "",
        ],
        [
            "(its own sum of call latencies, as the workbench timed them)",
            C.spread([r["bare"]["sum_latency"] for r in reps]) + " s",
            C.spread(ratios(lambda r: r["bare"]["sum_latency"])),
            "",
        ],
        [
            "workbench whole run, no scoring, no logging",
            C.spread([r["bare"]["cold"] for r in reps]) + " s",
            C.spread(ratios(lambda r: r["bare"]["cold"])),
            f"<= {GOAL}",
        ],
        [
            "workbench whole run, scoring + MLflow logging",
            C.spread([r["full"]["cold"] for r in reps]) + " s",
            C.spread(ratios(lambda r: r["full"]["cold"])),
            "",
        ],
    ]
    full_cold = [r["full"]["cold"] for r in reps]
    rerun = [r["full"]["rerun"] for r in reps]
    log = [r["full"]["log_run"] for r in reps]
    body = "\n".join(
        [
            "## 1. Overhead against the model's own limit",
            "",
            f"Command: `{C.command_line()}`  ",
            f"Machine: {C.machine_line(info)}.",
            "",
            f"Grid: experiments/quickstart.yaml with `dataset.sample={args.samples}` and "
            f"`grid.retriever=[{args.retrievers}]`: 2 prompts x 2 local models (Gemma 3 270M, "
            f"SmolLM2-135M) x {len(args.retrievers.split(','))} retrievers = "
            f"{len(the_plan.variants)} variants, {n_calls} calls, one worker, llama.cpp on "
            f"{args.threads} thread(s) for raw and workbench alike. n = {args.repeats} "
            "repetitions (raw, then workbench without, then with scoring and logging, each a "
            "fresh process); ratios per repetition, median (min-max).",
            "",
            "(a) Wall time against the sum of raw llama.cpp call times for the same calls:",
            "",
            C.table(["what", "time", "ratio to raw", "goal"], rows),
            "",
            "The whole run includes loading the models (Gemma 0.5 s, SmolLM2 0.1 s; the raw "
            "baseline loads them untimed), retrieval, and for the last row the quickstart's "
            "scorers (MiniLM loads for semantic similarity) and the MLflow logging.",
            "",
            "(b) Cache: the unchanged rerun (a second `wb.run` in the same, warm process: warm call cache, new MLflow run; the CLI rerun in a fresh process is in section 3) "
            f"took {C.spread(rerun)} s against {C.spread(full_cold)} s cold: "
            f"ratio {C.spread([b / a for a, b in zip(full_cold, rerun, strict=True)])}, "
            f"model calls on the rerun: {sorted({r['full']['rerun_calls'] for r in reps})}.",
            "",
            f"(c) MLflow logging (`log_run`: parent + {len(the_plan.variants)} child runs, "
            f"tables, {reps[0]['full']['traces']} traces with their scores): {C.spread(log)} s, "
            f"{C.median(log) / reps[0]['full']['traces'] * 1000:.1f} ms per answer; "
            f"{C.median(log) / C.median(full_cold):.1%} of the cold run.",
        ]
    )
    C.write_section("overhead", body, write=not args.no_write)


if __name__ == "__main__":
    sys.exit(main())
