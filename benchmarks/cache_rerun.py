"""Benchmark 3: the call cache.

The quickstart grid (12 variants: 2 prompts x 2 local models x none/bm25/dense) on a
sample of the golden set, run from the command line as a user would (``workbench run``,
a fresh process each time):

1. cold (empty call cache, fresh MLflow store);
2. the unchanged rerun: same command (goal: <= 0.02 of the cold time, zero model calls);
3. one prompt changed (a word of qa_terse v1 edited in a copy of experiments/): only that
   prompt's 6 variants are called again.

Model calls are read back from MLflow (the parent run's ``model_calls`` metric, and each
child run's ``cached_fraction``).

    flock /tmp/wb-heavy.lock .venv/bin/python benchmarks/cache_rerun.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import _common as C

GOAL = 0.02
WORKBENCH = Path(C.PY).parent / "workbench"


def cli(spec: Path, samples: int, env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    cmd = [str(WORKBENCH), "run", str(spec), "--set", f"dataset.sample={samples}"]
    wall, peak, rc, output = C.run_measured(cmd, env=env, cwd=cwd)
    if rc not in (0, 1):  # 1: the release gate failed, a verdict on the tiny models
        raise RuntimeError(f"workbench run failed (rc {rc}):\n{output[-3000:]}")
    return wall, peak, output


def last_run(uri: str) -> dict[str, Any]:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("quickstart")
    parent = client.search_runs(
        [exp.experiment_id],
        filter_string="tags.`workbench.role` = 'parent'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )[0]
    children = client.search_runs(
        [exp.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    recalled = sorted(
        c.data.tags.get("workbench.variant", "?")
        for c in children
        if c.data.metrics.get("cached_fraction", 1.0) < 1.0
    )
    return {"model_calls": int(parent.data.metrics["model_calls"]), "recalled": recalled}


def one(samples: int) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="wb-cache-"))
    try:
        experiments = scratch / "experiments"
        shutil.copytree(C.EXPERIMENTS, experiments)
        cache = C.fresh_cache(scratch / "cache")
        uri = f"sqlite:///{scratch / 'mlruns' / 'mlflow.db'}"
        env = {**os.environ, "WORKBENCH_CACHE_DIR": str(cache), "MLFLOW_TRACKING_URI": uri}
        spec = experiments / "quickstart.yaml"
        cold, cold_peak, _ = cli(spec, samples, env, scratch)
        cold_run = last_run(uri)
        rerun, _, _ = cli(spec, samples, env, scratch)
        rerun_run = last_run(uri)
        prompt = experiments / "prompts" / "qa_terse.v1.yaml"
        prompt.write_text(prompt.read_text().replace("one short sentence", "one brief sentence"))
        changed, _, _ = cli(spec, samples, env, scratch)
        changed_run = last_run(uri)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "cold": cold,
        "cold_peak": cold_peak,
        "cold_calls": cold_run["model_calls"],
        "rerun": rerun,
        "rerun_calls": rerun_run["model_calls"],
        "changed": changed,
        "changed_calls": changed_run["model_calls"],
        "recalled": changed_run["recalled"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    info = C.machine()
    runs = []
    for i in range(args.repeats):
        runs.append(one(args.samples))
        print(f"repetition {i + 1}: {runs[-1]}", file=sys.stderr, flush=True)
    cold = [r["cold"] for r in runs]
    rerun = [r["rerun"] for r in runs]
    changed = [r["changed"] for r in runs]
    rows = [
        ["cold run", C.spread(cold), "1", sorted({r["cold_calls"] for r in runs}), ""],
        [
            "unchanged rerun",
            C.spread(rerun),
            C.spread([b / a for a, b in zip(cold, rerun, strict=True)]),
            sorted({r["rerun_calls"] for r in runs}),
            f"<= {GOAL} and 0 calls",
        ],
        [
            "one prompt changed (qa_terse v1)",
            C.spread(changed),
            C.spread([b / a for a, b in zip(cold, changed, strict=True)]),
            sorted({r["changed_calls"] for r in runs}),
            "only that prompt's variants",
        ],
    ]
    recalled = runs[0]["recalled"]
    body = "\n".join(
        [
            "## 3. Cache",
            "",
            f"Command: `{C.command_line()}`  ",
            f"Machine: {C.machine_line(info)}.",
            "",
            f"`workbench run experiments/quickstart.yaml --set dataset.sample={args.samples}` "
            f"(12 variants x {args.samples} samples = {12 * args.samples} calls on the local "
            "models), each a fresh process, in a scratch copy of experiments/ with its own "
            f"call cache and MLflow store. n = {args.repeats}; median (min-max).",
            "",
            C.table(["run", "wall s", "ratio to cold", "model calls", "goal"], rows),
            "",
            f"After the prompt edit, the variants that called the model again ({len(recalled)}): "
            + ", ".join(f"`{v}`" for v in recalled)
            + ".",
        ]
    )
    C.write_section("cache", body, write=not args.no_write)


if __name__ == "__main__":
    sys.exit(main())
