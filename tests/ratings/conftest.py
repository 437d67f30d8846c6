"""Fixtures of the ratings tests: a per-test copy of the scripted store (built once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.apphelpers import Store, clone_store, scripted_store


@pytest.fixture(scope="session")
def scripted_run(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return scripted_store(tmp_path_factory.getbasetemp() / "scripted-store")


@pytest.fixture
def store(scripted_run: Store, tmp_path: Path) -> Store:
    """This test's own copy of the scripted store, at the URI the autouse fixture set."""
    clone_store(scripted_run, tmp_path)
    return scripted_run
