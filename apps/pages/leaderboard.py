"""Leaderboard: CIs, release-gate verdicts, Pareto front, forest plot against a baseline."""

from __future__ import annotations

import _shared as sh
import pandas as pd
import streamlit as st

from workbench import analysis
from workbench.analysis import figures
from workbench.errors import WorkbenchError

sh.page_header("Leaderboard")
loaded = sh.pick_run("leaderboard")
if loaded is None:
    st.stop()
board = loaded.board
uri = loaded.tracking_uri
st.link_button("Open this run in MLflow", sh.run_url(loaded.experiment_id, loaded.run_id))


@st.cache_data(max_entries=32, show_spinner=False)
def gate_table(run_id: str, uri: str) -> pd.DataFrame | str:
    """One row per variant: the verdict under the run's own gate policy (or why there is none)."""
    from workbench.pipeline import gate

    try:
        report = gate(run_id, tracking_uri=uri, record=False)
    except WorkbenchError as exc:
        return str(exc)
    return pd.DataFrame(
        {
            "variant_id": [d.variant_id for d in report.decisions],
            "gate": ["pass" if d.passed else "fail" for d in report.decisions],
            "failed rules": [
                ", ".join(r.rule for r in d.failed_rules) or "-" for d in report.decisions
            ],
            "policy": [f"{d.policy} v{d.policy_version}" for d in report.decisions],
        }
    )


@st.cache_data(max_entries=32, show_spinner=False)
def comparison(run_id: str, variants: tuple[str, ...], baseline: str, uri: str) -> pd.DataFrame:
    loaded = sh.load_run(run_id, uri)
    samples = sh.load_samples(run_id, (baseline, *variants), uri)
    return analysis.compare_grid(samples, loaded.metrics, baseline=baseline)


table = pd.DataFrame({"variant": board["variant"], "n": board["n"]})
table["pass rate (95% CI)"] = [
    sh.fmt_ci(v, lo, hi)
    for v, lo, hi in zip(
        board["pass_rate"], board["pass_rate_lo"], board["pass_rate_hi"], strict=True
    )
]
for info in loaded.metrics:
    if info.name in board.columns and f"{info.name}_lo" in board.columns:
        table[f"{info.name} (95% CI)"] = [
            sh.fmt_ci(v, lo, hi)
            for v, lo, hi in zip(
                board[info.name], board[f"{info.name}_lo"], board[f"{info.name}_hi"], strict=True
            )
        ]
for column in ("error_rate", "cost_per_success", "latency_p50", "latency_p95"):
    if column in board.columns:
        table[column] = board[column]
gates = gate_table(loaded.run_id, uri)
if isinstance(gates, pd.DataFrame):
    by_id = gates.set_index("variant_id")
    table.insert(1, "gate", board["variant_id"].map(by_id["gate"]).to_numpy())
    table.insert(2, "failed rules", board["variant_id"].map(by_id["failed rules"]).to_numpy())
table["variant_id"] = board["variant_id"]
st.subheader(f"{loaded.experiment}: {len(board)} variants")
st.dataframe(table, hide_index=True, key="board_table")
if isinstance(gates, str):
    st.info(f"No gate verdicts: {gates}")
else:
    st.caption(
        f"Release gates: policy {gates['policy'].iloc[0]} · {int((gates['gate'] == 'pass').sum())} of {len(gates)} variants pass"
    )

st.subheader("Quality against cost")
st.plotly_chart(figures.pareto_scatter(board), key="pareto")

st.subheader("Against a baseline")
labels = sh.variant_labels(loaded)
ids = list(labels)
baseline = st.selectbox("Baseline", ids, format_func=labels.get, key="baseline")
others = [v for v in ids if v != baseline]
chosen = st.multiselect(
    "Variants to compare with it",
    others,
    default=others[:3],
    format_func=labels.get,
    key="forest_variants",
)
metric_names = ["pass_rate", *[m.name for m in loaded.metrics if m.name != "pass_rate"]]
metric = st.selectbox("Metric", metric_names, key="forest_metric")
if chosen:
    with st.spinner("Paired comparisons (bootstrap CIs, Holm-corrected)"):
        grid = comparison(loaded.run_id, tuple(chosen), baseline, uri)
    rows = grid[grid["metric"] == metric]
    if rows.empty:
        st.info(f"No comparison for {metric}.")
    else:
        st.plotly_chart(figures.forest_plot(grid, metric), key="forest")
        st.dataframe(
            rows[["b_label", "diff", "diff_lo", "diff_hi", "p_holm", "verdict", "n_needed"]].rename(
                columns={"b_label": "variant"}
            ),
            hide_index=True,
            key="forest_table",
        )
