"""Every page on a small REAL run: 2 prompts x SmolLM2-135M (llama.cpp) x 2 retrievers x 4
golden samples, scored with the real scorers (MiniLM embeddings) and logged to MLflow.
Run under the shared CPU lock: flock /tmp/wb-heavy.lock pytest -m slow tests/app"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.apphelpers import HOME, Store, all_text, clone_store, sign_in
from workbench.ratings import Rating, presentation, round_items
from workbench.tracking import feedback as stored
from workbench.tracking.read import load_experiment

pytestmark = pytest.mark.slow


@pytest.fixture
def real(real_run: Store, tmp_path: Path) -> Store:
    clone_store(real_run, tmp_path)
    return real_run


def _as(name: str) -> AppTest:
    at = sign_in(AppTest.from_file(str(HOME), default_timeout=180).run(), name)
    assert not at.exception
    return at


def _page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_pages_on_a_real_run_and_a_rating_round_trip(real: Store, users: Path) -> None:
    loaded = load_experiment(real.run_id)
    assert len(loaded.board) == 4 and {m.name for m in loaded.metrics} >= {"semantic_similarity"}

    sam = _page(_as("sam"), "leaderboard")
    board = next(f.value for f in sam.dataframe if "gate" in f.value.columns)
    assert len(board) == 4 and set(board["gate"]) <= {"pass", "fail"}
    assert "semantic_similarity (95% CI)" in board.columns
    sam.selectbox(key="forest_metric").select("semantic_similarity").run()
    assert len(sam.get("plotly_chart")) == 2 and not sam.exception

    _page(sam, "compare")
    sam.multiselect(key="compare_variants").set_value(list(real.variants[:2])).run()
    assert "4 of 4 samples match the filters" in all_text(sam)
    answers = set(loaded.samples(list(real.variants[:2]))["answer"])
    assert answers & {t.value for t in sam.text}  # the real answers are on the page
    assert len(sam.get("html")) == 4  # a word diff per sample

    _page(sam, "rate")
    sam.multiselect(key="round_variants").set_value(list(real.variants[:2])).run()
    sam.button(key="create_round").click().run()
    (rnd,) = stored.list_rounds()
    assert len(rnd.sample_ids) == 4

    alice = _page(_as("alice"), "rate")
    assert alice.get("progress")[0].proto.text == "Your queue: 0 of 4 rated"
    key = [r.key for r in alice.radio][0].rsplit("_correctness_left", 1)[0]
    for name, value in (
        ("correctness_left", 4),
        ("correctness_right", 2),
        ("helpfulness_left", 5),
        ("helpfulness_right", 3),
        ("choice", "left"),
    ):
        alice.radio(key=f"{key}_{name}").set_value(value)
    alice.button(key=f"{key}_submit").click().run()
    assert alice.success[0].value == "Rating saved."
    frame = stored.load_ratings(rnd.run_id, round_id=rnd.round_id)
    assert len(frame) == 2 and frame.set_index("side").loc["left", "outcome"] == "win"

    items = round_items(rnd, loaded.samples(list(rnd.variants)))
    ids = [i.item_id for i in items]
    for rater in ("bob", "carol"):
        for item in items:
            shown = presentation(item, rater, ids)
            stored.submit_rating(
                Rating(item=item, rater=rater, left=shown.left, right=shown.right, choice="left",
                       correctness=(4, 2), helpfulness=(4, 2), round_id=rnd.round_id)
            )  # fmt: skip
    lee = _page(_as("lee"), "ratings")
    assert "9 ratings by 3 raters of 4 items" in all_text(lee)
    position = next(f.value for f in lee.dataframe if "left_share" in f.value.columns).set_index(
        "rater"
    )
    assert position.loc["bob", "left_share"] == 1.0 and position.loc["carol", "left_share"] == 1.0
    metrics = next(f.value for f in lee.dataframe if "rho" in f.value.columns)
    assert "semantic_similarity" in set(metrics["metric"])
