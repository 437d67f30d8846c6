"""The two test tiers, decided in one place and enforced.

``unit`` (``make test-fast``, what a developer runs on every change): logic only, with
``workbench.testing`` fakes and hand-made cases. No MLflow store, no model, no browser,
no subprocess or server.

``integration`` (``make test`` runs both tiers): the real parts. A test is integration when

- it carries a marker that says so (``slow``, ``browser``, ``notebook``, ``api``,
  ``reliability``, or ``integration`` itself on a test or module), or
- it lives under a path of :data:`INTEGRATION_PATHS`, or
- it uses a fixture of :data:`INTEGRATION_FIXTURES` (directly or through another fixture).

Every other test is ``unit``, and is held to it while it runs (:func:`unit_guard`): importing
MLflow, a model runtime, a browser or a process-based executor fails it, starting a
subprocess or a process fails it, and its ``MLFLOW_TRACKING_URI`` names no store. So a test
put in the wrong tier fails under ``make test-fast`` with a message that says where it
belongs, instead of making the fast tier slow.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import multiprocessing.process
import platform
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

INTEGRATION_MARKS = ("slow", "browser", "notebook", "api", "reliability", "integration")

INTEGRATION_PATHS = (
    # whole folders: a real MLflow store, servers, browsers, notebooks, real models
    "tests/app/",
    "tests/cli/",
    "tests/integration/",
    "tests/notebooks/",
    "tests/promotion/",
    "tests/ratings/",
    "tests/reliability/",
    "tests/scale/",
    "tests/tracking/",
    # single modules and tests of otherwise unit folders (measured: a store or processes)
    "tests/runner/test_run.py",
    "tests/test_kvstore.py::test_concurrent_writers_from_processes",
    "tests/analysis/test_figures.py::test_importing_analysis_does_not_import_plotly",
    "tests/plugins/test_plugins.py::test_built_ins_are_named_without_importing_them",
    "tests/scoring/test_scorers.py::test_judge_schema_is_tightened_for_tiny_models",  # llama.cpp
)
"""Paths (relative to the repository root) or test ids whose tests are integration."""

INTEGRATION_FIXTURES = frozenset({"latency_server", "scripted_run", "real_run", "store", "grid"})
"""Fixtures that open an MLflow store or start a server."""

FORBIDDEN_IMPORTS = (
    "mlflow",
    "llama_cpp",
    "sentence_transformers",
    "streamlit",
    "playwright",
    "distributed",
)
"""Top-level packages a unit test may not import: a store, a model runtime, the app, a
browser, process-based executors. (Not torch or transformers: libraries such as
``datasets`` probe for them with ``importlib.util.find_spec`` and carry on without.)"""

NO_STORE_URI = "unit-tier-has-no-mlflow-store://mark-the-test-integration"
"""``MLFLOW_TRACKING_URI`` in a unit test: opening it fails with this name in the error."""

HOW_TO_FIX = (
    "a unit test (make test-fast) opens no MLflow store, loads no model and starts no "
    "process; use workbench.testing fakes, or make it an integration test "
    "(@pytest.mark.integration, or a path / fixture listed in tests/tiers.py)"
)


def tier_of(item: pytest.Item) -> str:
    """``"integration"`` or ``"unit"`` (see the module docstring)."""
    if any(item.get_closest_marker(name) for name in INTEGRATION_MARKS):
        return "integration"
    if item.nodeid.startswith(INTEGRATION_PATHS):
        return "integration"
    if INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return "integration"
    return "unit"


def _relative(path: Path) -> str:
    path = path.resolve()
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return path.as_posix()


def unit_only(config: pytest.Config) -> bool:
    """``-m unit``: the fast tier alone (make test-fast)."""
    return str(config.getoption("markexpr", "") or "").strip() == "unit"


def skip_collecting(path: Path, config: pytest.Config) -> bool:
    """In a unit-only run, integration folders and modules are not even imported (their
    imports of MLflow, Streamlit ... would cost seconds and hide a unit test's own)."""
    if not unit_only(config):
        return False
    relative = _relative(path) + ("/" if path.is_dir() else "")
    return relative.startswith(INTEGRATION_PATHS)


def guard_collection(config: pytest.Config) -> None:
    """In a unit-only run, a unit test module that imports a forbidden package at its top
    fails to collect, naming the package."""
    # `platform.processor()` runs `uname -p` once per process (then it is cached); the
    # openai SDK asks for it on its first request. Asked here, no unit test starts it.
    platform.processor()
    if unit_only(config):
        sys.meta_path.insert(0, _ForbiddenImports("collecting the unit tier"))


def mark_tiers(items: Sequence[pytest.Item]) -> None:
    """Give every collected test its tier's marker (``-m unit`` / ``-m integration``)."""
    for item in items:
        tier = tier_of(item)
        if tier == "integration" and not item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.integration)
        elif tier == "unit":
            item.add_marker(pytest.mark.unit)


class _ForbiddenImports(importlib.abc.MetaPathFinder):
    """Refuses the first import of a forbidden package, and remembers that it was tried
    (a caller that catches the ImportError does not hide it: the test fails at teardown)."""

    def __init__(self, test: str) -> None:
        self.test = test
        self.tried: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        top = fullname.partition(".")[0]
        if top in FORBIDDEN_IMPORTS:
            if top not in self.tried:
                self.tried.append(top)
            raise ModuleNotFoundError(
                f"unit tier: {self.test} imports {top!r}; {HOW_TO_FIX}", name=fullname
            )
        return None


def _no_subprocess(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
    shown = args if isinstance(args, str | bytes) else " ".join(map(str, args))
    pytest.fail(f"unit tier: the test starts a subprocess ({str(shown)[:120]}); {HOW_TO_FIX}")


def _no_process(self: multiprocessing.process.BaseProcess) -> None:
    pytest.fail(f"unit tier: the test starts a process ({self.name}); {HOW_TO_FIX}")


@contextmanager
def unit_guard(test: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Hold one unit test to its tier while it runs (setup, call and teardown)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", NO_STORE_URI)
    monkeypatch.setattr(subprocess.Popen, "_execute_child", _no_subprocess)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", _no_process)
    already = sorted(name for name in FORBIDDEN_IMPORTS if name in sys.modules)
    finder = _ForbiddenImports(test)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
    # Imported before this test (by an integration test of the same session): the import
    # hook cannot see a second import, so check what is loaded only when it was not before.
    loaded = sorted(name for name in FORBIDDEN_IMPORTS if name in sys.modules)
    new = [name for name in loaded if name not in already]
    tried = sorted(set(finder.tried) | set(new))
    if tried:
        pytest.fail(f"unit tier: {test} tried to import {', '.join(tried)}; {HOW_TO_FIX}")
