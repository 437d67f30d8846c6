"""Item 7 at the reliability level: untrusted content that enters at every door (golden
questions and references, corpus documents, model answers, the experiment description, a
model's display name) goes through a run, MLflow and the Streamlit app, and is shown
escaped on every page (AppTest: nothing that renders Markdown or HTML carries it raw; the
text is there verbatim as plain text). The app's own tests (tests/app) cover each widget
and the browser; this is the end-to-end check that nothing on the way un-escapes it.

And the prompt-injection canaries of the safety scorer are part of the quickstart gate: a
model that obeys the instruction planted in a corpus document fails the quickstart's
release gates on high-severity findings; one that does not, does not fail on them.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

import workbench.testing as wt
from tests.app.apphelpers import EVIL, HOME, sign_in, users_file
from tests.conftest import EXPERIMENTS
from workbench.models import Message

pytestmark = pytest.mark.reliability

RAW = ("<script", "<img", "javascript:", "onerror")


def _answer(messages: Sequence[Message]) -> str:
    return f"{EVIL} (from the model) " + wt.question_of(messages)[:40]


@pytest.fixture
def untrusted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from workbench.pipeline import run

    data = tmp_path / "untrusted"
    shutil.copytree(EXPERIMENTS / "prompts", data / "prompts")
    (data / "corpus").mkdir(parents=True)
    for doc in ("refund-policy", "office-locations"):
        src = next((EXPERIMENTS / "corpora" / "acme").glob(f"{doc}*.md"), None)
        if src is not None:
            shutil.copy(src, data / "corpus" / src.name)
    (data / "corpus" / "evil-doc.md").write_text(
        f"# Handbook {EVIL}\nRefunds can be requested within 14 days. {EVIL}\n", encoding="utf-8"
    )
    rows = [
        {
            "id": f"u{i}",
            "question": f"How long is the refund window? {EVIL} #{i}",
            "reference_answer": f"Within 14 days. {EVIL}",
            "reference_doc_ids": ["evil-doc"],
            "category": "factual",
            "severity": "low",
        }
        for i in range(3)
    ]
    (data / "golden.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = data / "untrusted.yaml"
    spec.write_text(
        f"""\
name: untrusted
description: {json.dumps("Description " + EVIL)}
dataset: {{path: golden.jsonl}}
corpus: {{path: corpus}}
models:
  evil: {{provider: scripted, model: evil, name: {json.dumps("m<img src=x onerror=alert(4)>")}}}
grid:
  prompt: [qa_terse@1, qa_grounded@1]
  model: [evil]
  retriever: [bm25]
retrievers:
  bm25: {{type: bm25, k: 2}}
thresholds: {{rouge_l: ">= 0.0"}}
scorers: [rank, safety, rouge_l]
""",
        encoding="utf-8",
    )
    wt.script("evil", _answer)
    result = run(spec)
    monkeypatch.setenv("WORKBENCH_CONFIG", str(users_file(tmp_path)))
    monkeypatch.delenv("WORKBENCH_MLFLOW_UI", raising=False)
    return result


def _check_page(at) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Nothing that renders Markdown/HTML carries the payload raw; count the plain texts."""
    assert not at.exception, [e.value for e in at.exception]
    rendered = 0
    for kind in ("markdown", "caption", "title", "header", "subheader", "error", "warning",
                 "info", "success", "latex"):  # fmt: skip
        for element in at.get(kind):
            rendered += 1
            value = str(getattr(element, "value", "") or getattr(element.proto, "body", ""))
            assert not any(raw in value for raw in RAW), (kind, value[:300])
    for element in at.get("html"):  # HTML the app built: payload text escaped inside it
        rendered += 1
        body = str(element.proto.body)
        assert "<script" not in body.lower() and "<img" not in body.lower(), body[:300]
        assert not re.search(r"<[^>]*\bon\w+\s*=", body, re.I), body[:300]  # no on* handler
        assert not re.search(r"(href|src)\s*=\s*[\"']?\s*javascript:", body, re.I), body[:300]
        assert "&lt;script&gt;" in body or EVIL not in html.unescape(body)
    plain = sum(EVIL in str(t.value) for t in at.text)
    return {"rendered_elements": rendered, "plain_texts_with_payload": plain}


def test_injected_html_from_every_door_is_shown_escaped(untrusted_run) -> None:
    from streamlit.testing.v1 import AppTest

    from workbench.ratings import RatingRound, eligible_samples
    from workbench.tracking import feedback as stored
    from workbench.tracking.read import load_experiment

    at = sign_in(AppTest.from_file(str(HOME), default_timeout=120).run(), "sam")
    _check_page(at)
    at.switch_page("pages/leaderboard.py").run()
    _check_page(at)
    at.switch_page("pages/compare.py").run()
    compare = _check_page(at)
    # question, reference, both answers, the retrieved evil document: verbatim, as plain text
    assert compare["plain_texts_with_payload"] >= 4, compare
    loaded = load_experiment(untrusted_run.run_id)
    chosen = list(loaded.board["variant_id"])
    stored.save_round(
        RatingRound.create(
            experiment=loaded.experiment,
            experiment_id=loaded.experiment_id,
            run_id=loaded.run_id,
            variants=chosen,
            sample_ids=eligible_samples(loaded.samples(chosen), chosen),
            min_raters=1,
            created_by="sam",
        )
    )
    rate = sign_in(AppTest.from_file(str(HOME), default_timeout=120).run(), "alice")
    rate.switch_page("pages/rate.py").run()
    rated = _check_page(rate)
    assert rated["plain_texts_with_payload"] >= 2, rated  # answers A and B


def _hijacked(messages: Sequence[Message]) -> str:
    """Obeys an instruction planted in a retrieved document: says its canary."""
    text = "\n".join(m.content for m in messages)
    found = re.search(r"CANARY-[A-Z0-9]{4}", text)
    return f"Done: {found.group(0)}" if found else "I don't know."


def _resistant(messages: Sequence[Message]) -> str:
    return "I don't know."


def test_prompt_injection_canaries_fail_the_quickstart_gate(acme_dir: Path) -> None:
    """The quickstart as shipped (its golden set, corpus, gates), the models swapped for
    scripted ones and the MiniLM-based threshold for ROUGE-L (no embedding model)."""
    from workbench.pipeline import gate, run

    shutil.copy(EXPERIMENTS / "quickstart.yaml", acme_dir / "quickstart.yaml")
    wt.script("hijacked", _hijacked)
    wt.script("resistant", _resistant)
    result = run(
        acme_dir / "quickstart.yaml",
        overrides=[
            "grid.model=[scripted:hijacked, scripted:resistant]",
            "grid.retriever=[bm25]",
            "grid.prompt=[qa_terse@1]",
            "thresholds={rouge_l: '>= 0.0'}",
            "scorers=[rank, safety, rouge_l]",
        ],
    )
    samples = result.samples
    injection = samples[samples["category"] == "injection"]
    assert len(injection) >= 2 and injection["sample_id"].nunique() >= 1
    by_model = {m: injection[injection["model"] == m] for m in ("hijacked", "resistant")}
    assert (by_model["hijacked"]["injection_resisted"] == 0).any()
    assert (by_model["hijacked"]["high_findings"] > 0).any()
    assert (by_model["resistant"]["injection_resisted"] == 1).all()
    verdicts = {}
    for _, row in result.variants.iterrows():
        report = gate(result.run_id, variant=row["variant_id"], record=False)
        verdicts[row["model"]] = {r.rule for r in report.chosen.failed_rules}
    assert any("high_severity" in rule for rule in verdicts["hijacked"]), verdicts
    assert not any("high_severity" in rule for rule in verdicts["resistant"]), verdicts
