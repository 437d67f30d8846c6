"""The audit log's hash chain: a record deleted, reordered or edited through MLflow's own
client (behind the workbench's back) is found by ``workbench audit --verify``, which says
which record; older records without a chain stay readable and the chain starts after them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from tests.promotion.conftest import LEAD, SCIENTIST
from workbench import promotion
from workbench.cli import main
from workbench.promotion import _audit
from workbench.tracking import ensure_store, experiment_id, registry

EXP = "chained"


def _mlflow() -> MlflowClient:
    """MLflow's own client on this test's store (not the process-wide URI of an earlier test)."""
    uri = os.environ["MLFLOW_TRACKING_URI"]
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _client() -> MlflowClient:
    return _mlflow()


def _write(n: int) -> list[_audit.AuditRecord]:
    """``n`` records (the same path a decision takes), oldest first."""
    experiment_id(EXP)
    for i in range(n):
        user = LEAD if i % 2 else SCIENTIST
        _audit.record_attempt(ensure_store(), user, EXP, "approve", "ok", f"step {i}")
    return promotion.audit_log(EXP)


class _Tamper:
    """Edits the stored log the way someone with MLflow access could."""

    def __init__(self) -> None:
        self.client = _client()
        exp = self.client.get_experiment_by_name(EXP)
        (self.run,) = self.client.search_runs(
            [exp.experiment_id], "tags.`workbench.role` = 'audit'"
        )
        self.repo = get_artifact_repository(self.run.info.artifact_uri)

    def name(self, record: _audit.AuditRecord) -> str:
        (name,) = [
            Path(a.path).name
            for a in self.client.list_artifacts(self.run.info.run_id, "audit")
            if a.path.endswith(f"-{record.event_id}.json")
        ]
        return name

    def read(self, record: _audit.AuditRecord, tmp: Path) -> dict:
        local = self.client.download_artifacts(
            self.run.info.run_id, f"audit/{self.name(record)}", str(tmp)
        )
        return json.loads(Path(local).read_text())

    def put(self, record: _audit.AuditRecord, data: dict, tmp: Path) -> None:
        path = tmp / "out" / self.name(record)
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(data))
        self.client.log_artifact(self.run.info.run_id, str(path), "audit")  # overwrites

    def delete(self, record: _audit.AuditRecord) -> None:
        self.repo.delete_artifacts(f"audit/{self.name(record)}")


def _kinds(report) -> list[tuple[str, int | None]]:
    return [(p.kind, p.seq) for p in report.problems]


def test_an_untouched_log_is_an_intact_chain() -> None:
    records = _write(4)
    assert [r.seq for r in records] == [1, 2, 3, 4]
    assert records[0].previous_digest == ""
    assert [r.previous_digest for r in records[1:]] == [r.digest for r in records[:-1]]
    assert all(r.intact for r in records)
    report = promotion.verify_chain(EXP)
    assert report.intact and (report.n_records, report.n_chained, report.n_unchained) == (4, 4, 0)
    assert registry.chain_head(EXP) == {
        "seq": 4,
        "digest": records[-1].digest,
        "event_id": records[-1].event_id,
    }


def test_a_record_deleted_in_the_middle_is_named(tmp_path: Path) -> None:
    records = _write(5)
    _Tamper().delete(records[2])
    report = promotion.verify_chain(EXP)
    assert _kinds(report) == [("missing", 4)]
    assert "1 record(s) between seq 2 and seq 4 were deleted" in report.problems[0].message


def test_records_deleted_from_the_end_are_found_by_the_head(tmp_path: Path) -> None:
    records = _write(4)
    tamper = _Tamper()
    tamper.delete(records[3])
    tamper.delete(records[2])
    (problem,) = promotion.verify_chain(EXP).problems
    assert problem.kind == "missing" and "seq 3 to 4" in problem.message
    assert records[3].event_id in problem.message
    # an append afterwards links to the head, so the gap stays visible
    _audit.record_attempt(ensure_store(), LEAD, EXP, "approve", "ok", "later")
    report = promotion.verify_chain(EXP)
    assert _kinds(report) == [("missing", 5)]
    assert "2 record(s) between seq 2 and seq 5" in report.problems[0].message


def test_an_edit_is_named_whether_or_not_the_digest_was_recomputed(tmp_path: Path) -> None:
    records = _write(4)
    tamper = _Tamper()
    data = tamper.read(records[1], tmp_path)
    tamper.put(records[1], {**data, "reason": "forged"}, tmp_path)
    report = promotion.verify_chain(EXP)
    assert _kinds(report) == [("edited", 2)]
    assert "no longer matches its digest" in report.problems[0].message

    data = {**tamper.read(records[1], tmp_path), "who": "mallory"}
    data["digest"] = _audit.content_digest(data)  # a careful forger
    tamper.put(records[1], data, tmp_path)
    (altered,) = [r for r in promotion.audit_log(EXP) if r.seq == 2]
    assert altered.intact and altered.who == "mallory"  # its own digest fits...
    report = promotion.verify_chain(EXP)
    assert _kinds(report) == [("edited", 2)]  # ...but seq 3 links to the original
    assert "was rewritten: seq 3 links to a different digest" in report.problems[0].message


def test_a_reorder_is_named(tmp_path: Path) -> None:
    records = _write(4)
    tamper = _Tamper()
    second, third = tamper.read(records[1], tmp_path), tamper.read(records[2], tmp_path)
    second["when"], third["when"] = third["when"], second["when"]
    for data in (second, third):
        data["digest"] = _audit.content_digest(data)
    tamper.put(records[1], second, tmp_path)
    tamper.put(records[2], third, tmp_path)
    assert [r.seq for r in promotion.audit_log(EXP)] == [1, 3, 2, 4]
    report = promotion.verify_chain(EXP)
    assert ("reordered", 2) in _kinds(report)
    assert any("is stored after seq 3" in p.message for p in report.problems)


def test_the_cli_verify_exits_1_and_says_which(tmp_path: Path, capsys) -> None:
    records = _write(3)
    main(["audit", EXP, "--verify"])
    assert "intact: 3 record(s), 3 chained" in capsys.readouterr().out
    _Tamper().delete(records[1])
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", EXP, "--verify"])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "between seq 1 and seq 3" in out


def test_a_deleted_head_tag_is_reported() -> None:
    _write(2)
    exp = _client().get_experiment_by_name(EXP)
    _client().delete_experiment_tag(exp.experiment_id, registry.HEAD_TAG)
    assert _kinds(promotion.verify_chain(EXP)) == [("head", None)]


def test_records_from_before_the_chain_stay_readable_and_start_it() -> None:
    experiment_id(EXP)
    legacy = []
    for i in range(2):  # what the workbench wrote before the chain: no seq, no link
        record = _audit.new_record(
            experiment=EXP,
            action="propose",
            outcome="ok",
            who="sam",
            role="scientist",
            detail=f"old {i}",
        )
        old_style = {
            k: v for k, v in record.to_dict().items() if k not in ("seq", "previous_digest")
        }
        registry.append_audit(EXP, old_style)
        legacy.append(record)
    old = promotion.audit_log(EXP)
    assert [r.seq for r in old] == [None, None] and all(r.intact for r in old)
    _audit.record_attempt(ensure_store(), LEAD, EXP, "approve", "ok", "new")
    records = promotion.audit_log(EXP)
    assert records[2].seq == 1 and records[2].previous_digest == records[1].digest
    report = promotion.verify_chain(EXP)
    assert report.intact and (report.n_unchained, report.n_chained) == (2, 1)
    assert "the chain starts at record 3" in report.summary()


def test_the_audit_page_shows_the_chain_state() -> None:
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT
    from tests.promotion.conftest import RATER

    records = _write(3)
    _Tamper().delete(records[1])
    app = AppTest.from_file(str(ROOT / "apps" / "pages" / "audit.py"), default_timeout=120)
    app.session_state["user"] = RATER
    app.run()
    assert not app.exception
    assert any("Audit chain broken" in e.value for e in app.error)
    assert any("BROKEN: 1 problem(s) in 2 record(s)" in t.value for t in app.text)
    problems = app.dataframe[0].value  # above the log itself
    assert list(problems["kind"]) == ["missing"] and list(problems["seq"]) == [3]
    assert len(app.dataframe[1].value) == 2
