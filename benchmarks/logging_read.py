"""Benchmark 5: logging a big grid to MLflow, and reading it back.

A grid of 20 variants x 500 samples (a scripted model, so no model time) runs through
``wb.run``; the figure is the time of ``log_run`` (parent + 20 child runs with params,
metrics, per-sample tables, prompt links, and 10,000 traces with 3 spans and every score
as an assessment), split by what it spends it on. Then the reads the app makes:
``load_experiment`` (leaderboard), ``samples(variants=[a, b])`` (per-sample comparison of
two variants), ``samples()`` (all variants). Optionally, the Streamlit Compare page's
first render under AppTest on 20 variants x 1000 samples (``--app``).

``--before`` also times the trace writer this repository had before the bulk writer
(spans first, then one ``start_trace`` per trace), once.

    flock /tmp/wb-heavy.lock .venv/bin/python benchmarks/logging_read.py
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _common as C

GOAL_LOG_S = 10.0
GOAL_APP_S = 2.0


def spec(n_samples: int, n_variants: int) -> dict[str, Any]:
    """2 prompts x 2 retrievers x seeds: ``n_variants`` must be a multiple of 4."""
    assert n_variants % 4 == 0, "variants must be a multiple of 4"
    return {
        "name": "bench-logging",
        "dataset": {"path": "datasets/synth.jsonl", "name": "synth", "sample": None},
        "corpus": {"path": "corpora/acme"},
        "grid": {
            "prompt": ["qa_terse@1", "qa_grounded@1"],
            "model": ["scripted:echo"],
            "retriever": ["none", "bm25"],
            "params": {"seed": list(range(n_variants // 4))},
        },
        "retrievers": {"bm25": {"type": "bm25", "k": 3, "chunk_size": 80, "chunk_overlap": 15}},
        "scorers": ["rank", "safety", "rouge_l"],
        "thresholds": {"rouge_l": ">= 0.3"},
        "execution": {"cache": False, "max_error_rate": 1.0},
    }


def echo(messages: Any) -> str:
    text = messages[-1].content
    if "[1]" in text:
        return text.split("[1]", 1)[1].split("\n")[1][:120]
    return "I don't know."


class Timers:
    """Wall time spent inside named functions (wrapped in place for one run)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def wrap(self, targets: dict[str, tuple[Any, str]]) -> Iterator[None]:
        saved = []
        for label, (owner, attr) in targets.items():
            original = getattr(owner, attr)
            saved.append((owner, attr, original))

            def timed(*a: Any, _f: Any = original, _l: str = label, **k: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return _f(*a, **k)
                finally:
                    self.spent[_l] += time.perf_counter() - t0

            setattr(owner, attr, functools.wraps(original)(timed))
        try:
            yield
        finally:
            for owner, attr, original in reversed(saved):
                setattr(owner, attr, original)


def old_write_drafts(mlflow_client: Any, exp_id: str, drafts: Any) -> dict[str, str]:
    """The trace writer before the bulk path (spans first, then one start_trace a trace)."""
    store = mlflow_client._tracking_client.store
    built = [d.entities(exp_id) for d in drafts]
    store.log_spans(exp_id, [s for _, spans in built for s in spans])
    for info, _ in built:
        store.start_trace(info)
    return {d.tags["workbench.sample_id"]: d.trace_id for d in drafts}


def one_run(
    n_samples: int, n_variants: int, *, before: bool = False, uri: str | None = None
) -> dict[str, Any]:
    """A fresh store (or the server at ``uri``); the grid through wb.run; log_run timed
    and broken down."""
    import workbench.testing as wt
    import workbench.tracking as tracking
    from workbench.pipeline import run
    from workbench.tracking import _log_run, _traces

    wt.script("echo", echo)
    timers = Timers()
    targets = {
        "log_run (total)": (tracking, "log_run"),
        "traces": (_traces, "_write_chunk"),
        "resume check (search_traces)": (_traces, "scan_run"),
        "per-sample tables": (_log_run, "write_table"),
        "variant params + dataset input": (_log_run, "log_variant_params"),
        "variant metrics": (_log_run, "log_metrics"),
        "prompt registry": (_log_run, "register_prompt"),
        "parent run": (_log_run, "_log_parent"),
    }
    with C.workspace() as ws:
        if uri:
            os.environ["MLFLOW_TRACKING_URI"] = uri  # restored by workspace()
        project = C.synth_project(ws / "project", n_samples)
        from workbench.tracking import ensure_store

        ensure_store()  # the schema is made once per store, not per run: not timed
        patch = (
            contextlib.ExitStack()
            if not before
            else _patched(_traces, "_write_to_store", old_write_drafts)
        )
        with patch, timers.wrap(targets):
            t0 = time.perf_counter()
            result = run(spec(n_samples, n_variants), base_dir=project)
            total = time.perf_counter() - t0
        assert len(result.samples) == n_samples * n_variants, len(result.samples)
        reads = read_back(result.experiment, n_variants)
        size_mb = float("nan")
        if str(result.tracking_uri).startswith("sqlite:///"):
            db = Path(str(result.tracking_uri).removeprefix("sqlite:///"))
            size_mb = sum(p.stat().st_size for p in db.parent.glob("mlflow.db*")) / 2**20
    return {
        "run_s": total,
        "log_s": timers.spent["log_run (total)"],
        "parts": dict(timers.spent),
        "reads": reads,
        "db_mb": size_mb,
    }


@contextlib.contextmanager
def _patched(owner: Any, attr: str, value: Any) -> Iterator[None]:
    original = getattr(owner, attr)
    setattr(owner, attr, value)
    try:
        yield
    finally:
        setattr(owner, attr, original)


def read_back(experiment: str, n_variants: int) -> dict[str, float]:
    """The app's reads, first call and then warm (median of 5)."""
    from workbench.tracking.read import load_experiment

    out: dict[str, float] = {}
    first, loaded = C.timed(lambda: load_experiment(experiment))
    out["leaderboard (load_experiment), first"] = first
    out["leaderboard (load_experiment), warm"] = C.median(
        [C.timed(lambda: load_experiment(experiment))[0] for _ in range(5)]
    )
    pair = list(loaded.variant_run_ids)[:2]
    out["two variants' samples (comparison)"] = C.median(
        [C.timed(lambda: load_experiment(experiment).samples(pair))[0] for _ in range(5)]
    )
    out[f"all {n_variants} variants' samples"] = C.median(
        [C.timed(lambda: load_experiment(experiment).samples())[0] for _ in range(3)]
    )
    return out


@contextlib.contextmanager
def mlflow_server() -> Iterator[str]:
    """scripts/server.sh (PostgreSQL + mlflow server) in a scratch folder, on free ports."""
    state = Path(tempfile.mkdtemp(prefix="wb-bench-server-", dir="/tmp"))
    state.chmod(0o755)
    env = {
        **os.environ,
        "WB_SERVER_DIR": str(state),
        "WB_PG_PORT": str(C.free_port()),
        "WB_MLFLOW_PORT": str(C.free_port()),
        "WB_ARTIFACTS_DIR": str(state / "artifacts"),
    }
    script = str(C.ROOT / "scripts" / "server.sh")
    try:
        subprocess.run(["bash", script, "start"], env=env, check=True, capture_output=True)
        yield f"http://127.0.0.1:{env['WB_MLFLOW_PORT']}"
    finally:
        subprocess.run(["bash", script, "destroy"], env=env, capture_output=True)
        shutil.rmtree(state, ignore_errors=True)


# --------------------------------------------------------------------------- app


def app_first_render(n_samples: int, n_variants: int, repeats: int) -> dict[str, Any] | str:
    """The Compare page's first render under AppTest (Streamlit's caches cleared before
    each), signed in, on a store holding the big grid."""
    home = C.ROOT / "apps" / "Home.py"
    if not (C.ROOT / "apps" / "pages" / "compare.py").is_file():
        return "apps/pages/compare.py does not exist yet"
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    import workbench.testing as wt
    from workbench.pipeline import run
    from workbench.users import User

    wt.script("echo", echo)
    with C.workspace() as ws:
        project = C.synth_project(ws / "project", n_samples)
        result = run(spec(n_samples, n_variants), base_dir=project)
        times, errors = [], []
        for _ in range(repeats):
            st.cache_data.clear()
            st.cache_resource.clear()
            app = AppTest.from_file(str(home), default_timeout=300)
            app.session_state["wb_user"] = User("bench", "scientist")
            app.session_state["wb_selected_experiment"] = result.experiment
            app.session_state["wb_selected_run"] = result.run_id
            app.run()
            app.switch_page("pages/compare.py")
            t0 = time.perf_counter()
            app.run()
            times.append(time.perf_counter() - t0)
            errors += [str(e.value) for e in app.exception]
            shown = [t.value for t in app.text if "samples match the filters" in str(t.value)]
            if not shown:
                errors.append("the page did not reach the sample list")
        return {"times": times, "errors": errors}


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--variants", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="runs; the median is reported")
    parser.add_argument(
        "--before", action="store_true", help="also time the old trace writer (once)"
    )
    parser.add_argument("--app", action="store_true", help="also time the Compare page (AppTest)")
    parser.add_argument("--app-samples", type=int, default=1000)
    parser.add_argument(
        "--server", action="store_true", help="also log to an MLflow server on PostgreSQL"
    )
    parser.add_argument("--server-samples", type=int, default=100)
    parser.add_argument("--server-variants", type=int, default=4)
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    args = parser.parse_args(argv)
    info = C.machine()

    runs = [one_run(args.samples, args.variants) for _ in range(args.repeats)]
    before = one_run(args.samples, args.variants, before=True) if args.before else None
    n_traces = args.samples * args.variants
    log_s = [r["log_s"] for r in runs]
    lines = [
        f"Grid: {args.variants} variants x {args.samples} samples = {n_traces:,} answers, "
        f"scripted model (no model time), sqlite store (WAL). n = {args.repeats} runs, "
        "each in a fresh store; median (min-max).",
        "",
        C.table(
            ["measure", "value", "goal"],
            [
                [
                    f"`log_run`, {n_traces:,} traces + {args.variants} child runs + tables",
                    f"{C.spread(log_s)} s",
                    f"<= {GOAL_LOG_S:g} s",
                ],
                ["per trace", f"{C.median(log_s) / n_traces * 1000:.2f} ms", ""],
                [
                    "whole `wb.run` (plan, scoring, logging)",
                    f"{C.spread([r['run_s'] for r in runs])} s",
                    "",
                ],
                ["store size after one run", f"{C.median([r['db_mb'] for r in runs]):.0f} MiB", ""],
            ],
        ),
        "",
        "Where `log_run` spends its time (median run):",
        "",
        C.table(
            ["part", "s"],
            [
                [k, C.fmt(v)]
                for k, v in sorted(runs[len(runs) // 2]["parts"].items(), key=lambda kv: -kv[1])
            ],
        ),
    ]
    if before is not None:
        lines += [
            "",
            f"Before (the previous trace writer, n = 1): `log_run` {C.fmt(before['log_s'])} s "
            f"({before['log_s'] / n_traces * 1000:.1f} ms a trace), of which traces "
            f"{C.fmt(before['parts'].get('traces', float('nan')))} s; after: "
            f"{C.fmt(C.median(log_s))} s, {before['log_s'] / C.median(log_s):.0f}x faster.",
        ]
    reads: dict[str, list[float]] = defaultdict(list)
    for r in runs:
        for k, v in r["reads"].items():
            reads[k].append(v)
    lines += [
        "",
        "Reading it back (what the app and notebooks call), median over the runs:",
        "",
        C.table(["read", "s"], [[k, C.spread(v)] for k, v in reads.items()]),
    ]
    if args.server:
        with mlflow_server() as uri:
            served = [
                one_run(args.server_samples, args.server_variants, uri=uri)
                for _ in range(args.repeats)
            ]
        n_served = args.server_samples * args.server_variants
        served_log = [r["log_s"] for r in served]
        lines += [
            "",
            f"The same logging against `make server` (MLflow server, one worker, PostgreSQL "
            f"15, proxied artifacts; all on this machine): {args.server_variants} variants x "
            f"{args.server_samples} samples = {n_served:,} traces: `log_run` "
            f"{C.spread(served_log)} s, {C.median(served_log) / n_served * 1000:.1f} ms per "
            f"trace (traces {C.fmt(C.median([r['parts'].get('traces', 0) for r in served]))} s "
            "of it). Over REST each trace is one `start_trace` request and each chunk one "
            "`log_spans` request; the bulk path needs direct database access.",
        ]
    if args.app:
        app = app_first_render(args.app_samples, args.variants, args.repeats)
        if isinstance(app, str):
            lines += ["", f"Compare page first render: not measured ({app})."]
        else:
            lines += [
                "",
                f"Streamlit Compare page, first render under AppTest, {args.variants} variants x "
                f"{args.app_samples} samples: {C.spread(app['times'])} s (goal <= {GOAL_APP_S:g} s)"
                + (f"; page errors: {app['errors']}" if app["errors"] else "."),
            ]
    body = "\n".join(
        [
            "## 5. Logging and reading",
            "",
            f"Command: `{C.command_line()}`  ",
            f"Machine: {C.machine_line(info)}.",
            "",
            *lines,
        ]
    )
    C.write_section("logging", body, write=not args.no_write)


if __name__ == "__main__":
    sys.exit(main())
