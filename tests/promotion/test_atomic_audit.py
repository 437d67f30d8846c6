"""Atomic decisions (an injected failure between the two alias moves changes nothing and
is audited) and the append-only audit log (no way to change a record through the API)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.promotion.conftest import LEAD, SCIENTIST
from workbench import promotion
from workbench.errors import PromotionError
from workbench.promotion import _audit
from workbench.tracking import registry
from workbench.tracking.read import load_experiment


def _client(tmp_path: Path) -> MlflowClient:
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _aliases(client: MlflowClient) -> tuple[str | None, str | None, str | None]:
    def get(fn, *args):
        try:
            return str(fn(*args).version)
        except Exception:
            return None

    return (
        get(client.get_model_version_by_alias, "promo", "champion"),
        get(client.get_prompt_version_by_alias, "promo.qa_terse", "production"),
        get(client.get_prompt_version_by_alias, "promo.qa_grounded", "production"),
    )


@pytest.fixture
def challenger(grid):
    """Champion v1 on qa_terse; v2 (qa_grounded, better) pending: approving v2 moves the
    model alias and two prompt aliases."""
    run = grid(["base", "better"], prompts=["qa_terse@1", "qa_grounded@1"])
    first = promotion.propose(run, variant="qa_terse@1 · base · none", user=SCIENTIST)
    promotion.approve(first.version, experiment="promo", reason="first", user=LEAD)
    second = promotion.propose(run, variant="qa_grounded@1 · better · none", user=SCIENTIST)
    assert second.version == "2"
    return run


def test_a_failure_between_the_alias_moves_leaves_both_as_before(
    challenger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(tmp_path)
    before = _aliases(client)
    assert before == ("1", "1", None)
    seen: list[tuple[str | None, ...]] = []
    real = registry.set_prompt_alias

    def broken(name, alias, number, uri=None):
        seen.append(_aliases(client))  # the champion alias has already moved
        raise ConnectionError("prompt registry went away")

    monkeypatch.setattr(registry, "set_prompt_alias", broken)
    with pytest.raises(PromotionError) as info:
        promotion.approve("2", experiment="promo", reason="ship it", user=LEAD)
    message = str(info.value)
    assert "failed at step 'alias promo.qa_grounded@production'" in message
    assert "prompt registry went away" in message and "nothing was changed" in message
    assert seen == [("2", "1", None)]  # the failure came between the two moves
    monkeypatch.setattr(registry, "set_prompt_alias", real)

    assert _aliases(client) == before
    assert client.get_model_version("promo", "2").tags["approval.status"] == "pending"
    failed = [r for r in promotion.audit_log("promo") if r.outcome == "failed"]
    assert len(failed) == 1
    record = failed[0]
    assert (record.action, record.who, record.version, record.reason) == (
        "approve",
        "lee",
        "2",
        "ship it",
    )
    assert (record.previous_champion, record.champion_after) == ("1", "1")
    assert "prompt registry went away" in record.detail

    promotion.approve("2", experiment="promo", reason="ship it, registry is back", user=LEAD)
    assert _aliases(client) == ("2", None, "1")


def test_a_failed_audit_write_undoes_the_moves(
    challenger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(tmp_path)
    real = _audit.write

    def flaky(record, **kwargs):
        if record.outcome == "ok":
            raise OSError("artifact store is full")
        return real(record, **kwargs)

    monkeypatch.setattr(_audit, "write", flaky)
    with pytest.raises(
        PromotionError, match="failed at step 'audit record': OSError: artifact store is full"
    ):
        promotion.approve("2", experiment="promo", reason="r", user=LEAD)
    assert _aliases(client) == ("1", "1", None)
    tags = client.get_model_version("promo", "2").tags
    assert tags["approval.status"] == "pending" and "approval.by" not in tags
    assert [r.outcome for r in promotion.audit_log("promo")][-1] == "failed"


def test_an_undo_that_fails_is_reported(
    challenger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = registry.set_champion
    calls = []

    def champion_then_break(name, number, uri=None):
        calls.append(number)
        if len(calls) > 1:
            raise ConnectionError("store down")
        return real(name, number, uri)

    def broken(*args, **kwargs):
        raise ConnectionError("prompt registry went away")

    monkeypatch.setattr(registry, "set_champion", champion_then_break)
    monkeypatch.setattr(registry, "set_prompt_alias", broken)
    with pytest.raises(
        PromotionError, match="UNDO INCOMPLETE: could not undo alias promo@champion"
    ):
        promotion.approve("2", experiment="promo", reason="r", user=LEAD)
    (failed,) = [r for r in promotion.audit_log("promo") if r.outcome == "failed"]
    assert "UNDO INCOMPLETE" in failed.detail and failed.champion_after == "2"


def test_audit_records_cannot_be_changed_through_the_api(grid, tmp_path: Path) -> None:
    run = grid(["base"])
    promotion.propose(run, user=SCIENTIST)
    (record,) = promotion.audit_log("promo")

    # the API offers append and read, nothing else
    assert {n for n in dir(registry) if "audit" in n.lower() and not n.startswith("_")} == {
        "AUDIT_DIR",
        "AUDIT_ROLE",
        "AuditRecordExists",
        "append_audit",
        "read_audit",
    }
    assert {n for n in promotion.__all__ if "audit" in n.lower()} == {
        "AUDIT_COLUMNS",
        "AuditRecord",
        "audit_frame",
        "audit_log",
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.reason = "forged"  # type: ignore[misc]

    # writing an event id that exists is refused, even with other content
    for attempt in (record, dataclasses.replace(record, reason="forged", who="mallory")):
        with pytest.raises(registry.AuditRecordExists, match="write-once"):
            _audit.write(attempt)
    assert promotion.audit_log("promo") == [record]

    # an edit behind the workbench's back (in the artifact store) is detected
    files = list((tmp_path / "mlruns" / "artifacts").rglob("audit/*.json"))
    assert len(files) == 1 and files[0].name.endswith(f"-{record.event_id}.json")
    data = json.loads(files[0].read_text())
    files[0].write_text(json.dumps({**data, "who": "mallory"}))
    (altered,) = promotion.audit_log("promo")
    assert altered.who == "mallory" and not altered.intact


def test_the_audit_run_stays_out_of_the_experiment_runs(grid, tmp_path: Path) -> None:
    run = grid(["base"])
    promotion.propose(run, user=SCIENTIST)
    client = _client(tmp_path)
    exp = client.get_experiment_by_name("promo")
    (audit_run,) = client.search_runs([exp.experiment_id], "tags.`workbench.role` = 'audit'")
    assert audit_run.info.status == "FINISHED"
    assert [a.path for a in client.list_artifacts(audit_run.info.run_id)] == ["audit"]
    assert load_experiment("promo").run_id == run.run_id


def test_a_decision_running_in_another_process_is_not_mistaken_for_a_crash(
    challenger, tmp_path: Path
) -> None:
    """Recovery only undoes intents whose process is gone (or that are very old)."""
    import socket
    import subprocess
    import sys
    import time

    from workbench.promotion._intent import INTENT_TAG

    client = _client(tmp_path)
    before = _aliases(client)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        intent = {
            "event_id": "live-decision-0001", "action": "approve", "who": "lee", "role": "lead",
            "version": "2", "champion_before": "1", "prompts_before": [], "tags_before": {},
            "host": socket.gethostname(), "pid": alive.pid, "started": time.time(),
        }  # fmt: skip
        client.set_registered_model_tag("promo", INTENT_TAG, json.dumps(intent))
        client.set_registered_model_alias("promo", "champion", "2")  # its first move, in flight
        assert promotion.recover("promo") is None
        assert _aliases(client)[0] == "2"  # left alone: that process is still deciding
    finally:
        alive.kill()
        alive.wait()
    detail = promotion.recover("promo")  # now its process is gone: undone and audited
    assert detail is not None and "interrupted" in detail
    assert _aliases(client) == before
    assert promotion.audit_log("promo")[-1].outcome == "failed"
