"""Item 1, the narrow windows a SIGKILL rarely hits: the logging phase is cut right after
one particular store write (the process "dies" there: the write happened, nothing after it
did), then the run is repeated. Whatever the cut, the rerun makes no model call and leaves
every (variant, sample) in MLflow exactly once, every child with its params, dataset input,
linked prompt, table and spec, and nothing RUNNING.

In-process with scripted models: the cut is an exception raised after the real write, which
leaves the store exactly as a kill at that instant would.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import workbench.testing as wt
from tests.conftest import write_spec
from tests.reliability import harness as h
from workbench.errors import TrackingError
from workbench.pipeline import run

pytestmark = pytest.mark.reliability

SPEC = """\
name: windows
dataset: {path: datasets/acme_golden.jsonl, sample: 6}
corpus: {path: corpora/acme}
grid:
  prompt: [qa_terse@1]
  model: [scripted:win_a, scripted:win_b]
  retriever: [none, bm25]
thresholds: {rouge_l: ">= 0.0"}
scorers: [rank, safety, rouge_l]
"""


class Crash(Exception):
    """Stands for the process dying right after a store write."""


def _client_method(name: str) -> tuple[Any, str, bool]:
    from mlflow import MlflowClient

    return MlflowClient, name, False


def _store_method(name: str) -> tuple[Any, str, bool]:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    return SqlAlchemyStore, name, True


def _bulk_function(name: str) -> tuple[Any, str, bool]:
    from workbench.tracking import _bulk

    return _bulk, name, False


# (what, the call after which the process dies, the how-manieth call)
CUTS: list[tuple[str, Callable[[], tuple[Any, str, bool]], int]] = [
    ("after-parent-created", lambda: _client_method("create_run"), 1),
    ("after-child-created", lambda: _client_method("create_run"), 2),
    ("after-child-params", lambda: _client_method("log_batch"), 1),
    ("after-child-dataset", lambda: _client_method("log_inputs"), 1),
    ("after-first-trace-chunk", lambda: _bulk_function("write_traces"), 1),
    # The store's public trace calls (an MLflow server, or when the bulk insert cannot
    # be used): cut between a trace's info and its spans, and after the spans.
    ("public-api-after-some-trace-infos", lambda: _store_method("start_trace"), 3),
    ("public-api-after-first-spans", lambda: _store_method("log_spans"), 1),
    ("after-child-table", lambda: _client_method("log_artifact"), 1),
    ("after-child-finished", lambda: _client_method("set_terminated"), 1),
    ("after-parent-metrics", lambda: _client_method("log_batch"), 9),
    ("after-parent-complete-tag", lambda: _client_method("set_tag"), 0),
    ("after-parent-terminated", lambda: _client_method("set_terminated"), 5),
]


@pytest.fixture(autouse=True)
def _scripts() -> None:
    wt.script("win_a", lambda m: m[-1].content[-40:])
    wt.script("win_b", answer="I don't know.")
    wt.reset_calls()


@pytest.mark.parametrize(("name", "target", "nth"), CUTS, ids=[c[0] for c in CUTS])
def test_logging_cut_after_any_write_resumes_exactly_once(
    name: str,
    target: Callable[[], tuple[Any, str, bool]],
    nth: int,
    acme_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner, method, public_api = target()
    real = getattr(owner, method)
    seen = {"n": 0}

    def dies_after(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        seen["n"] += 1
        if nth == 0:  # the one call that sets the parent's completion tag
            if args[2:3] == ("workbench.complete",):
                raise Crash("killed")
        elif seen["n"] == nth:
            raise Crash("killed")
        return out

    if public_api:  # the trace writer falls back to the store's public calls
        from workbench.tracking import _bulk

        monkeypatch.setattr(_bulk, "verified", lambda store: False)
    monkeypatch.setattr(owner, method, dies_after)
    spec = write_spec(acme_dir, SPEC)
    with pytest.raises(TrackingError):
        run(spec)
    assert seen["n"] >= max(nth, 1), f"{method} was not called: the cut point moved"
    monkeypatch.setattr(owner, method, real)
    assert sum(wt.CALLS.values()) == 24
    wt.reset_calls()
    result = run(spec)
    assert sum(wt.CALLS.values()) == 0 and result.model_calls == 0
    uri = os.environ["MLFLOW_TRACKING_URI"]
    if nth == 0:
        # The completion tag is the parent's last write: the first run was whole, so the
        # rerun is a second, separate run (zero model calls); neither is left RUNNING.
        db = Path(uri.removeprefix("sqlite:///"))
        assert h.run_statuses(db) == {"FINISHED": 2 * 5}
        assert [p[2] for p in h.parent_runs(db)] == ["true", "true"]
        return
    h.assert_store_complete(uri, "windows", variants=4, samples=6)
