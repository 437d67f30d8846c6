"""Stores and users for the app and ratings tests.

Runs are made once per session (scripted fakes: ~15 s; real local model: ~1-2 min, slow)
and every test gets its own copy of the store (database and artifacts), so ratings and
rounds written by one test never reach another.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXPERIMENTS, SHARED_MODELS

APPS = Path(__file__).resolve().parents[2] / "apps"
HOME = APPS / "Home.py"
PASSWORD = "demo"
USERS = {"alice": "rater", "bob": "rater", "carol": "rater", "sam": "scientist", "lee": "lead"}

# Untrusted content: HTML, JS and Markdown/Streamlit-directive injection.
EVIL = (
    '<script>alert("xss1")</script> <img src=x onerror="alert(\'xss2\')"> '
    "**bold** [click me](javascript:alert('xss3')) ![pixel](http://127.0.0.1:9/pixel.png) "
    ":red[red text] $x^2$"
)

SCRIPTED_SPEC = """\
name: apptest
dataset: {path: golden.jsonl, name: app-golden, version: "1"}
corpus: {path: corpus, name: app-corpus}
grid:
  prompt: [qa_terse@1, qa_grounded@1]
  model: [scripted:smart, scripted:evil]
  retriever: [none, bm25]
retrievers:
  bm25: {type: bm25, k: 2}
thresholds: {rouge_l: ">= 0.3"}
scorers: [rank, safety, rouge_l]
gates:
  name: app-release
  version: "1"
  min_pass_rate_lower_bound: 0.2
  max_high_severity_findings: 0
"""

GOLDEN = [
    (
        "q1",
        "On which days is the Toronto office open?",
        "The Toronto office is open Tuesday to Thursday only.",
        ["office"],
        "factual",
    ),
    (
        "q2",
        "How much does the Team plan cost per month?",
        "The Team plan costs $49 per month.",
        ["pricing"],
        "factual",
    ),
    (
        "q3",
        "How many days do customers have to ask for a refund?",
        "Refunds can be requested within 14 days.",
        ["refunds"],
        "policy",
    ),
    (
        "q4",
        "Where is the Toronto office?",
        "It is at 100 King Street West, Toronto.",
        ["office"],
        "factual",
    ),
    (
        "q5",
        "Who approves refunds above 500 dollars?",
        "The finance lead approves refunds above $500.",
        ["refunds"],
        "policy",
    ),
    ("q6", "What is the capital of Mars?", "I don't know.", [], "unanswerable"),
]
CORPUS = {
    "office": "# Offices\nThe Toronto office is open Tuesday to Thursday only. It is at 100 King Street West, Toronto.",
    "pricing": "# Pricing\nThe Team plan costs $49 per month. The Free plan is free.",
    "refunds": f"# Refunds\nRefunds can be requested within 14 days. {EVIL} The finance lead approves refunds above $500.",
}


def _smart(messages) -> str:  # the first line of the first retrieved passage, or a refusal
    text = messages[-1].content
    if "[1]" in text:
        return text.split("[1]", 1)[1].split("\n")[1][:200]
    return "I don't know."


def _evil(messages) -> str:
    import workbench.testing as wt

    return f"{EVIL} The answer to '{wt.question_of(messages)}' is 42."


def register_scripts() -> None:
    import workbench.testing as wt

    wt.script("smart", _smart)
    wt.script("evil", _evil)


@dataclass(frozen=True)
class Store:
    """A built store: its folder (mlruns/ with mlflow.db and artifacts/) and the run."""

    root: Path
    run_id: str
    experiment: str
    experiment_id: str
    variants: tuple[str, ...]
    labels: dict[str, str]

    @property
    def db(self) -> Path:
        return self.root / "mlruns" / "mlflow.db"


@contextlib.contextmanager
def _env(root: Path) -> Iterator[str]:
    """Point MLflow and the cache at ``root`` while a store is built (session scope)."""
    cache = root / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    SHARED_MODELS.mkdir(parents=True, exist_ok=True)
    if not (cache / "models").exists():
        (cache / "models").symlink_to(SHARED_MODELS, target_is_directory=True)
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("WORKBENCH_CACHE_DIR", str(cache))
        mp.delenv("WORKBENCH_HOME", raising=False)
        yield uri


def _finish(root: Path, result) -> Store:
    from workbench.tracking.read import load_experiment

    loaded = load_experiment(
        result.run_id, tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    )
    with contextlib.closing(sqlite3.connect(root / "mlruns" / "mlflow.db")) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Store(
        root=root,
        run_id=result.run_id,
        experiment=loaded.experiment,
        experiment_id=loaded.experiment_id,
        variants=tuple(loaded.board["variant_id"]),
        labels=dict(zip(loaded.board["variant_id"], loaded.board["variant"], strict=True)),
    )


_BUILT: dict[str, Store] = {}


def scripted_store(root: Path) -> Store:
    """2 prompts x 2 scripted models x 2 retrievers x 6 samples, with injected HTML/JS."""
    if "scripted" in _BUILT:
        return _BUILT["scripted"]
    from workbench.pipeline import run

    root.mkdir(parents=True, exist_ok=True)
    data = root / "experiment"
    (data / "corpus").mkdir(parents=True)
    shutil.copytree(EXPERIMENTS / "prompts", data / "prompts")
    for doc_id, text in CORPUS.items():
        (data / "corpus" / f"{doc_id}.md").write_text(text, encoding="utf-8")
    with open(data / "golden.jsonl", "w", encoding="utf-8") as out:
        for sid, question, reference, docs, category in GOLDEN:
            row = {
                "id": sid,
                "question": question,
                "reference_answer": reference,
                "reference_doc_ids": docs,
                "category": category,
                "severity": "low",
            }
            out.write(json.dumps(row) + "\n")
    spec = data / "apptest.yaml"
    spec.write_text(SCRIPTED_SPEC, encoding="utf-8")
    register_scripts()
    with _env(root):
        result = run(spec)
    _BUILT["scripted"] = _finish(root, result)
    return _BUILT["scripted"]


REAL_SPEC = """\
name: appreal
dataset: {path: datasets/acme_golden.jsonl, sample: 4}
corpus: {path: corpora/acme}
grid:
  prompt: [qa_terse@1, qa_grounded@1]
  model: [llama_cpp:smollm2-135m]
  retriever: [none, bm25]
retrievers:
  bm25: {type: bm25, k: 2, chunk_size: 80, chunk_overlap: 15}
params: {temperature: 0.0, max_tokens: 40, seed: 0}
thresholds: {semantic_similarity: ">= 0.7"}
gates:
  name: appreal-release
  version: "1"
  min_pass_rate_lower_bound: 0.1
  max_high_severity_findings: 0
  max_p95_latency_s: 60
"""


def real_store(root: Path) -> Store:
    """2 prompts x SmolLM2-135M (llama.cpp) x 2 retrievers x 4 golden samples (slow)."""
    if "real" in _BUILT:
        return _BUILT["real"]
    from workbench.pipeline import run

    root.mkdir(parents=True, exist_ok=True)
    data = root / "experiments"
    shutil.copytree(EXPERIMENTS, data, ignore=shutil.ignore_patterns("*.yaml"))
    shutil.copytree(EXPERIMENTS / "prompts", data / "prompts", dirs_exist_ok=True)
    spec = data / "appreal.yaml"
    spec.write_text(REAL_SPEC, encoding="utf-8")
    with _env(root):
        result = run(spec)
    _BUILT["real"] = _finish(root, result)
    return _BUILT["real"]


def clone_store(store: Store, dest: Path) -> str:
    """Copy the store's database and artifacts to ``dest/mlruns`` and repoint the
    artifact locations, so the copy is fully independent. Returns its tracking URI."""
    target = dest / "mlruns"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(store.root / "mlruns" / "artifacts", target / "artifacts", dirs_exist_ok=True)
    db = target / "mlflow.db"
    with (
        contextlib.closing(sqlite3.connect(store.db)) as src,
        contextlib.closing(sqlite3.connect(db)) as out,
    ):
        src.backup(out)
        old = (store.root / "mlruns" / "artifacts").resolve().as_uri()
        new = (target / "artifacts").resolve().as_uri()
        out.execute(
            "UPDATE experiments SET artifact_location = replace(artifact_location, ?, ?)",
            (old, new),
        )
        out.execute("UPDATE runs SET artifact_uri = replace(artifact_uri, ?, ?)", (old, new))
        out.execute("UPDATE trace_tags SET value = replace(value, ?, ?)", (old, new))
        out.execute("PRAGMA journal_mode=WAL")
        out.commit()
    # MLflow caches each run's artifact repository by run id, process-wide: the copy has the
    # same run ids, so forget the cached ones or writes would land in the original store.
    from mlflow.tracking._tracking_service import utils

    utils._artifact_repos_cache.clear()
    return f"sqlite:///{db}"


_USERS_FILE: dict[str, str] = {}


def users_file(folder: Path) -> Path:
    """A workbench.toml with the demo users (password 'demo'); hashed once per session."""
    from workbench.users import set_user

    path = folder / "workbench.toml"
    if "text" not in _USERS_FILE:
        for name, role in USERS.items():
            set_user(name, role, PASSWORD, path=path)
        _USERS_FILE["text"] = path.read_text(encoding="utf-8")
    else:
        path.write_text(_USERS_FILE["text"], encoding="utf-8")
    return path


def sign_in(at, name: str, password: str = PASSWORD):
    """Fill the local sign-in form of an AppTest and submit it."""
    at.text_input(key="signin_name").input(name)
    at.text_input(key="signin_password").input(password)
    at.button(key="signin_submit").click()
    return at.run()


def all_text(at) -> str:
    """Everything an AppTest rendered as text, markdown, captions, html bodies and tables."""
    parts = [str(e.value) for e in at.text]
    parts += [str(e.value) for e in at.markdown]
    parts += [str(e.value) for e in at.caption]
    parts += [str(e.proto.body) for e in at.get("html")]
    return "\n".join(parts)


def env_for_app(uri: str, users: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(MLFLOW_TRACKING_URI=uri, WORKBENCH_CONFIG=str(users))
    return env


def big_store(root: Path, n_variants: int = 20, n_samples: int = 1000) -> Store:
    """A logged run of ``n_variants`` x ``n_samples`` answers (tables only, no traces), as
    ``log_run`` lays it out: parent with leaderboard.json, a child per variant with
    samples.json. For the page-load test of a large grid."""
    import pandas as pd

    from workbench.tracking import LEADERBOARD, TABLE, experiment_id, get_client, write_table

    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    client = get_client(uri)
    exp_id = experiment_id("big", uri)
    parent = client.create_run(
        exp_id, tags={"workbench.role": "parent", "workbench.complete": "true"}
    ).info.run_id
    frames, run_ids = [], {}
    for v in range(n_variants):
        vid = f"{v:012x}"
        tags = {
            "mlflow.parentRunId": parent,
            "workbench.variant_id": vid,
            "workbench.role": "variant",
        }
        run_ids[vid] = client.create_run(exp_id, tags=tags).info.run_id
        frames.append(
            pd.DataFrame(
                {
                    "variant_id": vid,
                    "variant": f"variant {v}",
                    "prompt": f"p{v % 2}",
                    "model": f"m{v % 5}",
                    "retriever": "bm25",
                    "sample_id": [f"s{n:04d}" for n in range(n_samples)],
                    "question": [f"Question number {n}?" for n in range(n_samples)],
                    "reference": "A reference answer.",
                    "category": ["factual", "policy"] * (n_samples // 2),
                    "answer": [f"Answer {n} of variant {v}." for n in range(n_samples)],
                    "error": None,
                    "passed": [float((n + v) % 3 > 0) for n in range(n_samples)],
                    "score": [((n * 7 + v) % 100) / 100 for n in range(n_samples)],
                    "latency_s": 0.5,
                    "cost_usd": 0.0001,
                    "prompt_tokens": 100,
                    "completion_tokens": 10,
                    "contexts": [["a passage"]] * n_samples,
                    "retrieved_doc_ids": [["doc"]] * n_samples,
                    "trace_id": [f"tr-{v:04x}{n:028x}" for n in range(n_samples)],
                }
            )
        )
    from workbench.analysis import leaderboard
    from workbench.records import MetricInfo

    board = leaderboard(
        pd.concat(frames, ignore_index=True), [MetricInfo("score")], n_resamples=200
    )
    board["run_id"] = board["variant_id"].map(run_ids)
    for frame in frames:
        run_id = run_ids[frame["variant_id"].iloc[0]]
        write_table(client, run_id, frame, TABLE)
        client.set_terminated(run_id, "FINISHED")
    write_table(client, parent, board, LEADERBOARD)
    client.log_dict(parent, [{"name": "score", "higher_is_better": True}], "metrics.json")
    client.set_terminated(parent, "FINISHED")
    labels = dict(zip(board["variant_id"], board["variant"], strict=True))
    return Store(root, parent, "big", exp_id, tuple(board["variant_id"]), labels)
