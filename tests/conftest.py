"""Shared fixtures. Every test gets its own cache dir and MLflow store under tmp_path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh cache dir and MLflow store per test; the project's own mlruns/ is never touched."""
    cache = tmp_path / "cache"
    cache.mkdir()
    models = cache / "models"
    SHARED_MODELS.mkdir(parents=True, exist_ok=True)
    models.symlink_to(SHARED_MODELS, target_is_directory=True)
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(cache))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    monkeypatch.delenv("WORKBENCH_HOME", raising=False)


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
