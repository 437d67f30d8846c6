"""Compare: answers of 2+ variants side by side, per sample, with filters and a word diff.

Only the chosen variants' per-sample tables are loaded, and one page of samples is drawn
at a time, so a 20-variant x 1000-sample run opens as fast as a small one.
"""

from __future__ import annotations

import math

import _shared as sh
import streamlit as st

sh.page_header("Compare answers")
loaded = sh.pick_run("compare")
if loaded is None:
    st.stop()
labels = sh.variant_labels(loaded)
ids = list(labels)
variants = st.multiselect(
    "Variants (2 or more)", ids, default=ids[:2], format_func=labels.get, key="compare_variants"
)
if len(variants) < 2:
    st.info("Pick at least two variants.")
    st.stop()
samples = sh.samples_with_progress(loaded, variants)
metric_names = [m.name for m in loaded.metrics]

with st.expander("Filters", expanded=True):
    c1, c2, c3 = st.columns(3)
    only_disagree = c1.checkbox("Only disagreements on pass/fail", key="only_disagree")
    only_fail = c1.checkbox("Only failures", key="only_fail")
    categories = sorted(str(c) for c in samples["category"].dropna().unique())
    chosen_categories = c2.multiselect("Category", categories, key="categories")
    metric = c3.selectbox("Metric range on", ["(none)", *metric_names], key="range_metric")
    metric_range = None
    if metric != "(none)":
        values = samples[metric].dropna()
        lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
        metric_range = c3.slider("Range (any chosen variant)", lo, hi, (lo, hi), key="range_values")

shown = sh.filter_samples(
    samples,
    variants,
    only_disagreements=only_disagree,
    only_failures=only_fail,
    categories=chosen_categories,
    metric=None if metric == "(none)" else metric,
    metric_range=metric_range,
)
total = samples["sample_id"].nunique()
st.text(f"{len(shown)} of {total} samples match the filters")
if not shown:
    st.stop()

p1, p2 = st.columns([1, 3])
page_size = p1.selectbox("Samples per page", [5, 10, 20, 50], index=2, key="page_size")
pages = max(1, math.ceil(len(shown) / page_size))
page = st.pagination(pages, key="page") if pages > 1 else 1
diff_base = p2.selectbox(
    "Word diff: compare every answer with", variants, format_func=labels.get, key="diff_base"
)
rows = samples.set_index(["sample_id", "variant_id"]).sort_index()

for sample_id in shown[(page - 1) * page_size : page * page_size]:
    base = rows.loc[(sample_id, variants[0])]
    with st.container(border=True, key=f"sample_{sample_id}"):
        st.text(f"Sample {sample_id} · category {base.get('category', '-')}")
        st.text("Question:")
        sh.show_text(base["question"])
        with st.expander("Reference answer"):
            sh.show_text(base["reference"])
        for column, vid in zip(st.columns(len(variants)), variants, strict=True):
            row = rows.loc[(sample_id, vid)] if (sample_id, vid) in rows.index else None
            with column:
                st.text(labels[vid])
                if row is None:
                    st.text("(no answer for this sample)")
                    continue
                sh.show_text(row["answer"])
                if isinstance(row.get("error"), str) and row["error"]:
                    st.text(f"error: {row['error']}")
                scores = sh.score_table(row, metric_names)
                st.text(
                    "\n".join(
                        f"{n}: {'n/a' if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 4)}"
                        for n, v in zip(scores["score"], scores["value"], strict=True)
                    )
                )
                contexts = sh.as_list(row.get("contexts"))
                doc_ids = sh.as_list(row.get("retrieved_doc_ids"))
                with st.expander(f"Retrieved contexts ({len(contexts)})"):
                    for n, context in enumerate(contexts):
                        st.text(f"[{n + 1}] {doc_ids[n] if n < len(doc_ids) else ''}")
                        sh.show_text(context)
                trace_id = row.get("trace_id")
                if isinstance(trace_id, str) and trace_id:
                    st.link_button(
                        "Trace in MLflow",
                        sh.trace_url(loaded.experiment_id, trace_id),
                        key=f"trace_{sample_id}_{vid}",
                    )
                st.link_button(
                    "Run in MLflow",
                    sh.run_url(
                        loaded.experiment_id, loaded.variant_run_ids.get(vid, loaded.run_id)
                    ),
                    key=f"run_{sample_id}_{vid}",
                )
        base_row = (
            rows.loc[(sample_id, diff_base)] if (sample_id, diff_base) in rows.index else None
        )
        if base_row is not None:
            with st.expander("Word-level differences"):
                for vid in variants:
                    if vid == diff_base or (sample_id, vid) not in rows.index:
                        continue
                    st.text(f"{labels[diff_base]}  ->  {labels[vid]}")
                    st.html(
                        sh.diff_html(
                            str(base_row["answer"] or ""),
                            str(rows.loc[(sample_id, vid)]["answer"] or ""),
                        )
                    )
