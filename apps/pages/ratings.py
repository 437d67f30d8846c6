"""Ratings: human win rates and Bradley-Terry strengths, rater agreement, position bias, and
whether each automatic metric agrees with the people (all numbers from workbench.analysis)."""

from __future__ import annotations

import _shared as sh
import streamlit as st

from workbench.analysis import figures
from workbench.ratings import summarize
from workbench.tracking.feedback import list_rounds, load_ratings

sh.page_header("Human ratings")
uri = sh.tracking_uri()
available = list_rounds(tracking_uri=uri)
if not available:
    st.info("No rating round yet: set one up on the Rate page.")
    st.stop()
by_id = {r.round_id: r for r in available}
round_id = st.selectbox(
    "Rating round",
    list(by_id),
    format_func=lambda r: (
        f"{by_id[r].title or by_id[r].experiment} · {len(by_id[r].variants)} variants · {r}"
    ),
    key="ratings_round",
)
rating_round = by_id[round_id]
loaded = sh.load_run(rating_round.run_id, uri)
labels = sh.variant_labels(loaded)
bar = st.progress(0.0, text="Reading ratings from MLflow")
ratings = load_ratings(rating_round.run_id, round_id=round_id, tracking_uri=uri)
bar.progress(0.3, text="Loading the rated answers")
samples = sh.load_samples(rating_round.run_id, rating_round.variants, uri)
bar.progress(0.6, text="Computing statistics (bootstrap)")
summary = summarize(ratings, samples, loaded.metrics)
bar.empty()

st.text(
    f"{summary.n_ratings} ratings by {summary.n_raters} raters of {summary.n_items} items "
    f"(round {round_id}, at least {rating_round.min_raters} raters per item)"
)
for note in summary.notes:
    st.info(note)
if summary.strengths is None:
    st.stop()

st.subheader("Which variant do people prefer?")
strengths = summary.strengths.assign(
    variant=summary.strengths["variant"].map(labels).fillna(summary.strengths["variant"])
)
st.dataframe(
    strengths[
        [
            "variant",
            "win_rate",
            "win_rate_lo",
            "win_rate_hi",
            "strength",
            "strength_lo",
            "strength_hi",
            "n",
            "wins",
            "ties",
            "losses",
        ]
    ],
    hide_index=True,
    key="strengths",
)
st.caption(
    "Win rate: (wins + ties / 2) / comparisons, 95% Wilson interval. Strength: Bradley-Terry, 95% bootstrap interval."
)
st.plotly_chart(figures.bradley_terry_plot(strengths), key="bt_plot")

st.subheader("Do raters agree with each other?")
st.dataframe(summary.agreement, hide_index=True, key="agreement")
st.caption(
    "Krippendorff's alpha (1 = perfect agreement, 0 = chance, below 0 = systematic disagreement); "
    "Fleiss' kappa over units with the same number of raters."
)

st.subheader("Position bias per rater")
st.dataframe(summary.position, hide_index=True, key="position")
st.caption(
    "Share of A-or-B choices that picked the left answer (A); 0.5 = no bias. Holm-corrected binomial tests."
)

st.subheader("Do the automatic metrics agree with people?")
st.info(sh.JUDGE_NOTE)
if summary.metric_agreement is None:
    st.text("Not enough matched ratings yet.")
else:
    human = st.selectbox(
        "Human judgement", ["correctness", "helpfulness", "preference"], key="human_criterion"
    )
    table = summary.metric_agreement[summary.metric_agreement["human"] == human]
    flagged = table.loc[table["disagrees"], "metric"].tolist()
    st.dataframe(table.drop(columns=["human"]), hide_index=True, key="metric_agreement")
    if flagged:
        st.warning(
            "Not shown to agree with people (no significant positive rank correlation with "
            f"the human {human} scores): " + ", ".join(flagged)
        )
    st.caption(
        "Spearman's rho of each metric against the human score; Cohen's kappa of pass/fail verdicts."
    )

with st.expander("All ratings (newest first)"):
    shown = ratings.sort_values("time", ascending=False)
    shown = shown.assign(
        variant=shown["variant"].map(labels).fillna(shown["variant"]),
        time=shown["time"].dt.strftime("%Y-%m-%d %H:%M:%S UTC"),
    )
    st.dataframe(shown, hide_index=True, key="all_ratings")
