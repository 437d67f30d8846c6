"""Every page of the app under Streamlit's AppTest, on a real MLflow store (a run made with
the scripted fakes): sign in, pick runs and variants, filter, rate, read ratings back."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.apphelpers import EVIL, HOME, Store, all_text, sign_in
from workbench.ratings import RatingRound, eligible_samples
from workbench.tracking import feedback as stored
from workbench.tracking.read import load_experiment


def _app() -> AppTest:
    return AppTest.from_file(str(HOME), default_timeout=120).run()


def _signed_in(name: str) -> AppTest:
    at = sign_in(_app(), name)
    assert not at.exception, at.exception
    return at


def _goto(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _frame(at: AppTest, column: str):
    """The first table on the page that has ``column``."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a column {column!r}")


def _open_round(
    store: Store, variants: int = 2, min_raters: int = 3, chosen: list[str] | None = None
) -> RatingRound:
    loaded = load_experiment(store.run_id)
    chosen = chosen or list(store.variants[:variants])
    rnd = RatingRound.create(
        experiment=loaded.experiment,
        experiment_id=loaded.experiment_id,
        run_id=loaded.run_id,
        variants=chosen,
        sample_ids=eligible_samples(loaded.samples(chosen), chosen),
        min_raters=min_raters,
        created_by="sam",
    )
    return stored.save_round(rnd)


def test_sign_in_checks_the_password_and_shows_who_is_signed_in(store: Store, users: Path) -> None:
    at = _app()
    assert [t.value for t in at.title] == ["Sign in to the workbench"]
    at = sign_in(at, "alice", "wrong")
    assert [e.value for e in at.error] == ["Unknown user or wrong password."]
    at = sign_in(at, "alice")
    assert "Signed in as alice (rater)" in [t.value for t in at.sidebar.text]
    assert [t.value for t in at.title] == ["Rate answers"]  # a rater lands on Rate
    assert "role: rater" in at.caption[0].value
    lead = _signed_in("lee")
    assert [t.value for t in lead.title] == ["Leaderboard"]
    lead.sidebar.button(key="sign_out").click().run()
    assert [t.value for t in lead.title] == ["Sign in to the workbench"]


def test_leaderboard_shows_cis_gates_pareto_and_forest(store: Store, users: Path) -> None:
    at = _goto(_signed_in("sam"), "leaderboard")
    board = _frame(at, "pass rate (95% CI)")
    assert len(board) == len(store.variants) == 8
    assert set(board["gate"]) <= {"pass", "fail"} and "pass rate (95% CI)" in board.columns
    assert board["pass rate (95% CI)"].str.match(r"^\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]$").all()
    assert "policy app-release v1" in all_text(at)
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # Pareto + forest
    at.selectbox(key="forest_metric").select("rouge_l").run()
    forest = _frame(at, "verdict")
    assert len(forest) == 3 and set(forest["verdict"]) <= {
        "better",
        "worse",
        "no significant difference",
        "not tested",
    }
    at.selectbox(key="baseline").select(store.variants[3]).run()
    assert not at.exception
    assert store.labels[store.variants[3]] not in set(_frame(at, "verdict")["variant"])


def test_compare_filters_and_paginates_only_the_chosen_variants(store: Store, users: Path) -> None:
    at = _goto(_signed_in("sam"), "compare")
    at.multiselect(key="compare_variants").set_value(list(store.variants[:3])).run()
    assert "6 of 6 samples match the filters" in all_text(at)
    at.multiselect(key="categories").set_value(["policy"]).run()
    assert "2 of 6 samples match the filters" in all_text(at)
    shown = [t.value for t in at.text if t.value.startswith("Sample ")]
    assert shown == ["Sample q3 · category policy", "Sample q5 · category policy"]
    at.multiselect(key="categories").set_value([]).run()
    at.checkbox(key="only_fail").check().run()
    failing = [t.value for t in at.text if t.value.startswith("Sample ")]
    assert 0 < len(failing) <= 6
    at.checkbox(key="only_fail").uncheck().run()
    at.checkbox(key="only_disagree").check().run()
    assert not at.exception
    at.checkbox(key="only_disagree").uncheck().run()
    at.selectbox(key="range_metric").select("rouge_l").run()
    at.slider(key="range_values").set_value((0.9, 1.0)).run()
    assert not at.exception and "of 6 samples match the filters" in all_text(at)
    at.selectbox(key="range_metric").select("(none)").run()
    at.selectbox(key="page_size").select(5).run()
    pagination = at.get("pagination")[0]
    assert pagination.num_pages == 2
    assert len([t for t in at.text if t.value.startswith("Sample ")]) == 5
    pagination.set_value(2).run()
    assert [t.value for t in at.text if t.value.startswith("Sample ")] == [
        "Sample q6 · category unanswerable"
    ]
    links = [b.proto.url for b in at.get("link_button")]
    assert any("/#/experiments/" in u and "selectedEvaluationId=tr-" in u for u in links)
    assert all(u.startswith("http://127.0.0.1:5000/") for u in links)


def test_compare_diff_highlights_words_and_the_mlflow_link_base_is_configurable(
    store: Store, users: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_MLFLOW_UI", "https://mlflow.example.org/")
    at = _goto(_signed_in("sam"), "compare")
    smart_none = next(
        v for v, label in store.labels.items() if label == "qa_terse@1 · smart · none"
    )
    evil_none = next(v for v, label in store.labels.items() if label == "qa_terse@1 · evil · none")
    at.multiselect(key="compare_variants").set_value([smart_none, evil_none]).run()
    bodies = [h.proto.body for h in at.get("html")]
    assert len(bodies) == 6  # one diff per sample
    assert all("<del" in b and "<ins" in b for b in bodies)
    assert "I don&#x27;t know." in bodies[0] or "know.</del>" in bodies[0]
    links = [b.proto.url for b in at.get("link_button")]
    assert links and all(u.startswith("https://mlflow.example.org/#/experiments/") for u in links)


def test_a_scientist_sets_up_a_round_in_the_app(store: Store, users: Path) -> None:
    at = _goto(_signed_in("sam"), "rate")
    assert "No rating round is open yet" in [i.value for i in at.info][-1]
    at.multiselect(key="round_variants").set_value(list(store.variants[:3])).run()
    at.number_input(key="round_min_raters").set_value(2).run()
    at.button(key="create_round").click().run()
    assert not at.exception
    rounds = stored.list_rounds()
    assert len(rounds) == 1 and rounds[0].min_raters == 2 and len(rounds[0].variants) == 3
    assert rounds[0].created_by == "sam" and len(rounds[0].sample_ids) == 6
    rater = _goto(_signed_in("alice"), "rate")
    assert rater.expander == [] or all(e.label != "Set up a rating round" for e in rater.expander)
    assert rater.get("progress")[0].proto.text == "Your queue: 0 of 18 rated"


def _answers_shown(at: AppTest) -> tuple[str, str]:
    texts = [t.value for t in at.text]
    question = texts.index("Question:")
    return texts[question + 3], texts[question + 4]  # question, reference, then A and B


def test_a_rater_rates_blind_and_the_rating_is_in_mlflow(store: Store, users: Path) -> None:
    rnd = _open_round(store)
    at = _goto(_signed_in("alice"), "rate")
    progress = at.get("progress")[0]
    assert progress.proto.text == "Your queue: 0 of 6 rated"
    page_text = all_text(at)
    for label in store.labels.values():
        assert label not in page_text  # variant names stay hidden
    left_text, right_text = _answers_shown(at)
    form_keys = [r.key for r in at.radio]
    item_key = form_keys[0].rsplit("_correctness_left", 1)[0]
    at.button(key=f"{item_key}_submit").click().run()
    assert "Please pick the better answer" in at.error[0].value
    assert stored.load_ratings(rnd.run_id).empty
    at.radio(key=f"{item_key}_correctness_left").set_value(5)
    at.radio(key=f"{item_key}_correctness_right").set_value(2)
    at.radio(key=f"{item_key}_helpfulness_left").set_value(4)
    at.radio(key=f"{item_key}_helpfulness_right").set_value(1)
    at.radio(key=f"{item_key}_choice").set_value("left")
    at.text_area(key=f"{item_key}_comment").input("A <b>is</b> grounded")
    at.button(key=f"{item_key}_submit").click().run()
    assert not at.exception
    assert [s.value for s in at.success][0] == "Rating saved."
    assert at.get("progress")[0].proto.text == "Your queue: 1 of 6 rated"

    frame = stored.load_ratings(rnd.run_id)
    assert len(frame) == 2 and set(frame["rater"]) == {"alice"}
    sides = frame.set_index("side")
    samples = (
        load_experiment(rnd.run_id)
        .samples(list(rnd.variants))
        .set_index(["variant_id", "sample_id"])
    )
    item_sample = sides.loc["left", "sample_id"]
    # what was shown on the left is what is stored as the left answer
    assert (
        samples.loc[(sides.loc["left", "variant"], item_sample), "answer"].strip()
        == left_text.strip()
    )
    assert (
        samples.loc[(sides.loc["right", "variant"], item_sample), "answer"].strip()
        == right_text.strip()
    )
    assert sides.loc["left", "outcome"] == "win" and sides.loc["right", "outcome"] == "loss"
    assert sides.loc["left", "correctness"] == 5 and sides.loc["right", "helpfulness"] == 1
    assert (
        sides.loc["left", "comment"] == "A <b>is</b> grounded"
        and sides.loc["left", "round"] == rnd.round_id
    )
    # the next item is another one
    next_key = [r.key for r in at.radio][0].rsplit("_correctness_left", 1)[0]
    assert next_key != item_key


def test_rerating_in_the_app_overrides_and_keeps_history(store: Store, users: Path) -> None:
    rnd = _open_round(store, min_raters=1)
    at = _goto(_signed_in("bob"), "rate")
    key = [r.key for r in at.radio][0].rsplit("_correctness_left", 1)[0]
    for name, value in (
        ("correctness_left", 3),
        ("correctness_right", 3),
        ("helpfulness_left", 3),
        ("helpfulness_right", 3),
        ("choice", "tie"),
    ):
        at.radio(key=f"{key}_{name}").set_value(value)
    at.button(key=f"{key}_submit").click().run()
    first = stored.load_ratings(rnd.run_id)
    assert set(first["outcome"]) == {"tie"}
    rerate = [r.key for r in at.radio if r.key.startswith("rerate_")]
    assert rerate, "the 'change one of my ratings' form is shown"
    prefix = rerate[0].rsplit("_correctness_left", 1)[0]
    assert at.radio(key=f"{prefix}_choice").value == "tie"  # pre-filled with the old rating
    at.radio(key=f"{prefix}_choice").set_value("both_bad")
    at.button(key=f"{prefix}_submit").click().run()
    assert "replaces your earlier rating" in at.success[0].value
    current = stored.load_ratings(rnd.run_id)
    history = stored.load_ratings(rnd.run_id, include_history=True)
    assert set(current["outcome"]) == {"both_bad"} and len(current) == 2
    assert len(history) == 4 and (~history["valid"]).sum() == 2


def test_ratings_page_shows_agreement_bias_and_metric_agreement(store: Store, users: Path) -> None:
    from workbench.ratings import Rating, presentation, round_items

    rnd = _open_round(store, variants=3)
    loaded = load_experiment(rnd.run_id)
    items = round_items(rnd, loaded.samples(list(rnd.variants)))
    ids = [i.item_id for i in items]
    for rater in ("alice", "bob", "carol"):
        for n, item in enumerate(items):
            shown = presentation(item, rater, ids)
            prefer_a = (n % 2 == 0) != (rater == "carol" and n % 5 == 0)  # carol dissents sometimes
            better_left = shown.a_left == prefer_a
            stored.submit_rating(
                Rating(
                    item=item,
                    rater=rater,
                    left=shown.left,
                    right=shown.right,
                    choice="left" if better_left else "right",
                    correctness=(4, 2) if better_left else (2, 4),
                    helpfulness=(4, 3) if better_left else (3, 4),
                    round_id=rnd.round_id,
                )
            )
    at = _goto(_signed_in("lee"), "ratings")
    assert f"{3 * len(items)} ratings by 3 raters of {len(items)} items" in all_text(at)
    strengths = _frame(at, "strength")
    assert set(strengths["variant"]) == {store.labels[v] for v in rnd.variants}
    assert strengths["win_rate"].between(0, 1).all()
    agreement = _frame(at, "criterion")
    assert agreement["criterion"].tolist() == [
        "preference",
        "correctness",
        "helpfulness",
        "all criteria",
    ]
    assert agreement.loc[0, "alpha"] > 0.5
    position = _frame(at, "left_share")
    assert sorted(position["rater"]) == ["alice", "bob", "carol"]
    metrics = _frame(at, "rho")
    assert "pass_rate" in set(metrics["metric"]) and "disagrees" in metrics.columns
    assert any("plumbing" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 1


def test_lead_pages_are_for_leads_only(store: Store, users: Path) -> None:
    pages = [p for p in ("queue", "audit") if (HOME.parent / "pages" / f"{p}.py").is_file()]
    if not pages:
        pytest.skip("the promotion pages are not there yet")
    with pytest.raises(ValueError):
        _signed_in("alice").switch_page(f"pages/{pages[0]}.py")
    _goto(_signed_in("lee"), pages[0])


def test_untrusted_text_is_shown_escaped_in_compare_and_rate(store: Store, users: Path) -> None:
    at = _goto(_signed_in("sam"), "compare")
    evil = [v for v, label in store.labels.items() if "evil" in label]
    smart_bm25 = next(
        v for v, label in store.labels.items() if label == "qa_terse@1 · smart · bm25"
    )
    at.multiselect(key="compare_variants").set_value([smart_bm25, *evil[:1]]).run()
    texts = [t.value for t in at.text]
    assert any(EVIL in t for t in texts)  # the model's answer, verbatim, as plain text
    assert any(EVIL in t for t in texts if "Refunds can be requested" in t)  # the corpus passage
    for element in [*at.markdown, *at.caption]:
        assert "<script" not in element.value and "javascript:" not in element.value
    for body in (h.proto.body for h in at.get("html")):
        assert "<script" not in body and "<img" not in body and "&lt;script&gt;" in body
    _open_round(store, chosen=evil[:2])  # both answers of every item carry the payload
    rate = _goto(_signed_in("alice"), "rate")
    shown = [t.value for t in rate.text]
    assert sum(EVIL in t for t in shown) == 2  # answer A and answer B, verbatim, as plain text
    for element in [*rate.markdown, *rate.caption, *rate.subheader]:
        assert "<script" not in element.value and "javascript:" not in element.value


def test_a_large_run_opens_its_first_page_fast_loading_only_the_chosen_variants(
    users: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from tests.app.apphelpers import big_store
    from workbench.tracking import read

    big = big_store(tmp_path, n_variants=20, n_samples=1000)
    tables: list[str] = []
    real = read.read_table
    monkeypatch.setattr(
        read, "read_table", lambda uri, run_id, name: tables.append(name) or real(uri, run_id, name)
    )
    at = _signed_in("alice")  # lands on Rate: no round, nothing loaded yet
    tables.clear()
    started = time.perf_counter()
    _goto(at, "compare")
    elapsed = time.perf_counter() - started
    assert "1000 of 1000 samples match the filters" in all_text(at)
    assert big.labels[big.variants[0]] in all_text(at)  # the board's two best, side by side
    assert tables.count("samples.json") == 2  # the two chosen variants, not all 20
    assert len([t for t in at.text if t.value.startswith("Sample ")]) == 20  # one page
    assert at.get("pagination")[0].num_pages == 50
    assert elapsed < 15, f"first page took {elapsed:.1f} s"
    at.get("pagination")[0].set_value(50).run()
    assert [t.value for t in at.text if t.value.startswith("Sample ")][-1].startswith(
        "Sample s0999"
    )
    assert tables.count("samples.json") == 2  # cached: paging reads nothing again
    print(f"first page of a 20 x 1000 run: {elapsed:.2f} s")


def test_with_an_auth_section_in_the_secrets_the_app_offers_single_sign_on(
    store: Store, users: Path
) -> None:
    at = AppTest.from_file(str(HOME), default_timeout=120)
    at.secrets["auth"] = {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "client_id": "workbench",
        "client_secret": "s",
        "server_metadata_url": "https://id.example.org/.well-known/openid-configuration",
    }
    at.run()
    assert [t.value for t in at.title] == ["Sign in to the workbench"]
    assert [b.key for b in at.button] == ["oidc_login"]  # no local password form
    assert not at.text_input
