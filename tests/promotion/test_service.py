"""The promotion logic with scripted variants and a real MLflow store (read back with
MlflowClient): candidates, refusals with evidence, decisions, rollback, roles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from scipy import stats

from tests.promotion.conftest import LEAD, RATER, SCIENTIST
from workbench import promotion
from workbench.errors import ConfigError, PermissionDenied, PromotionError
from workbench.tracking import TABLE
from workbench.tracking.read import read_table
from workbench.users import User

BASE = "qa_terse@1 · base · none"
BETTER = "qa_terse@1 · better · none"


def _client(tmp_path: Path) -> MlflowClient:
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _champion(client: MlflowClient, name: str = "promo") -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, "champion").version)
    except Exception:
        return None


def _prompt_alias(client: MlflowClient, name: str) -> str | None:
    try:
        return str(client.get_prompt_version_by_alias(name, "production").version)
    except Exception:
        return None


def _records(**match):
    return [
        r for r in promotion.audit_log("promo") if all(getattr(r, k) == v for k, v in match.items())
    ]


def test_first_candidate_needs_only_the_gates(grid, tmp_path: Path) -> None:
    run = grid(["base", "better"])
    candidate = promotion.propose(run, variant=BASE, user=SCIENTIST)
    assert candidate.version == "1" and candidate.status == "pending"
    client = _client(tmp_path)
    mv = client.get_model_version("promo", "1")
    assert mv.tags["approval.status"] == "pending"
    assert mv.tags["workbench.proposed_by"] == "sam"
    assert (
        mv.tags["workbench.variant_id"] == run.variants.set_index("variant").loc[BASE, "variant_id"]
    )
    assert mv.tags["workbench.champion_at_proposal"] == "none"
    assert json.loads(mv.tags["workbench.evidence"])["gate"]["verdict"] == "pass"
    model_id = mv.source.removeprefix("models:/")
    logged = client.get_logged_model(model_id)
    assert logged.model_type == "workbench-bundle"
    assert logged.params["prompt.registry_uri"] == "prompts:/promo.qa_terse/1"
    assert logged.params["gen.temperature"] == "0.0"
    artifacts = {a.path for a in client.list_logged_model_artifacts(model_id)}
    assert {"bundle.json", "evidence"} <= artifacts
    gate = candidate.gate_decision()
    assert gate["verdict"] == "pass" and gate["policy"] == "promo-gates"
    bundle = candidate.bundle()
    assert bundle.variant_run_id == run.variant_run_ids[bundle.variant_id]
    assert bundle.source_run_id == run.run_id and bundle.dataset.digest
    assert _champion(client) is None  # proposing moves nothing
    (record,) = _records(action="propose")
    assert (record.outcome, record.who, record.role, record.version) == (
        "ok",
        "sam",
        "scientist",
        "1",
    )
    assert run.run_id in record.evidence_run_ids and record.intact

    # A bundle naming a provider this process has not loaded: one clear error, no traceback.
    data = json.loads(json.dumps(bundle.to_json()))
    data["model"]["provider"] = "not-loaded-here"
    with pytest.raises(PromotionError, match="cannot be read in this process") as info:
        type(bundle).from_json(data)
    assert "WORKBENCH_PLUGINS" in (info.value.hint or "")


def test_a_variant_failing_a_gate_is_refused_with_the_rule(grid, tmp_path: Path) -> None:
    run = grid(["base", "awful"])
    with pytest.raises(
        promotion.NotACandidate, match=r"gate rule mean:quality: .* is not >= 0\.1"
    ) as info:
        promotion.propose(run, variant="qa_terse@1 · awful · none", user=SCIENTIST)
    assert not info.value.candidacy.gate.passed
    client = _client(tmp_path)
    assert client.search_registered_models() == []  # nothing registered
    (record,) = _records(action="propose")
    assert record.outcome == "refused" and "mean:quality" in record.detail


def test_a_candidate_must_beat_the_champion_significantly(grid, tmp_path: Path) -> None:
    run = grid(["base", "better", "rude", "same"])
    first = promotion.propose(run, variant=BASE, user=SCIENTIST)
    promotion.approve(first.version, experiment="promo", reason="first release", user=LEAD)

    with pytest.raises(promotion.NotACandidate, match="primary metric quality does not improve"):
        promotion.propose(run, variant="qa_terse@1 · same · none", user=SCIENTIST)
    with pytest.raises(
        promotion.NotACandidate, match="guard metric tone: not shown to be no worse"
    ):
        promotion.propose(run, variant="qa_terse@1 · rude · none", user=LEAD)
    with pytest.raises(promotion.NotACandidate, match="already the champion"):
        promotion.propose(run, variant=BASE, user=SCIENTIST)

    better = promotion.propose(run, variant=BETTER, user=SCIENTIST)
    assert better.version == "2" and better.champion_at_proposal == "1"
    primary = better.evidence["primary"]
    assert primary["verdict"] == "better" and primary["diff"] == pytest.approx(0.3)
    # independent check: Wilcoxon on the paired differences, Holm by hand over the three
    # tests (pass_rate and tone have p = 1: no discordant pairs / all differences zero).
    # The differences are read from the stored per-sample tables, as the candidacy reads
    # them: 24 near-equal differences tie or not by their last bits, which moves the p.
    stored = {
        c.variant: read_table(None, c.bundle().variant_run_id, TABLE).set_index("sample_id")[
            "quality"
        ]
        for c in (first, better)
    }
    diffs = (stored[BETTER] - stored[BASE]).to_numpy()
    assert len(diffs) == 24 and np.allclose(diffs, 0.3)
    p = stats.wilcoxon(diffs, zero_method="wilcox").pvalue
    assert primary["p_holm"] == pytest.approx(min(1.0, 3 * p), rel=1e-5)
    comparison = better.comparison()
    assert comparison.set_index("metric").loc["quality", "p_holm"] == pytest.approx(3 * p, rel=1e-5)
    assert set(comparison["metric"]) == {"pass_rate", "quality", "tone"}
    assert (comparison["a"] == first.variant_id).all() and (
        comparison["b"] == better.variant_id
    ).all()

    refused = _records(action="propose", outcome="refused")
    assert len(refused) == 3
    assert {r.role for r in refused} == {"scientist", "lead"}
    assert all(r.previous_champion == "1" for r in refused)


def test_the_same_variant_cannot_be_pending_twice(grid) -> None:
    run = grid(["base"])
    promotion.propose(run, user=SCIENTIST)
    with pytest.raises(PromotionError, match="already pending as version 1"):
        promotion.propose(run, user=SCIENTIST)
    assert [r.outcome for r in _records(action="propose")] == ["ok", "refused"]


def test_a_variant_run_id_names_the_variant(grid) -> None:
    run = grid(["better", "base"])
    base_id = run.variants.set_index("variant").loc[BASE, "variant_id"]
    candidate = promotion.propose(run.variant_run_ids[base_id], user=SCIENTIST)
    assert candidate.variant == BASE  # not the run's best (better)


def test_a_rater_may_not_propose(grid) -> None:
    run = grid(["base"])
    with pytest.raises(PermissionDenied, match=r"rita \(role rater\) may not propose"):
        promotion.propose(run, user=RATER)
    (record,) = _records()
    assert (record.action, record.outcome, record.who, record.role) == (
        "propose",
        "refused",
        "rita",
        "rater",
    )
    assert promotion.queue("promo") == []


def test_only_leads_decide_and_roles_come_from_the_roles_file(grid, tmp_path: Path) -> None:
    run = grid(["base", "better"])
    first = promotion.propose(run, variant=BASE, user=SCIENTIST)
    promotion.approve(first.version, experiment="promo", reason="first", user=LEAD)
    second = promotion.propose(run, variant=BETTER, user=SCIENTIST)
    client = _client(tmp_path)
    forged = User("sam", "lead")  # the roles file says sam is a scientist
    stranger = User("mallory", "lead")  # not in the roles file: no privileges
    attempts = [
        (lambda u: promotion.approve(2, experiment="promo", reason="x", user=u), "approve"),
        (lambda u: promotion.reject(2, experiment="promo", reason="x", user=u), "reject"),
        (lambda u: promotion.rollback("promo", reason="x", user=u), "roll back"),
    ]
    for user in (SCIENTIST, RATER, forged, stranger):
        for attempt, verb in attempts:
            with pytest.raises(PermissionDenied, match=f"may not {verb} in 'promo'"):
                attempt(user)
    assert _champion(client) == "1"
    assert client.get_model_version("promo", second.version).tags["approval.status"] == "pending"
    refused = _records(outcome="refused")
    assert len(refused) == 12
    assert {(r.who, r.role) for r in refused} == {
        ("sam", "scientist"),
        ("rita", "rater"),
        ("mallory", "rater"),
    }
    assert {r.action for r in refused} == {"approve", "reject", "rollback"}


def test_a_reason_is_required(grid) -> None:
    run = grid(["base"])
    candidate = promotion.propose(run, user=SCIENTIST)
    with pytest.raises(ConfigError, match="a reason is required to approve"):
        promotion.approve(candidate.version, experiment="promo", reason="  ", user=LEAD)
    assert promotion.champion("promo") is None
    assert _records(action="approve")[0].outcome == "refused"


def test_approve_moves_both_aliases_and_rollback_restores_them(grid, tmp_path: Path) -> None:
    """Champion on qa_terse, challenger on qa_grounded: production follows the champion's
    prompt (and leaves the old prompt), and a rollback restores both."""
    run = grid(["base", "better"], prompts=["qa_terse@1", "qa_grounded@1"])
    client = _client(tmp_path)
    first = promotion.propose(run, variant=BASE, user=SCIENTIST)
    decision = promotion.approve(first.version, experiment="promo", reason="first", user=LEAD)
    assert decision.champion == "1" and decision.previous_champion is None
    assert _champion(client) == "1"
    assert _prompt_alias(client, "promo.qa_terse") == "1"

    second = promotion.propose(run, variant="qa_grounded@1 · better · none", user=SCIENTIST)
    promotion.approve(second.version, experiment="promo", reason="grounded wins", user=LEAD)
    assert _champion(client) == "2"
    assert _prompt_alias(client, "promo.qa_grounded") == "1"
    assert _prompt_alias(client, "promo.qa_terse") is None
    mv = client.get_model_version("promo", "2")
    assert mv.tags["approval.status"] == "approved" and mv.tags["approval.by"] == "lee"
    assert mv.tags["approval.reason"] == "grounded wins" and mv.tags["champion.previous"] == "1"

    back = promotion.rollback("promo", reason="complaints", user=LEAD)
    assert (back.previous_champion, back.champion) == ("2", "1")
    assert _champion(client) == "1"
    assert _prompt_alias(client, "promo.qa_terse") == "1"
    assert _prompt_alias(client, "promo.qa_grounded") is None
    assert client.get_model_version("promo", "2").tags["approval.status"] == "rolled_back"
    with pytest.raises(PromotionError, match="version 1 was the first champion"):
        promotion.rollback("promo", reason="again", user=LEAD)

    ok = [(r.action, r.previous_champion, r.champion_after) for r in _records(outcome="ok")]
    assert ok == [
        ("propose", None, None),
        ("approve", None, "1"),
        ("propose", "1", "1"),
        ("approve", "1", "2"),
        ("rollback", "2", "1"),
    ]
    rollback = _records(action="rollback", outcome="ok")[0]
    assert rollback.prompt == (
        "promo.qa_terse@production: - -> 1; promo.qa_grounded@production: 1 -> -"
    )
    champ = promotion.champion("promo")
    assert champ.version == "1" and champ.since == rollback.when


def test_a_new_prompt_version_moves_the_production_alias(
    grid, acme_dir: Path, tmp_path: Path
) -> None:
    run = grid(["base"])
    promotion.approve(
        promotion.propose(run, user=SCIENTIST).version, experiment="promo", reason="v1", user=LEAD
    )
    text = (
        (acme_dir / "prompts" / "qa_terse.v1.yaml").read_text().replace("version: 1", "version: 2")
    )
    (acme_dir / "prompts" / "qa_terse.v2.yaml").write_text(
        text.replace("one short sentence", "a few words")
    )
    run2 = grid(["better"], prompts=["qa_terse@2"])
    candidate = promotion.propose(run2, user=SCIENTIST)
    assert candidate.prompt == "prompts:/promo.qa_terse/2"
    client = _client(tmp_path)
    promotion.approve(candidate.version, experiment="promo", reason="v2", user=LEAD)
    assert (_champion(client), _prompt_alias(client, "promo.qa_terse")) == ("2", "2")
    promotion.rollback("promo", reason="back", user=LEAD)
    assert (_champion(client), _prompt_alias(client, "promo.qa_terse")) == ("1", "1")


def test_reject(grid, tmp_path: Path) -> None:
    run = grid(["base", "better"])
    first = promotion.propose(run, variant=BASE, user=SCIENTIST)
    promotion.approve(first.version, experiment="promo", reason="first", user=LEAD)
    second = promotion.propose(run, variant=BETTER, user=SCIENTIST)
    decision = promotion.reject(second.version, experiment="promo", reason="not now", user=LEAD)
    assert decision.champion == "1" == decision.previous_champion
    client = _client(tmp_path)
    tags = client.get_model_version("promo", second.version).tags
    assert (tags["approval.status"], tags["approval.reason"]) == ("rejected", "not now")
    assert promotion.queue("promo") == []
    with pytest.raises(PromotionError, match="version 2 of 'promo' is rejected"):
        promotion.approve(second.version, experiment="promo", reason="changed my mind", user=LEAD)
    assert _champion(client) == "1"
    assert [r.outcome for r in _records(action="approve")] == ["ok", "refused"]


def test_queue_lists_pending_candidates_with_evidence(grid) -> None:
    run = grid(["base", "better"])
    promotion.approve(
        promotion.propose(run, variant=BASE, user=SCIENTIST).version,
        experiment="promo",
        reason="r",
        user=LEAD,
    )
    promotion.propose(run, variant=BETTER, user=SCIENTIST)
    (pending,) = promotion.queue("promo")
    assert (pending.version, pending.variant, pending.proposed_by) == ("2", BETTER, "sam")
    assert pending.evidence["primary"]["verdict"] == "better" and pending.evidence["n_shared"] == 24
    every = promotion.queue("promo", status=None)
    assert [(c.version, c.status, c.is_champion) for c in every] == [
        ("2", "pending", False),
        ("1", "approved", True),
    ]
    assert promotion.queue("nothing-here") == []
    assert promotion.experiments_with_candidates() == ["promo"]


def test_comparison_uses_only_samples_both_runs_answered(grid, acme_dir: Path) -> None:
    run = grid(["base"])
    promotion.approve(
        promotion.propose(run, user=SCIENTIST).version, experiment="promo", reason="r", user=LEAD
    )
    golden = acme_dir / "datasets" / "acme_golden.jsonl"
    rows = [json.loads(line) for line in golden.read_text().splitlines()]
    champion_ids = set(run.samples["sample_id"])
    changed = sorted(champion_ids)[0]
    for row in rows:
        if row["id"] == changed:  # same id, another question: not comparable
            row["question"] = row["question"] + " (reworded)"
    golden.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    run2 = grid(["better"], sample=30)
    candidacy = promotion.check(run2)
    shared = (champion_ids & set(run2.samples["sample_id"])) - {changed}
    assert candidacy.n_shared == len(shared) and 2 <= len(shared) < 24
    assert any(
        "dataset digest" in note and f"{len(shared)} samples" in note for note in candidacy.notes
    )
    assert int(candidacy.row("quality")["n_pairs"]) == len(shared)

    golden.write_text("\n".join(json.dumps({**r, "id": "new-" + r["id"]}) for r in rows) + "\n")
    run3 = grid(["better"], name="other.yaml")
    with pytest.raises(promotion.NotACandidate, match="no sample in common with the champion"):
        promotion.propose(run3, user=SCIENTIST)


def test_rollback_without_a_champion_is_refused(grid) -> None:
    run = grid(["base"])
    promotion.propose(run, user=SCIENTIST)
    with pytest.raises(PromotionError, match="no champion to roll back"):
        promotion.rollback("promo", reason="x", user=LEAD)
    assert _records(action="rollback")[0].outcome == "refused"


def test_load_champion_answers_as_the_logged_variant(grid) -> None:
    run = grid(["base", "better"], retrievers=["bm25"])
    candidate = promotion.propose(run, variant="qa_terse@1 · better · bm25", user=SCIENTIST)
    promotion.approve(candidate.version, experiment="promo", reason="r", user=LEAD)
    import workbench as wb

    pipeline = wb.load_champion("promo")
    assert pipeline.variant.variant_id == candidate.variant_id
    assert pipeline.bundle.corpus is not None and pipeline.bundle.retriever.type == "bm25"
    rows = run.samples[run.samples["variant_id"] == candidate.variant_id]
    for row in rows.itertuples():
        assert pipeline.answer(row.question) == row.answer
        assert [p.chunk_id for p in pipeline.retrieve(row.question)] == list(row.retrieved_ids)
    assert pipeline.answer_many(list(rows["question"])) == list(rows["answer"])
