"""Rate: blind pairwise A/B of two variants' answers to the same question.

The queue comes from the ratings already stored in MLflow (so it survives restarts and is
shared by every app process): items the rater has not rated that still have fewer than N
raters. Left/right order is random per (item, rater), balanced over the rater's items,
and recorded with the rating.
"""

from __future__ import annotations

import _rate_form as form
import _shared as sh
import streamlit as st

from workbench.errors import WorkbenchError
from workbench.ratings import (
    DEFAULT_MIN_RATERS,
    Answer,
    Presentation,
    RatingRound,
    eligible_samples,
    presentation,
    queue_for,
    round_items,
)
from workbench.tracking.feedback import list_rounds, load_ratings, save_round

user = sh.page_header("Rate answers")
uri = sh.tracking_uri()


@st.cache_data(ttl=15, show_spinner=False)
def rounds(uri: str) -> list[RatingRound]:
    return list_rounds(tracking_uri=uri)


if user.role in ("scientist", "lead"):
    with st.expander("Set up a rating round", expanded=not rounds(uri)):
        loaded = sh.pick_run("round")
        if loaded is not None:
            labels = sh.variant_labels(loaded)
            chosen = st.multiselect(
                "Variants to compare (2 or more)",
                list(labels),
                format_func=labels.get,
                key="round_variants",
            )
            c1, c2 = st.columns(2)
            min_raters = c1.number_input(
                "Raters per item (N)", 1, 20, DEFAULT_MIN_RATERS, key="round_min_raters"
            )
            max_samples = c2.number_input(
                "Samples (0 = all shared samples)", 0, 10_000, 0, key="round_max_samples"
            )
            title = st.text_input("Title (optional)", key="round_title")
            if st.button("Create the round", key="create_round", disabled=len(chosen) < 2):
                try:
                    shared = eligible_samples(
                        sh.load_samples(loaded.run_id, tuple(chosen), loaded.tracking_uri),
                        chosen,
                        max_samples=int(max_samples) or None,
                    )
                    new = save_round(
                        RatingRound.create(
                            experiment=loaded.experiment,
                            experiment_id=loaded.experiment_id,
                            run_id=loaded.run_id,
                            variants=chosen,
                            sample_ids=shared,
                            min_raters=int(min_raters),
                            created_by=user.name,
                            title=title.strip(),
                        ),
                        tracking_uri=uri,
                    )
                except WorkbenchError as exc:
                    st.error(str(exc))
                else:
                    rounds.clear()
                    st.success(f"Round {new.round_id} is open: {len(new.sample_ids)} samples.")

available = rounds(uri)
if not available:
    st.info("No rating round is open yet. A scientist or lead sets one up on this page.")
    st.stop()
by_id = {r.round_id: r for r in available}
round_id = st.selectbox(
    "Rating round",
    list(by_id),
    format_func=lambda r: (
        f"{by_id[r].title or by_id[r].experiment} · {len(by_id[r].variants)} variants · "
        f"{len(by_id[r].sample_ids)} samples · {r}"
    ),
    key="rate_round",
)
rating_round = by_id[round_id]
samples = sh.load_samples(rating_round.run_id, rating_round.variants, uri)
items = round_items(rating_round, samples)
item_ids = [i.item_id for i in items]
ratings = load_ratings(rating_round.run_id, tracking_uri=uri)
queue = queue_for(user.name, items, ratings, rating_round.min_raters)
mine = ratings[(ratings["rater"] == user.name) & ratings["item"].isin(item_ids)]
done = int(mine["item"].nunique())
total = done + len(queue)
st.progress(done / total if total else 1.0, text=f"Your queue: {done} of {total} rated")
if message := st.session_state.pop(form.SAVED, None):
    st.success(message)

if queue:
    pres = presentation(queue[0], user.name, item_ids)
    st.caption("The two answers come from different variants, in random order; names are hidden.")
    if form.rating_form(pres, samples, user, rating_round, key="rate"):
        st.rerun()
else:
    st.success("Your queue is empty: every item has enough raters or you rated it. Thank you!")

complete = mine.groupby("rating_id")["side"].transform("nunique") == 2
latest = (
    mine[complete & (mine["side"] == "left")]
    .sort_values("time")
    .drop_duplicates("item", keep="last")
)
if len(latest):  # re-rating: the same item, shown as it was; the new rating overrides the old
    with st.expander("Change one of my ratings"):
        by_item = {row.item: row for row in latest.itertuples()}
        chosen_item = st.selectbox(
            "Item",
            list(by_item),
            format_func=lambda i: (
                f"sample {by_item[i].sample_id} · rated {by_item[i].time:%Y-%m-%d %H:%M}"
            ),
            key="rerate_item",
        )
        item = next(i for i in items if i.item_id == chosen_item)
        old = mine[mine["rating_id"] == by_item[chosen_item].rating_id].set_index("side")
        shown = Presentation(
            item,
            left=Answer(str(old.loc["left", "variant"]), str(old.loc["left", "trace_id"])),
            right=Answer(str(old.loc["right", "variant"]), str(old.loc["right", "trace_id"])),
        )
        outcome = str(old.loc["left", "outcome"])
        defaults = {
            "choice": {"win": "left", "loss": "right"}.get(outcome, outcome),
            "comment": str(old.loc["left", "comment"] or ""),
            **{
                f"{c}_{side}": int(old.loc[side, c])
                for c in ("correctness", "helpfulness")
                for side in ("left", "right")
            },
        }
        if form.rating_form(shown, samples, user, rating_round, defaults=defaults, key="rerate"):
            st.rerun()
