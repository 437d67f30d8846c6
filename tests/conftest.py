"""Shared fixtures. Every test gets its own cache dir under tmp_path; an integration test
also its own MLflow store there, a unit test none (the tiers: tests/tiers.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.tiers import guard_collection, mark_tiers, skip_collecting, unit_guard

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Model files assembled once per machine, shared by all tests (never re-assembled per test).
SHARED_MODELS = ROOT / ".cache" / "test-models"
# The empty MLflow schema new stores are copied from: made once, for the tests only.
os.environ.setdefault("WORKBENCH_USER_CACHE", str(ROOT / ".cache" / "user"))


def pytest_configure(config: pytest.Config) -> None:
    guard_collection(config)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    return True if skip_collecting(collection_path, config) else None


@pytest.hookimpl(tryfirst=True)  # before `-m unit` / `-m integration` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: Sequence[pytest.Item]) -> None:
    mark_tiers(items)


@pytest.fixture(autouse=True)
def _isolated(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Fresh cache dir per test, and an MLflow store for integration tests; the project's
    own mlruns/ is never touched. Unit tests run under the unit tier's guard."""
    cache = tmp_path / "cache"
    cache.mkdir()
    models = cache / "models"
    SHARED_MODELS.mkdir(parents=True, exist_ok=True)
    models.symlink_to(SHARED_MODELS, target_is_directory=True)
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(cache))
    monkeypatch.delenv("WORKBENCH_HOME", raising=False)
    if request.node.get_closest_marker("unit"):
        with unit_guard(request.node.nodeid, monkeypatch):
            yield
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
        yield


@pytest.fixture
def no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries happen at once; the waits they asked for are recorded."""
    from workbench.models import _retry

    waits: list[float] = []
    monkeypatch.setattr(_retry, "sleep", waits.append)
    return waits


@pytest.fixture
def acme_dir(tmp_path: Path) -> Path:
    """A copy of experiments/ (corpus, golden set, prompts) a test may modify."""
    target = tmp_path / "experiments"
    shutil.copytree(EXPERIMENTS, target, ignore=shutil.ignore_patterns("*.yaml"))
    for prompt in (EXPERIMENTS / "prompts").glob("*.yaml"):
        shutil.copy(prompt, target / "prompts" / prompt.name)
    return target


def write_spec(folder: Path, text: str, name: str = "exp.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def first_passage_line(messages: Sequence[Any]) -> str:
    """A scripted model's answer: the first line of the first retrieved passage, else
    "I don't know." (right where its retriever finds the answer, wrong elsewhere)."""
    text = messages[-1].content
    if "[1]" in text:
        return str(text.split("[1]", 1)[1].split("\n")[1][:120])
    return "I don't know."


def script_smart_and_dull() -> None:
    """``scripted:smart`` answers from the first passage, ``scripted:dull`` always says
    "Maybe."; the call counts start again from zero."""
    import workbench.testing as wt

    wt.script("smart", first_passage_line)
    wt.script("dull", answer="Maybe.")
    wt.reset_calls()


def in_ci() -> bool:
    """True on CI (``CI=true``, what CI services and ``.ci/run`` set)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def require(condition: bool, why: str) -> None:
    """Skip the test when ``condition`` is false; on CI fail it instead.

    For what the machine must provide (Chromium, PostgreSQL): a laptop without them skips,
    a CI machine without them is broken and must not pass by skipping.
    """
    if condition:
        return
    if in_ci():
        pytest.fail(f"{why} (CI=true: a missing requirement fails instead of skipping)")
    pytest.skip(why)
