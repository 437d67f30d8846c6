"""Benchmark 2: the same grid run by the workbench, by promptfoo, and by mlflow.genai.evaluate.

One ``llama_cpp.server`` (SmolLM2-135M-Instruct, chat) on 127.0.0.1 serves all three. The
grid: 2 prompts (qa_terse@1, qa_grounded@1) x N golden samples, BM25 contexts (k=3), the
same generation parameters (temperature 0, max_tokens 48, seed 0), one call at a time, no
cache, and one code scorer of the same kind (ROUGE-L F1 against the reference).

- workbench: the ``workbench run`` command on the grid's YAML, ``openai`` provider pointed at
  the server (retrieval, scoring, MLflow logging to a fresh sqlite store included; answers
  read back from MLflow afterwards, untimed);
- promptfoo (npm, installed in benchmarks/peers/node_modules): ``promptfoo eval`` with its
  OpenAI-compatible provider, ``-j 1 --no-cache``, a JavaScript ROUGE-L assertion; the
  rendered prompts and contexts are computed beforehand by the workbench's own renderer
  (so the requests are byte-identical), not timed;
- MLflow: ``mlflow.genai.evaluate`` per prompt with a ``predict_fn`` calling the server and
  an ``@scorer`` ROUGE-L (rouge-score), logging to a fresh sqlite store.

Each contender is a fresh process (imports and start-up count); wall time and peak RSS
come from ``wait4``; model calls are counted in the server's access log. Runs are
interleaved, n repetitions, median.

    flock /tmp/wb-heavy.lock .venv/bin/python benchmarks/peers.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import _common as C

PEERS = C.ROOT / "benchmarks" / "peers"
PROMPTFOO = PEERS / "node_modules" / ".bin" / "promptfoo"
PROMPTS = ["qa_terse@1", "qa_grounded@1"]
PARAMS = {"temperature": 0.0, "max_tokens": 48, "seed": 0}
RETRIEVER = {"type": "bm25", "k": 3, "chunk_size": 80, "chunk_overlap": 15}
QUIET = {
    "PROMPTFOO_DISABLE_TELEMETRY": "1",
    "PROMPTFOO_DISABLE_UPDATE": "1",
    "PROMPTFOO_DISABLE_SHARING": "1",
    "PROMPTFOO_DISABLE_REMOTE_GENERATION": "true",
    "PROMPTFOO_SELF_HOSTED": "1",
    "PROMPTFOO_CACHE_ENABLED": "false",
    "NO_UPDATE_NOTIFIER": "1",
    # mlflow.genai.evaluate would call predict_fn once more per evaluation to check it
    "MLFLOW_GENAI_EVAL_SKIP_TRACE_VALIDATION": "True",
}

ROUGE_JS = r"""// ROUGE-L F1 of the output against vars.reference (what rouge-score computes, no stemmer).
function tokens(text) {
  return String(text || '').toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim().split(/\s+/).filter(Boolean);
}
function lcs(a, b) {
  const row = new Array(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    let prev = 0;
    for (let j = 1; j <= b.length; j++) {
      const keep = row[j];
      row[j] = a[i - 1] === b[j - 1] ? prev + 1 : Math.max(row[j], row[j - 1]);
      prev = keep;
    }
  }
  return row[b.length];
}
module.exports = (output, context) => {
  const a = tokens(output), b = tokens(context.vars.reference);
  const l = a.length && b.length ? lcs(a, b) : 0;
  const score = l ? (2 * l) / (a.length + b.length) : 0;
  return { pass: score >= 0.3, score, reason: `rouge_l ${score.toFixed(3)}` };
};
"""


def spec(base_url: str, samples: int) -> dict[str, Any]:
    return {
        "name": "bench-peers",
        "dataset": {"path": "datasets/acme_golden.jsonl", "sample": samples},
        "corpus": {"path": "corpora/acme"},
        "models": {
            "server": {
                "provider": "openai",
                "model": "smollm2",
                "base_url": base_url,
                "max_retries": 0,
                "timeout_s": 900,
            }
        },
        "grid": {"prompt": PROMPTS, "model": ["server"], "retriever": ["bm25"]},
        "retrievers": {"bm25": RETRIEVER},
        "params": PARAMS,
        "scorers": ["rouge_l"],
        "thresholds": {"rouge_l": ">= 0.3"},
        "execution": {"concurrency": 1, "cache": False},
    }


# --------------------------------------------------------------------------- preparing


def prepare_inputs(base_url: str, samples: int, folder: Path) -> list[dict[str, Any]]:
    """The grid's rendered requests (by the workbench's renderer), for the two peers."""
    from workbench.pipeline import prepare
    from workbench.records import NullProgress
    from workbench.runner import render, retrieval_key, retrieve_all

    the_plan = prepare(spec(base_url, samples), base_dir=C.EXPERIMENTS)
    retrievals = retrieve_all(the_plan, NullProgress())
    rows = []
    for variant in the_plan.variants:
        for sample in the_plan.golden.samples:
            messages = render(
                variant.prompt, sample, retrievals[(retrieval_key(variant), sample.id)]
            )
            rows.append(
                {
                    "prompt": variant.prompt.ref,
                    "sample_id": sample.id,
                    "reference": sample.reference,
                    "messages": [m.model_dump() for m in messages],
                }
            )
    (folder / "rows.json").write_text(json.dumps(rows))
    write_promptfoo(folder, base_url, rows)
    return rows


def write_promptfoo(folder: Path, base_url: str, rows: list[dict[str, Any]]) -> None:
    import yaml

    tests: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = "terse" if row["prompt"].startswith("qa_terse") else "grounded"
        test = tests.setdefault(
            row["sample_id"],
            {"vars": {"reference": row["reference"], "sample_id": row["sample_id"]}},
        )
        test["vars"][key] = json.dumps(row["messages"])
    (folder / "prompts.js").write_text(
        "module.exports.terse = ({ vars }) => vars.terse;\n"
        "module.exports.grounded = ({ vars }) => vars.grounded;\n"
    )
    (folder / "rouge_l.js").write_text(ROUGE_JS)
    config = {
        "description": "workbench peers benchmark",
        "prompts": [
            {"id": f"file://{folder}/prompts.js:terse", "label": "qa_terse@1"},
            {"id": f"file://{folder}/prompts.js:grounded", "label": "qa_grounded@1"},
        ],
        "providers": [
            {
                "id": "openai:chat:smollm2",
                "config": {
                    "apiBaseUrl": base_url,
                    "apiKey": "sk-no-key-required",
                    "temperature": PARAMS["temperature"],
                    "max_tokens": PARAMS["max_tokens"],
                    "seed": PARAMS["seed"],
                    "top_p": 1.0,
                },
            }
        ],
        "defaultTest": {"assert": [{"type": "javascript", "value": f"file://{folder}/rouge_l.js"}]},
        "tests": list(tests.values()),
    }
    (folder / "promptfooconfig.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


# --------------------------------------------------------------------------- contenders


def write_workbench_spec(base_url: str, samples: int, folder: Path) -> Path:
    """The grid as the YAML a user would write (paths made absolute), for ``workbench run``."""
    import yaml

    text = spec(base_url, samples)
    text["dataset"]["path"] = str(C.EXPERIMENTS / text["dataset"]["path"])
    text["corpus"]["path"] = str(C.EXPERIMENTS / text["corpus"]["path"])
    text["prompts_dir"] = str(C.EXPERIMENTS / "prompts")
    path = folder / "bench-peers.yaml"
    path.write_text(yaml.safe_dump(text, sort_keys=False))
    return path


def workbench_answers(tracking_uri: str) -> dict[str, str]:
    """The answers of the run ``workbench run`` just logged, read back from MLflow (untimed)."""
    from workbench.tracking.read import load_experiment

    samples = load_experiment("bench-peers", tracking_uri=tracking_uri).samples()
    return {
        f"{row.variant.split(' · ')[0]}|{row.sample_id}": row.answer for row in samples.itertuples()
    }


def run_mlflow(args: argparse.Namespace) -> dict[str, str]:
    import mlflow
    import openai
    from mlflow.genai.scorers import scorer
    from rouge_score import rouge_scorer

    rows = json.loads((Path(args.folder) / "rows.json").read_text())
    client = openai.OpenAI(
        base_url=args.base_url, api_key="sk-no-key-required", max_retries=0, timeout=900
    )
    rouge = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)

    @scorer
    def rouge_l(outputs: Any, expectations: dict[str, Any]) -> float:
        return rouge.score(expectations["expected_response"], str(outputs))["rougeL"].fmeasure

    returned: dict[str, str] = {}  # what predict_fn answered, by request

    def predict_fn(messages: list[dict[str, str]]) -> str:
        out = client.chat.completions.create(
            model="smollm2", messages=messages, top_p=1.0, **PARAMS
        )
        answer = (out.choices[0].message.content or "").strip()
        returned[json.dumps(messages)] = answer
        return answer

    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    mlflow.set_experiment("bench-peers-mlflow")
    answers: dict[str, str] = {}
    for prompt in PROMPTS:  # one evaluation per prompt: MLflow's unit is one app version
        data = [
            {
                "inputs": {"messages": r["messages"]},
                "expectations": {"expected_response": r["reference"]},
            }
            for r in rows
            if r["prompt"] == prompt
        ]
        with mlflow.start_run(run_name=prompt):
            result = mlflow.genai.evaluate(data=data, predict_fn=predict_fn, scorers=[rouge_l])
        traces = mlflow.search_traces(run_id=result.run_id, return_type="list")
        assert len(traces) == len(data), (len(traces), len(data))  # one trace per row
        for r in rows:
            if r["prompt"] == prompt:
                answers[f"{prompt}|{r['sample_id']}"] = returned[json.dumps(r["messages"])]
    return answers


def child(args: argparse.Namespace) -> None:
    print("ANSWERS " + json.dumps(run_mlflow(args)), flush=True)


def promptfoo_answers(out: Path) -> dict[str, str]:
    data = json.loads(out.read_text())
    answers = {}
    for r in data["results"]["results"]:
        label = r.get("prompt", {}).get("label")
        answers[f"{label}|{r['vars']['sample_id']}"] = (r.get("response") or {}).get("output", "")
    return answers


# --------------------------------------------------------------------------- main


def measure(
    name: str, base_url: str, args: argparse.Namespace, work: Path, log: Path
) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix=f"peer-{name}-", dir=work))
    env = {
        **os.environ,
        **QUIET,
        "WORKBENCH_CACHE_DIR": str(scratch / "cache"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{scratch / 'mlruns' / 'mlflow.db'}",
        "PROMPTFOO_CONFIG_DIR": str(scratch / "promptfoo"),
    }
    (scratch / "cache").mkdir()
    (scratch / "cache" / "models").symlink_to(C.SHARED_MODELS, target_is_directory=True)
    before = log.read_text(errors="replace").count("POST /v1/chat/completions")
    if name == "promptfoo":
        out = scratch / "out.json"
        cmd = [
            str(PROMPTFOO),
            "eval",
            "-c",
            str(work / "promptfooconfig.yaml"),
            "-j",
            "1",
            "--no-cache",
            "--no-progress-bar",
            "-o",
            str(out),
        ]
        wall, peak, rc, output = C.run_measured(cmd, env=env, cwd=scratch)
        answers = promptfoo_answers(out) if out.exists() else {}
    elif name == "workbench":  # the command a user runs, start-up and exit included
        cmd = [str(Path(C.PY).parent / "workbench"), "run", str(work / "bench-peers.yaml")]
        wall, peak, rc, output = C.run_measured(cmd, env=env, cwd=scratch)
        answers = workbench_answers(env["MLFLOW_TRACKING_URI"]) if rc == 0 else {}
    else:
        cmd = [
            C.PY,
            __file__,
            "--child",
            name,
            "--base-url",
            base_url,
            "--samples",
            str(args.samples),
            "--folder",
            str(work),
        ]
        wall, peak, rc, output = C.run_measured(cmd, env=env)
        lines = [x for x in output.splitlines() if x.startswith("ANSWERS ")]
        answers = json.loads(lines[-1][len("ANSWERS ") :]) if lines else {}
    calls = log.read_text(errors="replace").count("POST /v1/chat/completions") - before
    # promptfoo exits 100 when assertions fail: that is a verdict, not a crash
    ok = rc == 0 or (name == "promptfoo" and rc == 100 and answers)
    if not ok:
        print(f"--- {name} failed (rc {rc}):\n{output[-4000:]}", file=sys.stderr)
    shutil.rmtree(scratch, ignore_errors=True)
    return {
        "wall": wall,
        "peak": peak,
        "calls": calls,
        "rc": rc,
        "ok": bool(ok),
        "answers": answers,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="workbench,promptfoo,mlflow")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.contender = args.child
        return child(args)

    info = C.machine()
    contenders = args.only.split(",")
    notes = []
    if "promptfoo" in contenders and not PROMPTFOO.exists():
        contenders.remove("promptfoo")
        notes.append("promptfoo: not installed (run `cd benchmarks/peers && npm install`).")
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in contenders}
    work = Path(tempfile.mkdtemp(prefix="wb-peers-"))
    log = work / "llama-server.log"
    try:
        port = C.free_port()
        cmd = [
            C.PY,
            "-m",
            "llama_cpp.server",
            "--model",
            str(C.smollm2_path()),
            "--model_alias",
            "smollm2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--n_threads",
            str(os.cpu_count() or 2),
        ]
        with C.background(cmd, f"http://127.0.0.1:{port}/v1/models", log=log):
            base_url = f"http://127.0.0.1:{port}/v1"
            rows = prepare_inputs(base_url, args.samples, work)
            write_workbench_spec(base_url, args.samples, work)
            for i in range(args.repeats):
                for name in contenders:
                    r = measure(name, base_url, args, work, log)
                    results[name].append(r)
                    print(
                        f"rep {i + 1} {name}: {r['wall']:.1f} s, {r['peak']:.0f} MiB, "
                        f"{r['calls']} calls, rc {r['rc']}",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    reference = next((r["answers"] for r in results.get("workbench", []) if r["answers"]), {})
    table_rows = []
    for name, runs in results.items():
        good = [r for r in runs if r["ok"]]
        if not good:
            table_rows.append([name, "failed", "", "", "", ""])
            continue
        same = sum(  # the MLflow contender strips its answers, as a user's predict_fn would
            (reference.get(k) or "").strip() == (v or "").strip()
            for k, v in good[0]["answers"].items()
        )
        table_rows.append(
            [
                name,
                C.spread([r["wall"] for r in good]),
                C.spread([r["peak"] for r in good]),
                sorted({r["calls"] for r in good}),
                f"{same}/{len(reference)}" if reference else "-",
                f"{len(good)}/{len(runs)}",
            ]
        )
    fastest = min(
        (n for n in results if any(r["ok"] for r in results[n])),
        key=lambda n: C.median([r["wall"] for r in results[n] if r["ok"]]),
    )
    body = "\n".join(
        [
            "## 2. Against peers on the same grid",
            "",
            f"Command: `{C.command_line()}`  ",
            f"Machine: {C.machine_line(info)}; promptfoo 0.121.20 on Node "
            f"{os.popen('node --version').read().strip() or '?'}.",
            "",
            f"One `llama_cpp.server` (SmolLM2-135M-Instruct, 127.0.0.1) serves all three; "
            f"2 prompts x {args.samples} golden samples = {len(rows)} calls with BM25 "
            "contexts, temperature 0, max_tokens 48, seed 0, one call at a time, no cache, one "
            "ROUGE-L code scorer. Each contender is a fresh process (start-up and imports "
            f"count); n = {args.repeats} interleaved repetitions, median (min-max).",
            "",
            C.table(
                [
                    "contender",
                    "wall s",
                    "peak RSS MiB",
                    "model calls",
                    "answers equal to the workbench's",
                    "runs ok",
                ],
                table_rows,
            ),
            "",
            f"Fastest: {fastest}. The workbench's wall time includes its retrieval, scoring "
            "and the MLflow logging (runs, tables, a trace per answer); promptfoo gets the "
            "contexts pre-rendered; MLflow logs a trace per row and its assessments. "
            "Answers are compared with surrounding whitespace ignored. MLflow runs with "
            "`MLFLOW_GENAI_EVAL_SKIP_TRACE_VALIDATION=True` (otherwise `evaluate` calls "
            "`predict_fn` once more per prompt to check it).",
            *(["", *notes] if notes else []),
        ]
    )
    C.write_section("peers", body, write=not args.no_write)


if __name__ == "__main__":
    sys.exit(main())
