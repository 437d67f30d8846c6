"""The blind A/B form of the Rate page: one item, answers A (left) and B (right), no names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import _shared as sh
import streamlit as st

from workbench.errors import WorkbenchError
from workbench.ratings import Presentation, Rating, RatingRound, new_rating_id
from workbench.tracking.feedback import submit_rating

if TYPE_CHECKING:
    import pandas as pd

    from workbench.users import User

CHOICE_LABELS = {
    "left": "A is better",
    "right": "B is better",
    "tie": "Tie",
    "both_bad": "Both bad",
}
SCORES = [1, 2, 3, 4, 5]
RATING_IDS = "wb_rating_ids"  # item id -> rating id of the submission in progress
SAVED = "wb_saved_message"


def _answer(samples: pd.DataFrame, variant_id: str, sample_id: str) -> pd.Series:
    rows = samples[
        (samples["variant_id"] == variant_id) & (samples["sample_id"].astype(str) == sample_id)
    ]
    return rows.iloc[0]


def _index(value: Any, options: list[Any]) -> int | None:
    return options.index(value) if value in options else None


def rating_form(
    pres: Presentation,
    samples: pd.DataFrame,
    user: User,
    rating_round: RatingRound,
    *,
    defaults: dict[str, Any] | None = None,
    key: str = "rate",
) -> bool:
    """Draw the item and its form; store the rating on submit. True once stored."""
    defaults = defaults or {}
    item = pres.item
    left = _answer(samples, pres.left.variant_id, item.sample_id)
    right = _answer(samples, pres.right.variant_id, item.sample_id)
    st.text("Question:")
    sh.show_text(left["question"])
    with st.expander("Reference answer (from the golden set)"):
        sh.show_text(left["reference"])
    k = f"{key}_{item.item_id}"
    with st.form(f"form_{k}"):
        scores: dict[str, list[Any]] = {"correctness": [], "helpfulness": []}
        for column, name, row, side in zip(
            st.columns(2), ("A", "B"), (left, right), ("left", "right"), strict=True
        ):
            with column, st.container(border=True):
                st.subheader(f"Answer {name}")
                sh.show_text(row["answer"])
                for criterion in scores:
                    scores[criterion].append(
                        st.radio(
                            f"{criterion.capitalize()} of answer {name} (1 = poor, 5 = excellent)",
                            SCORES,
                            index=_index(defaults.get(f"{criterion}_{side}"), SCORES),
                            horizontal=True,
                            key=f"{k}_{criterion}_{side}",
                        )
                    )
        choices = list(CHOICE_LABELS)
        choice = st.radio(
            "Which answer is better?",
            choices,
            index=_index(defaults.get("choice"), choices),
            format_func=CHOICE_LABELS.get,
            horizontal=True,
            key=f"{k}_choice",
        )
        comment = st.text_area(
            "Comment (optional)", value=defaults.get("comment", ""), key=f"{k}_comment"
        )
        submitted = st.form_submit_button("Submit rating", type="primary", key=f"{k}_submit")
    if not submitted:
        return False
    if choice is None or None in scores["correctness"] or None in scores["helpfulness"]:
        st.error(
            "Please pick the better answer and give both answers a correctness and a helpfulness score."
        )
        return False
    ids = st.session_state.setdefault(RATING_IDS, {})
    rating_id = ids.setdefault(k, new_rating_id())  # a retry of this submission reuses the id
    try:
        rating = Rating(
            item=item,
            rater=user.name,
            left=pres.left,
            right=pres.right,
            choice=choice,
            correctness=(scores["correctness"][0], scores["correctness"][1]),
            helpfulness=(scores["helpfulness"][0], scores["helpfulness"][1]),
            comment=comment.strip(),
            round_id=rating_round.round_id,
            rating_id=rating_id,
        )
        result = submit_rating(rating)
    except WorkbenchError as exc:
        st.error(f"Your rating was not saved: {exc}")
        return False
    ids.pop(k, None)
    st.session_state[SAVED] = (
        "Rating saved (it replaces your earlier rating of this item)."
        if result.overrode
        else "Rating saved."
    )
    return True
