"""Audit log: every proposal, approval, rejection and rollback, and every refused or failed
attempt, as stored (append-only) in MLflow. Records whose content no longer matches their
digest are flagged; the hash chain's state (deleted, reordered or rewritten records) and
the aliases against the log (an integrity alarm) are shown above the table."""

from __future__ import annotations

import json

import streamlit as st

from workbench import promotion
from workbench.tracking.read import experiments as store_experiments

user = st.session_state.get("user") or st.session_state.get("wb_user")
if user is None:
    st.error("Please sign in first.")
    st.stop()
st.title("Audit log")
st.text(f"Signed in as {user.label} · role: {user.role}")

names = sorted(set(promotion.experiments_with_candidates()) | set(store_experiments()))
if not names:
    st.info("No experiment in the store yet.")
    st.stop()
experiment = st.selectbox("Experiment", names, key="audit_experiment")

state = promotion.integrity(experiment)
if state.consistent:
    st.text(state.message())
else:
    st.error("Integrity alarm: an alias was moved outside the workbench.")
    st.text(state.message())
report = promotion.verify_chain(experiment)
if report.intact:
    st.success("Audit chain intact")
else:
    st.error("Audit chain broken: records were deleted, reordered or edited")
st.text(report.summary())
if report.problems:
    st.dataframe(
        [
            {"kind": p.kind, "seq": p.seq, "event": p.event_id, "what": p.message}
            for p in report.problems
        ],
        hide_index=True,
        key="audit_chain_problems",
    )
frame = promotion.audit_frame(experiment)
if frame.empty:
    st.text(f"No audit records for {experiment} yet.")
    st.stop()

actions = st.multiselect("Actions", sorted(frame["action"].unique()), key="audit_actions")
outcomes = st.multiselect("Outcomes", sorted(frame["outcome"].unique()), key="audit_outcomes")
shown = frame
if actions:
    shown = shown[shown["action"].isin(actions)]
if outcomes:
    shown = shown[shown["outcome"].isin(outcomes)]
altered = int((~frame["intact"]).sum())
if altered:
    st.error(
        f"{altered} record(s) no longer match their digest: they were changed outside the workbench."
    )
st.text(f"{len(shown)} of {len(frame)} records, newest first")
st.dataframe(shown, hide_index=True, key="audit_table")
lines = "\n".join(json.dumps(row, default=str) for row in frame.to_dict(orient="records"))
st.download_button(
    "Download (JSON lines)", lines, file_name=f"{experiment}-audit.jsonl", key="audit_download"
)
