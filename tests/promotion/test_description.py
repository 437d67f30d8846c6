"""The evidence a lead needs, in the MLflow UI: a candidate version's description carries
the gate table with bounds, the paired comparison with the champion, the policy (name,
version, digest), links to the runs and the app's Compare page, who proposed it and why;
each decision appends the decision, the person and the reason. Read back with MLflow's
own client, as the MLflow UI shows it."""

from __future__ import annotations

import os

import pytest
from mlflow import MlflowClient

from tests.promotion.conftest import LEAD, SCIENTIST
from workbench import promotion
from workbench.promotion._describe import LIMIT, with_decision

BASE = "qa_terse@1 · base · none"
BETTER = "qa_terse@1 · better · none"


def _mlflow() -> MlflowClient:
    """MLflow's own client on this test's store (not the process-wide URI of an earlier test)."""
    uri = os.environ["MLFLOW_TRACKING_URI"]
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _num(value) -> str:
    return "–" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def _description(version: str) -> str:
    return _mlflow().get_model_version("promo", version).description


def test_a_candidate_carries_its_evidence_and_its_decisions(
    grid, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_MLFLOW_UI", "https://mlflow.example.org/")
    monkeypatch.setenv("WORKBENCH_APP_URL", "https://app.example.org")
    run = grid(["base", "better"])
    first = promotion.propose(run, variant=BASE, user=SCIENTIST, reason="a first baseline")
    text = _description(first.version)
    assert "Proposed by **sam** (scientist)" in text and "Why: a first baseline" in text
    assert "No champion yet" in text
    gate = first.gate_decision()
    assert f"Policy `promo-gates` version `3`, digest `{gate['policy_digest']}`" in text
    assert "| rule | estimate | decided on | threshold | n | result | basis / note |" in text
    for rule in gate["rules"]:  # every rule: its estimate, the bound decided on, threshold, n
        shown = [_num(rule["estimate"]), _num(rule["value"]), f"{rule['op']} {rule['bound']:g}"]
        assert "| " + rule["rule"] + " | " + " | ".join(shown) + " | " + _num(rule["n"]) in text
    exp_id = _mlflow().get_experiment_by_name("promo").experiment_id
    variant_run = first.variant_run_id
    assert f"(https://mlflow.example.org/#/experiments/{exp_id}/runs/{run.run_id})" in text
    assert f"(https://mlflow.example.org/#/experiments/{exp_id}/runs/{variant_run})" in text
    assert "(https://app.example.org/compare)" in text

    promotion.approve(first.version, experiment="promo", reason="ship the | baseline", user=LEAD)
    text = _description(first.version)
    assert text.rstrip().endswith(
        "**approved** by **lee** (lead): ship the \\| baseline (champion - -> 1)"
    )

    second = promotion.propose(run, variant=BETTER, user=SCIENTIST)
    text = _description(second.version)
    assert "#### Paired comparison with champion v1" in text
    assert "| metric | role | champion | candidate | diff | 95% CI | p Holm | verdict |" in text
    row = second.comparison().set_index("metric").loc["quality"]
    assert (
        f"| quality | primary | {row['mean_a']:.4g} | {row['mean_b']:.4g} | {row['diff']:.4g} |"
        in text
    )
    assert "| better |" in text
    assert "Why: gates pass; vs champion v1: quality better" in text  # no reason: the evidence
    promotion.reject(second.version, experiment="promo", reason="not now", user=LEAD)
    assert "**rejected** by **lee** (lead): not now" in _description(second.version)
    assert len(_description(second.version)) <= LIMIT


def test_decisions_fit_mlflows_5000_characters() -> None:
    text = "### Candidate\n" + "x" * 3000
    for i in range(40):
        text = with_decision(text, f"- decision {i} " + "y" * 200)
        assert len(text) <= LIMIT
    assert text.startswith("### Candidate") and "- decision 39 " in text
    assert "- decision 0 " not in text and "older decisions: see `workbench audit`" in text
