"""The test tiers (tests/tiers.py): which tier a test is in, and the unit tier's guard."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
from types import SimpleNamespace
from typing import Any

import pytest

from tests import tiers


def fake_item(nodeid: str, marks: tuple[str, ...] = (), fixtures: tuple[str, ...] = ()) -> Any:
    return SimpleNamespace(
        nodeid=nodeid,
        fixturenames=list(fixtures),
        get_closest_marker=lambda name: object() if name in marks else None,
    )


@pytest.mark.parametrize(
    ("item", "tier"),
    [
        (fake_item("tests/gates/test_policy.py::test_x"), "unit"),
        (fake_item("tests/test_kvstore.py::test_put_get_round_trip_keeps_text_and_bytes"), "unit"),
        (fake_item("tests/gates/test_policy.py::test_x", marks=("slow",)), "integration"),
        (fake_item("tests/gates/test_policy.py::test_x", marks=("integration",)), "integration"),
        (fake_item("tests/gates/test_policy.py::test_x", marks=("reliability",)), "integration"),
        (fake_item("tests/scale/test_dask.py::test_x"), "integration"),
        (fake_item("tests/runner/test_run.py::test_x"), "integration"),
        (fake_item("tests/test_kvstore.py::test_concurrent_writers_from_processes"), "integration"),
        (fake_item("tests/runner/test_grid.py::t", fixtures=("latency_server",)), "integration"),
    ],
    ids=["unit-folder", "unit-module", "slow", "marked", "reliability", "integration-folder",
         "integration-module", "integration-test-id", "server-fixture"],
)  # fmt: skip
def test_a_tests_tier_follows_its_markers_path_and_fixtures(item: Any, tier: str) -> None:
    assert tiers.tier_of(item) == tier


def test_this_test_is_marked_unit(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("integration") is None


@pytest.mark.parametrize(
    ("markexpr", "path", "skipped"),
    [
        ("unit", "tests/scale", True),
        ("unit", "tests/runner/test_run.py", True),
        ("unit", "tests/runner", False),
        ("unit", "tests/gates", False),
        ("not slow", "tests/scale", False),
        ("", "tests/scale", False),
    ],
)
def test_a_unit_only_run_does_not_collect_integration_folders(
    markexpr: str, path: str, skipped: bool
) -> None:
    config: Any = SimpleNamespace(getoption=lambda name, default=None: markexpr)
    assert tiers.skip_collecting(tiers.ROOT / path, config) is skipped


def test_a_unit_test_has_no_mlflow_store() -> None:
    from workbench import _paths

    assert os.environ["MLFLOW_TRACKING_URI"] == tiers.NO_STORE_URI
    assert _paths.default_tracking_uri() == tiers.NO_STORE_URI


def test_a_unit_test_cannot_start_a_subprocess() -> None:
    with pytest.raises(
        pytest.fail.Exception, match=r"unit tier: the test starts a subprocess \(true"
    ):
        subprocess.run(["true"], check=False)


def test_a_unit_test_cannot_start_a_process() -> None:
    with pytest.raises(pytest.fail.Exception, match="unit tier: the test starts a process"):
        multiprocessing.Process(target=print).start()


def test_a_forbidden_import_fails_the_test_even_when_the_error_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A made-up package stands in for mlflow (which an earlier test may have imported)."""
    monkeypatch.setattr(tiers, "FORBIDDEN_IMPORTS", (*tiers.FORBIDDEN_IMPORTS, "wb_tier_probe"))
    inner = pytest.MonkeyPatch()
    try:
        with (
            pytest.raises(pytest.fail.Exception, match="test-x tried to import wb_tier_probe"),
            tiers.unit_guard("test-x", inner),
        ):
            with pytest.raises(ModuleNotFoundError, match="unit tier: test-x imports 'wb_tier_"):
                import wb_tier_probe  # type: ignore[import-not-found]
            try:  # code that treats the package as optional does not hide the attempt
                import wb_tier_probe.sub  # type: ignore[import-not-found]  # noqa: F401
            except ImportError:
                pass
    finally:
        inner.undo()
