"""Alias integrity: the ``champion`` alias and a prompt's ``production`` alias moved with
MLflow's own client, behind the workbench's back, are reported by every surface (the
service, ``workbench champion``, ``workbench audit --verify``, the Queue and Audit pages);
approve, rollback and propose refuse until a lead reconciles, and both ways of reconciling
leave the aliases and the audit consistent (and pass ``audit --verify``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT
from tests.promotion.conftest import LEAD, RATER, SCIENTIST
from tests.promotion.test_atomic_audit import _aliases
from tests.promotion.test_surfaces import AUDIT_PAGE, QUEUE_PAGE, _page
from workbench import promotion
from workbench.cli import main
from workbench.errors import PermissionDenied, PromotionError

TERSE = "qa_terse@1 · base · none"
GROUNDED = "qa_grounded@1 · better · none"


def _mlflow() -> MlflowClient:
    """MLflow's own client on this test's store (not the process-wide URI of an earlier test)."""
    uri = os.environ["MLFLOW_TRACKING_URI"]
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture
def moved(grid):
    """Champion v1 (qa_terse), v2 (qa_grounded) pending; then, behind the workbench's back,
    champion -> v2 and qa_terse@production -> a new prompt version 2."""
    run = grid(["base", "better"], prompts=["qa_terse@1", "qa_grounded@1"])
    first = promotion.propose(run, variant=TERSE, user=SCIENTIST)
    promotion.approve(first.version, experiment="promo", reason="first", user=LEAD)
    promotion.propose(run, variant=GROUNDED, user=SCIENTIST)
    client = _mlflow()
    assert _aliases(client) == ("1", "1", None)
    assert promotion.integrity("promo").consistent
    client.set_registered_model_alias("promo", "champion", "2")
    forged = client.register_prompt("promo.qa_terse", "Answer anything: {{question}}")
    client.set_prompt_alias("promo.qa_terse", "production", forged.version)
    assert _aliases(client) == ("2", "2", None)
    return run


def _alarm_texts(state) -> list[str]:
    return [a.text() for a in state.alarms]


def test_the_service_names_each_alias_and_audits_the_alarm_once(moved) -> None:
    state = promotion.integrity("promo")
    assert not state.consistent
    assert _alarm_texts(state) == [
        "promo@champion points at version 2, the audit expects version 1",
        "promo.qa_terse@production points at version 2, the audit expects version 1",
    ]
    promotion.integrity("promo")  # a second look does not repeat the record
    alarms = [r for r in promotion.audit_log("promo") if r.action == "integrity"]
    assert len(alarms) == 1 and alarms[0].outcome == "alarm"
    assert "promo@champion points at version 2" in alarms[0].detail


def test_approve_rollback_and_propose_refuse_while_inconsistent(moved) -> None:
    client = _mlflow()
    for attempt in (
        lambda: promotion.approve("2", experiment="promo", reason="ship", user=LEAD),
        lambda: promotion.rollback("promo", reason="back", user=LEAD),
        lambda: promotion.propose(moved, variant=GROUNDED, user=SCIENTIST),
    ):
        with pytest.raises(promotion.IntegrityAlarm) as info:
            attempt()
        assert "promo@champion points at version 2, the audit expects version 1" in str(info.value)
        assert "workbench reconcile promo" in str(info.value)
    assert _aliases(client) == ("2", "2", None)  # nothing built on the moved state
    refused = [r for r in promotion.audit_log("promo") if r.outcome == "refused"]
    assert [r.action for r in refused] == ["approve", "rollback", "propose"]
    assert all("integrity alarm" in r.detail for r in refused)


def test_the_cli_reports_it(moved, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["champion", "promo"])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "INTEGRITY ALARM" in out
    assert "promo@champion points at version 2, the audit expects version 1" in out
    assert "promo.qa_terse@production points at version 2" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "promo", "--verify"])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "intact" in out and "INTEGRITY ALARM" in out  # the chain is fine, the aliases are not
    monkeypatch.setenv("WORKBENCH_USER", "lee")
    with pytest.raises(SystemExit) as exit_info:
        main(["approve", "2", "--experiment", "promo", "--reason", "ship"])
    assert exit_info.value.code == 2
    assert "error: integrity alarm on 'promo'" in capsys.readouterr().err


def test_the_queue_and_audit_pages_report_it_and_a_lead_reconciles_there(moved) -> None:
    audit = _page(AUDIT_PAGE, RATER)
    assert not audit.exception
    assert any("Integrity alarm" in e.value for e in audit.error)
    assert any(
        "promo@champion points at version 2, the audit expects version 1" in t.value
        for t in audit.text
    )
    assert any("Audit chain intact" in s.value for s in audit.success)

    queue = _page(QUEUE_PAGE, LEAD)
    assert not queue.exception
    assert any(
        "promo@champion points at version 2" in e.value.replace("\\", "") for e in queue.error
    )
    queue.text_input(key="reason_2").set_value("ship")
    queue.button(key="approve_2").click().run()
    assert any("IntegrityAlarm" in e.value for e in queue.error)
    queue.text_input(key="reconcile_reason").set_value("the MLflow UI move was a hotfix")
    queue.button(key="reconcile_adopt").click().run()
    assert not queue.exception, queue.exception
    assert not queue.error, [e.value for e in queue.error]
    assert any("reconciled (adopt)" in s.value.replace("\\", "") for s in queue.success)
    assert promotion.integrity("promo").consistent


def test_adopt_keeps_the_aliases_and_records_who_and_why(moved, capsys) -> None:
    client = _mlflow()
    with pytest.raises(PermissionDenied):
        promotion.reconcile("promo", how="adopt", reason="mine now", user=SCIENTIST)
    decision = promotion.reconcile("promo", how="adopt", reason="hotfix made in the UI", user=LEAD)
    assert (decision.previous_champion, decision.champion) == ("2", "2")
    assert _aliases(client) == ("2", "2", None)
    state = promotion.integrity("promo")
    assert state.consistent and state.expected_prompts["promo.qa_terse"] == "2"
    last = promotion.audit_log("promo")[-1]
    assert (last.action, last.outcome, last.who, last.reason) == (
        "reconcile", "ok", "lee", "hotfix made in the UI"
    )  # fmt: skip
    assert "adopted" in last.detail
    # the moved alias, and where the adopted champion's own prompt alias is (not set)
    assert last.prompt == "promo.qa_terse@production: 1 -> 2; promo.qa_grounded@production: 1 -> -"
    assert promotion.champion("promo").version == "2"
    assert client.get_model_version("promo", "2").tags["approval.status"] == "approved"
    assert promotion.verify_chain("promo").intact
    main(["audit", "promo", "--verify"])  # exit 0
    assert "consistent with the audit log" in capsys.readouterr().out
    with pytest.raises(PromotionError, match="nothing to reconcile"):
        promotion.reconcile("promo", how="revert", reason="again", user=LEAD)
    # the workbench builds on the adopted state again: rollback returns to v1
    promotion.rollback("promo", reason="back to the audited one", user=LEAD)
    assert _aliases(client)[0] == "1" and promotion.integrity("promo").consistent


def test_revert_moves_both_aliases_back(moved) -> None:
    client = _mlflow()
    decision = promotion.reconcile("promo", how="revert", reason="nobody approved that", user=LEAD)
    assert (decision.previous_champion, decision.champion) == ("2", "1")
    assert _aliases(client) == ("1", "1", None)
    assert promotion.integrity("promo").consistent and promotion.verify_chain("promo").intact
    assert client.get_model_version("promo", "2").tags["approval.status"] == "pending"
    last = promotion.audit_log("promo")[-1]
    assert last.prompt == "promo.qa_terse@production: 2 -> 1" and "reverted" in last.detail
    promotion.approve("2", experiment="promo", reason="now through the queue", user=LEAD)
    assert _aliases(client) == ("2", None, "1")


def _cli(*args: str, user: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=ROOT,
        env={**os.environ, "WORKBENCH_USER": user},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_reconcile_on_the_cli(moved) -> None:
    both = _cli("reconcile", "promo", "--adopt", "--revert", "--reason", "x", user="lee")
    assert both.returncode == 2 and both.stderr.startswith("error: reconcile needs exactly one")
    rater = _cli("reconcile", "promo", "--revert", "--reason", "x", user="rita")
    assert rater.returncode == 2 and "may not reconcile" in rater.stderr
    assert "Traceback" not in rater.stderr + both.stderr
    done = _cli("reconcile", "promo", "--revert", "--reason", "not approved", user="lee")
    assert done.returncode == 0, done.stderr
    assert "champion 2 -> 1" in done.stdout
    verified = _cli("audit", "promo", "--verify", user="rita")
    assert verified.returncode == 0, verified.stdout
    assert _aliases(_mlflow()) == ("1", "1", None)
