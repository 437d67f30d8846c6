"""The same rules through every surface: the CLI (a real subprocess for refusals: exit
code 2, one error line, no traceback) and the Streamlit pages (AppTest)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.promotion.conftest import LEAD, RATER, SCIENTIST
from workbench import promotion
from workbench.cli import main
from workbench.errors import PermissionDenied
from workbench.users import load_users, verify_password

BASE = "qa_terse@1 · base · none"
BETTER = "qa_terse@1 · better · none"


def _cli(*args: str, user: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKBENCH_USER": user}
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def two_candidates(grid):
    """Version 1 (base) is the champion; version 2 (better) is pending."""
    run = grid(["base", "better"])
    first = promotion.propose(run, variant=BASE, user=SCIENTIST)
    promotion.approve(first.version, experiment="promo", reason="first", user=LEAD)
    promotion.propose(run, variant=BETTER, user=SCIENTIST)
    return run


def test_cli_refuses_non_leads_with_exit_code_2(two_candidates) -> None:
    for user, args in (
        ("rita", ("approve", "2", "--experiment", "promo", "--reason", "ship it")),
        ("sam", ("reject", "2", "--experiment", "promo", "--reason", "no")),
        ("sam", ("rollback", "promo", "--reason", "undo")),
    ):
        done = _cli(*args, user=user)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ")
        assert f"{user} (role {'rater' if user == 'rita' else 'scientist'}) may not" in lines[0]
    missing = _cli("approve", "2", "--experiment", "promo", user="lee")  # no --reason
    assert missing.returncode == 2 and "Missing option '--reason'" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert promotion.champion("promo").version == "1"
    refused = [r for r in promotion.audit_log("promo") if r.outcome == "refused"]
    assert [(r.who, r.action) for r in refused] == [
        ("rita", "approve"),
        ("sam", "reject"),
        ("sam", "rollback"),
    ]


def test_cli_decisions_as_a_lead(two_candidates, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("WORKBENCH_USER", "lee")
    main(["queue", "--experiment", "promo"])
    out = capsys.readouterr().out
    assert "better" in out and "pending" in out and "quality" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["approve", "2", "--experiment", "promo", "--reason", ""])
    assert exit_info.value.code == 2
    assert "a reason is required" in capsys.readouterr().err
    main(["approve", "2", "--experiment", "promo", "--reason", "quality up"])
    assert "champion 1 -> 2" in capsys.readouterr().out
    main(["champion", "promo"])
    out = capsys.readouterr().out
    assert "champion is version 2" in out and "prompts:/promo.qa_terse/1" in out
    main(["rollback", "promo", "--reason", "regression"])
    assert "champion 2 -> 1" in capsys.readouterr().out
    main(["audit", "promo"])
    out = capsys.readouterr().out
    assert out.count("approve") >= 3 and "rollback" in out and "refused" in out
    main(["audit", "promo", "--json"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(promotion.audit_log("promo")) == 6


def test_cli_propose_shows_the_evidence_and_refuses_non_candidates(grid, capsys) -> None:
    run = grid(["base", "same"])
    main(["propose", run.run_id, "--variant", BASE])
    assert "candidate version 1" in capsys.readouterr().out
    promotion.approve("1", experiment="promo", reason="r", user=LEAD)
    main(["propose", "promo", "--variant", "qa_terse@1 · same · none", "--check"])
    out = capsys.readouterr().out
    assert "does not qualify" in out and "quality" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["propose", "promo", "--variant", "qa_terse@1 · same · none"])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert "primary metric quality does not improve significantly" in captured.err
    assert "no significant difference" in captured.out  # the evidence table


def test_user_add_hashes_the_password_and_needs_a_lead(roles: Path) -> None:
    done = _cli(
        "user",
        "add",
        "nina",
        "--role",
        "scientist",
        "--password-stdin",
        user="lee",
        stdin="s3cret-pw\n",
    )
    assert done.returncode == 0, done.stderr
    text = roles.read_text()
    assert "s3cret-pw" not in text
    nina = load_users(roles)["nina"]
    assert nina.role == "scientist" and verify_password("s3cret-pw", nina.password_hash)
    refused = _cli(
        "user", "add", "eve", "--role", "lead", "--password-stdin", user="rita", stdin="x\n"
    )
    assert refused.returncode == 2 and "may not manage users" in refused.stderr
    assert "Traceback" not in refused.stderr and "eve" not in load_users(roles)


QUEUE_PAGE = str(ROOT / "apps" / "pages" / "queue.py")
AUDIT_PAGE = str(ROOT / "apps" / "pages" / "audit.py")


def _page(path: str, user) -> AppTest:
    app = AppTest.from_file(path, default_timeout=120)
    app.session_state["user"] = user
    return app.run()


def test_queue_page_refuses_a_non_lead_and_lets_a_lead_decide(two_candidates) -> None:
    app = _page(QUEUE_PAGE, RATER)
    assert not app.exception
    assert any("Only leads can approve" in w.value for w in app.warning)
    texts = " ".join(t.value for t in app.text)
    assert (
        "Version 2 · qa_terse@1 · better · none" in texts
        and "Version 1 · qa_terse@1 · base" in texts
    )
    app.text_input(key="reason_2").set_value("looks good")
    app.button(key="approve_2").click().run()
    assert not app.exception
    assert any("may not approve" in e.value and "PermissionDenied" in e.value for e in app.error)
    assert promotion.champion("promo").version == "1"
    (refused,) = [r for r in promotion.audit_log("promo") if r.outcome == "refused"]
    assert (refused.who, refused.role, refused.action, refused.reason) == (
        "rita",
        "rater",
        "approve",
        "looks good",
    )

    lead = _page(QUEUE_PAGE, LEAD)
    assert len(lead.get("plotly_chart")) == 1  # the comparison with the champion
    lead.text_input(key="reason_2").set_value("quality up")
    lead.button(key="approve_2").click().run()
    assert not lead.exception
    assert any("approved version 2: champion 1" in s.value for s in lead.success)
    assert promotion.champion("promo").version == "2"


def test_audit_page_shows_the_log(two_candidates) -> None:
    with pytest.raises(PermissionDenied):
        promotion.approve("2", experiment="promo", reason="x", user=RATER)
    app = _page(AUDIT_PAGE, LEAD)
    assert not app.exception
    (frame,) = app.dataframe
    table = frame.value
    assert len(table) == 4
    assert list(table["action"]) == ["approve", "propose", "approve", "propose"]
    assert list(table["outcome"]) == ["refused", "ok", "ok", "ok"]
    assert table["intact"].all()


def test_queue_page_shows_pm_ratings_when_there_are_some(two_candidates) -> None:
    from workbench.ratings import Rating, RatingRound, round_items
    from workbench.tracking.feedback import save_round, submit_rating

    run = two_candidates
    ids = run.variants.set_index("variant")["variant_id"]
    samples = sorted(set(run.samples["sample_id"]))[:3]
    rating_round = save_round(
        RatingRound.create(
            experiment="promo",
            experiment_id=run.experiment_id,
            run_id=run.run_id,
            variants=[ids[BASE], ids[BETTER]],
            sample_ids=samples,
            min_raters=1,
        )
    )
    for item in round_items(rating_round, run.samples):  # the rater prefers "better" 3 times
        choice = "left" if item.a.variant_id == ids[BETTER] else "right"
        rating = Rating(
            item, "rita", item.a, item.b, choice, (3, 3), (3, 3), round_id=rating_round.round_id
        )
        submit_rating(rating)
    (pending,) = promotion.queue("promo")
    strengths = pending.rating_summary().set_index("variant")
    assert strengths.loc[ids[BETTER], "win_rate"] == 1.0  # 3 wins of 3
    assert strengths.loc[ids[BASE], "win_rate"] == 0.0

    app = _page(QUEUE_PAGE, LEAD)
    assert not app.exception
    assert any("PM ratings of this run" in t.value for t in app.text)
    shown = [d.value for d in app.dataframe if "win_rate" in d.value.columns]
    assert len(shown) == 1 and sorted(shown[0]["win_rate"]) == [0.0, 1.0]
