"""Fixtures of the app tests: a per-test copy of a store built once, and the demo users."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.apphelpers import Store, clone_store, real_store, scripted_store, users_file


@pytest.fixture(scope="session")
def scripted_run(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return scripted_store(tmp_path_factory.getbasetemp() / "scripted-store")


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return real_store(tmp_path_factory.getbasetemp() / "real-store")


@pytest.fixture
def store(scripted_run: Store, tmp_path: Path) -> Store:
    """This test's own copy of the scripted store, at the URI the autouse fixture set."""
    clone_store(scripted_run, tmp_path)
    return scripted_run


@pytest.fixture
def users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = users_file(tmp_path)
    monkeypatch.setenv("WORKBENCH_CONFIG", str(path))
    monkeypatch.delenv("WORKBENCH_MLFLOW_UI", raising=False)
    return path
