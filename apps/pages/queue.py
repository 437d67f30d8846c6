"""Promotion queue: pending candidates with their evidence (gates, comparison with the
champion, PM ratings); a lead approves or rejects with a reason, or rolls back.

Every button goes through ``workbench.promotion``, which checks the role itself: anyone
else who presses one is refused there, and the refusal is audited. When an alias was
moved outside the workbench (the MLflow UI), the page shows the integrity alarm and a lead
reconciles here: adopt the move or revert it, one audited step.
"""

from __future__ import annotations

import re

import streamlit as st

from workbench import promotion
from workbench.errors import WorkbenchError

MESSAGE = "wb_queue_message"
COMPARISON_COLUMNS = [
    "metric",
    "mean_a",
    "mean_b",
    "diff",
    "diff_lo",
    "diff_hi",
    "p_holm",
    "verdict",
]


def _plain(text: object) -> str:
    """Text for st.error / st.success (which render Markdown): Markdown characters escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~])", r"\\\1", str(text))


def _user():
    user = st.session_state.get("user") or st.session_state.get("wb_user")
    if user is None:
        st.error("Please sign in first.")
        st.stop()
    return user


def _act(what: str, action) -> None:
    try:
        decision = action()
    except WorkbenchError as exc:
        st.session_state[MESSAGE] = ("error", f"{type(exc).__name__}: {exc}")
    else:
        moved = f"champion {decision.previous_champion or '-'} -> {decision.champion or '-'}"
        st.session_state[MESSAGE] = (
            "success",
            f"{what}: {moved} (audit event {decision.audit_event})",
        )
    st.rerun()


def _evidence_rows(candidate) -> list[dict[str, object]]:
    evidence = candidate.evidence
    gate = evidence.get("gate") or {}
    rows: list[dict[str, object]] = [
        {
            "check": "release gates",
            "result": f"{gate.get('verdict', '?')} ({gate.get('policy', '?')})",
        },
        {
            "check": "champion at proposal",
            "result": f"version {evidence['champion']}"
            if evidence.get("champion")
            else "none (first champion)",
        },
    ]
    if evidence.get("champion"):
        rows.append({"check": "shared samples", "result": str(evidence.get("n_shared"))})
    for label, item in [("primary", evidence.get("primary"))] + [
        ("guard", g) for g in evidence.get("guards", [])
    ]:
        if item:
            rows.append(
                {
                    "check": f"{label}: {item['metric']}",
                    "result": f"{item['verdict']}: diff {item['diff']} [{item['lo']}, {item['hi']}], p Holm {item['p_holm']}",
                }
            )
    for note in evidence.get("notes", []):
        rows.append({"check": "note", "result": note})
    return rows


user = _user()
st.title("Promotion queue")
st.text(f"Signed in as {user.label} · role: {user.role}")
if user.role != "lead":
    st.warning(
        "Only leads can approve, reject or roll back: other roles are refused, and the attempt is audited."
    )

if MESSAGE in st.session_state:
    kind, text = st.session_state.pop(MESSAGE)
    (st.error if kind == "error" else st.success)(_plain(text))

experiments = promotion.experiments_with_candidates()
if not experiments:
    st.info("No candidates yet. A scientist proposes one with: workbench propose EXPERIMENT")
    st.stop()
experiment = st.selectbox("Experiment", experiments, key="queue_experiment")

state = promotion.integrity(experiment)
if not state.consistent:
    st.error(_plain(state.message()))
    with st.expander("Reconcile (leads)", expanded=user.role == "lead"):
        st.text(
            "Adopt keeps the aliases where they were moved; revert moves them back to the "
            "last audited decision. Either is one audited step."
        )
        reconcile_reason = st.text_input("Reason (required)", key="reconcile_reason")
        adopt_col, revert_col = st.columns(2)
        for column, how in ((adopt_col, "adopt"), (revert_col, "revert")):
            if column.button(how.capitalize(), key=f"reconcile_{how}"):
                _act(
                    f"reconciled ({how})",
                    lambda how=how: promotion.reconcile(
                        experiment, how=how, reason=reconcile_reason, user=user
                    ),
                )

st.subheader("In production")
current = promotion.champion(experiment)
if current is None:
    st.text("No champion yet: approving a candidate makes it the champion.")
else:
    st.text(
        f"Version {current.version} · {current.bundle.variant}\n"
        f"since {current.since or '?'} · approved by {current.approved_by or '?'}\n"
        f"prompt {current.bundle.prompt.registry_uri} (alias production)"
    )
    with st.expander("Roll back to the previous champion"):
        rollback_reason = st.text_input("Reason for the rollback (required)", key="rollback_reason")
        if st.button("Roll back", key="rollback"):
            _act(
                "rollback",
                lambda: promotion.rollback(experiment, reason=rollback_reason, user=user),
            )

pending = promotion.queue(experiment)
st.subheader(f"Pending candidates ({len(pending)})")
if not pending:
    st.text("Nothing waits for a decision.")
for candidate in pending:
    v = candidate.version
    with st.container(border=True):
        st.text(f"Version {v} · {candidate.variant}")
        st.text(
            f"proposed by {candidate.proposed_by} at {candidate.proposed_at} · prompt {candidate.prompt}"
        )
        st.dataframe(_evidence_rows(candidate), hide_index=True, key=f"evidence_{v}")
        comparison = candidate.comparison()
        if comparison is not None and len(comparison):
            from workbench.analysis import figures

            st.plotly_chart(figures.forest_plot(comparison), key=f"forest_{v}")
            st.dataframe(comparison[COMPARISON_COLUMNS], hide_index=True, key=f"comparison_{v}")
        try:
            strengths = candidate.rating_summary()
        except Exception:  # ratings are a bonus here: never let them break the queue
            strengths = None
        if strengths is not None and len(strengths):
            st.text("PM ratings of this run (win rate, Bradley-Terry strength):")
            st.dataframe(strengths, hide_index=True, key=f"ratings_{v}")
        reason = st.text_input("Reason (required)", key=f"reason_{v}")
        approve_col, reject_col = st.columns(2)
        if approve_col.button("Approve", key=f"approve_{v}", type="primary"):
            _act(
                f"approved version {v}",
                lambda v=v, r=reason: promotion.approve(
                    v, experiment=experiment, reason=r, user=user
                ),
            )
        if reject_col.button("Reject", key=f"reject_{v}"):
            _act(
                f"rejected version {v}",
                lambda v=v, r=reason: promotion.reject(
                    v, experiment=experiment, reason=r, user=user
                ),
            )
