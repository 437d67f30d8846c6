"""What every page shares: who is signed in, the store, cached loads, and safe text.

Pages call workbench's public functions only (``workbench.tracking.read``,
``workbench.tracking.feedback``, ``workbench.analysis``, ``workbench.gates``), never a
model or mlflow. Text from runs (questions, answers, retrieved passages, comments) is
untrusted: it is shown with ``st.text`` (no Markdown, no HTML) or, for diffs, escaped
before it becomes HTML. Never pass it to ``st.markdown``, a label or a caption.
"""

from __future__ import annotations

import difflib
import html
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import streamlit as st

from workbench import users
from workbench.tracking import resolve_uri

if TYPE_CHECKING:
    import pandas as pd

    from workbench.tracking.read import LoadedRun

USER_KEY = "wb_user"
SELECTED_RUN = "wb_selected_run"
SELECTED_EXPERIMENT = "wb_selected_experiment"
DEFAULT_MLFLOW_UI = "http://127.0.0.1:5000"
JUDGE_NOTE = (
    "The local models are tiny (135M-270M parameters): LLM-judged metrics computed with "
    "them (faithfulness, answer relevancy, LLM context precision) are only a check of the "
    "plumbing, and their judgements carry little meaning. Compare people with the non-LLM "
    "and embedding metrics unless a capable judge endpoint is configured."
)


# --------------------------------------------------------------------------- settings


def tracking_uri() -> str:
    """The same store as the CLI: ``$MLFLOW_TRACKING_URI`` or the project's ``mlruns/``."""
    return resolve_uri()


def _app_settings() -> dict[str, Any]:
    path = users.config_path()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError:
        return {}
    app = data.get("app")
    return app if isinstance(app, dict) else {}


def mlflow_ui_url() -> str:
    """Base URL of the MLflow UI: ``$WORKBENCH_MLFLOW_UI``, ``[app] mlflow_ui`` in
    ``workbench.toml``, else http://127.0.0.1:5000."""
    url = os.environ.get("WORKBENCH_MLFLOW_UI") or _app_settings().get("mlflow_ui") or ""
    url = str(url).strip().rstrip("/")
    return url if re.match(r"^https?://", url) else DEFAULT_MLFLOW_UI


def run_url(experiment_id: str, run_id: str) -> str:
    return f"{mlflow_ui_url()}/#/experiments/{experiment_id}/runs/{run_id}"


def trace_url(experiment_id: str, trace_id: str) -> str:
    return (
        f"{mlflow_ui_url()}/#/experiments/{experiment_id}/traces"
        f"?selectedEvaluationId={trace_id}&traceId={trace_id}"
    )


# --------------------------------------------------------------------------- identity


def oidc_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section (use ``st.login``)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def current_user() -> users.User | None:
    user = st.session_state.get(USER_KEY)
    if user is None and oidc_configured() and st.user.get("is_logged_in"):
        user = _oidc_user()
        st.session_state[USER_KEY] = user
    return user if isinstance(user, users.User) else None


def _oidc_user() -> users.User:
    """The OIDC identity as a configured user: ``alice@<domain>`` is user ``alice`` when
    ``[app] oidc_email_domain = "<domain>"`` in workbench.toml; anyone else may rate but
    nothing more (role ``rater``)."""
    email = str(st.user.get("email") or "").strip().lower()
    name = str(st.user.get("name") or email or "unknown")
    domain = str(_app_settings().get("oidc_email_domain") or "").strip().lower().lstrip("@")
    local, _, email_domain = email.partition("@")
    if domain and email_domain == domain and st.user.get("email_verified", True):
        known = users.load_users().get(local)
        if known is not None:
            return known
    return users.User(name=email or name, role="rater", display_name=name)


def sign_in_page() -> None:
    """The only page before sign-in: OIDC when configured, else the local form."""
    st.title("Sign in to the workbench")
    if oidc_configured():
        st.write("Sign in with your organisation's account.")
        if st.button("Sign in", key="oidc_login", type="primary"):
            try:
                st.login()
            except Exception as exc:  # e.g. Authlib missing
                st.error(f"Single sign-on is configured but failed: {exc}")
        return
    with st.form("signin"):
        name = st.text_input("User name", key="signin_name")
        password = st.text_input("Password", type="password", key="signin_password")
        submitted = st.form_submit_button("Sign in", type="primary", key="signin_submit")
    if submitted:
        user = users.authenticate(name.strip(), password)
        if user is None:
            st.error("Unknown user or wrong password.")
        else:
            st.session_state[USER_KEY] = user
            st.rerun()
    st.caption("Users and roles live in workbench.toml (passwords are stored as scrypt hashes).")


def sign_out() -> None:
    st.session_state.pop(USER_KEY, None)
    if oidc_configured() and st.user.get("is_logged_in"):
        st.logout()


def sidebar_identity(user: users.User) -> None:
    with st.sidebar:
        st.text(f"Signed in as {user.label} ({user.role})")
        if st.button("Sign out", key="sign_out"):
            sign_out()
            st.rerun()


def page_header(title: str, *, roles: Sequence[str] | None = None) -> users.User:
    """Title, who is signed in; stops the page when the user's role may not see it."""
    user = current_user()
    if user is None:  # signed out on another page, or a stale link: sign in right here
        sign_in_page()
        st.stop()
    sidebar_identity(user)  # drawn by the page: AppTest drops main-script elements on reruns
    st.title(title)
    st.caption(f"Signed in as {user.label} · role: {user.role}")
    if roles is not None and user.role not in roles:
        st.error(f"This page is for {', '.join(roles)} only; your role is {user.role}.")
        st.stop()
    return user


# --------------------------------------------------------------------------- loading


@st.cache_data(ttl=20, show_spinner=False)
def experiment_names(uri: str) -> list[str]:
    from workbench.tracking.read import experiments

    return experiments(uri)


@st.cache_data(ttl=20, show_spinner=False)
def run_choices(experiment: str, uri: str) -> list[tuple[str, str]]:
    """(run id, label) of the experiment's completed runs, newest first."""
    import datetime as dt

    from workbench.tracking.read import parent_runs

    out = []
    for run in parent_runs(experiment, uri):
        when = dt.datetime.fromtimestamp(run.info.start_time / 1000).strftime("%Y-%m-%d %H:%M")
        n = run.data.params.get("variants", "?")
        out.append((run.info.run_id, f"{when} · {n} variants · {run.info.run_id[:8]}"))
    return out


@st.cache_data(max_entries=32, show_spinner=False)
def load_run(run_id: str, uri: str) -> LoadedRun:
    """The run's leaderboard, metrics and variant runs (not the per-sample tables)."""
    from workbench.tracking.read import load_experiment

    return load_experiment(run_id, tracking_uri=uri)


@st.cache_data(max_entries=64, show_spinner=False)
def load_samples(run_id: str, variants: tuple[str, ...], uri: str) -> pd.DataFrame:
    """Per-sample rows of the given variants only (one table per variant)."""
    return load_run(run_id, uri).samples(list(variants))


def samples_with_progress(loaded: LoadedRun, variants: Sequence[str]) -> pd.DataFrame:
    """Load the variants' tables one by one (cached each), with a progress bar."""
    import pandas as pd

    ids = list(dict.fromkeys(variants))
    if len(ids) <= 2:
        return load_samples(loaded.run_id, tuple(ids), loaded.tracking_uri)
    bar = st.progress(0.0, text="Loading answers")
    frames = []
    for n, vid in enumerate(ids, 1):
        frames.append(load_samples(loaded.run_id, (vid,), loaded.tracking_uri))
        bar.progress(n / len(ids), text=f"Loading answers: {n} of {len(ids)} variants")
    bar.empty()
    return pd.concat(frames, ignore_index=True)


def pick_run(key: str = "run") -> LoadedRun | None:
    """Experiment and run pickers (the choice follows the user from page to page)."""
    uri = tracking_uri()
    names = experiment_names(uri)
    if not names:
        st.info(
            "No experiment in the store yet. Run one: `workbench run experiments/quickstart.yaml`."
        )
        return None
    remembered = st.session_state.get(SELECTED_EXPERIMENT)
    experiment = st.selectbox(
        "Experiment",
        names,
        index=names.index(remembered) if remembered in names else 0,
        key=f"{key}_experiment",
    )
    st.session_state[SELECTED_EXPERIMENT] = experiment
    runs = run_choices(experiment, uri)
    if not runs:
        st.info(f"Experiment {experiment} has no completed run yet.")
        return None
    ids = [r for r, _ in runs]
    labels = dict(runs)
    remembered_run = st.session_state.get(SELECTED_RUN)
    run_id = st.selectbox(
        "Run",
        ids,
        index=ids.index(remembered_run) if remembered_run in ids else 0,
        format_func=labels.get,
        key=f"{key}_run",
    )
    st.session_state[SELECTED_RUN] = run_id
    return load_run(run_id, uri)


def variant_labels(loaded: LoadedRun) -> dict[str, str]:
    return dict(
        zip(
            loaded.board["variant_id"].astype(str), loaded.board["variant"].astype(str), strict=True
        )
    )


# --------------------------------------------------------------------------- safe text


def show_text(text: Any, *, empty: str = "(empty)") -> None:
    """Untrusted text shown as-is: no Markdown, no HTML."""
    value = "" if text is None or (isinstance(text, float) and text != text) else str(text)
    st.text(value if value.strip() else empty)


@dataclass(frozen=True)
class DiffPart:
    op: str  # "equal" | "delete" | "insert"
    text: str


def word_diff(a: str, b: str) -> list[DiffPart]:
    """Word-level difference from ``a`` to ``b`` (whitespace kept), via difflib."""
    ta = re.findall(r"\s+|[^\s]+", a or "")
    tb = re.findall(r"\s+|[^\s]+", b or "")
    parts: list[DiffPart] = []
    matcher = difflib.SequenceMatcher(a=ta, b=tb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(DiffPart("equal", "".join(ta[i1:i2])))
            continue
        if op in ("delete", "replace"):
            parts.append(DiffPart("delete", "".join(ta[i1:i2])))
        if op in ("insert", "replace"):
            parts.append(DiffPart("insert", "".join(tb[j1:j2])))
    return parts


def diff_html(a: str, b: str) -> str:
    """The word diff as HTML; every piece of text is escaped before it is wrapped."""
    style = {
        "delete": "background:#fdd;color:#900;text-decoration:line-through",
        "insert": "background:#dfd;color:#060",
    }
    out = []
    for part in word_diff(a, b):
        text = html.escape(part.text, quote=True).replace("\n", "<br>")
        if part.op == "equal":
            out.append(text)
        else:
            tag = "del" if part.op == "delete" else "ins"
            out.append(f'<{tag} style="{style[part.op]}">{text}</{tag}>')
    return (
        '<div class="wb-diff" style="white-space:pre-wrap;font-family:sans-serif;'
        'line-height:1.5">' + "".join(out) + "</div>"
    )


def fmt_ci(value: float, lo: float, hi: float, digits: int = 3) -> str:
    if value != value:  # NaN
        return "n/a"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


# --------------------------------------------------------------------------- compare


def filter_samples(
    samples: pd.DataFrame,
    variants: Sequence[str],
    *,
    only_disagreements: bool = False,
    only_failures: bool = False,
    categories: Sequence[str] = (),
    metric: str | None = None,
    metric_range: tuple[float, float] | None = None,
) -> list[str]:
    """Sample ids (in sample order) that pass every filter, over the given variants:
    pass/fail differs between them; at least one failed; in one of ``categories``; at
    least one variant's ``metric`` inside ``metric_range``."""
    import pandas as pd

    rows = samples[samples["variant_id"].isin(list(variants))]
    passed = rows.pivot_table(
        index="sample_id", columns="variant_id", values="passed", aggfunc="first"
    )
    keep = pd.Series(True, index=passed.index)
    if only_disagreements:
        keep &= passed.nunique(axis=1, dropna=False) > 1
    if only_failures:
        keep &= (passed.fillna(0.0) < 1.0).any(axis=1)
    if categories:
        category = rows.drop_duplicates("sample_id").set_index("sample_id")["category"]
        keep &= category.reindex(passed.index).isin(list(categories))
    if metric and metric_range is not None and metric in rows.columns:
        values = rows.pivot_table(
            index="sample_id", columns="variant_id", values=metric, aggfunc="first"
        )
        values = values.reindex(passed.index)
        lo, hi = metric_range
        keep &= ((values >= lo) & (values <= hi)).any(axis=1)
    wanted = set(keep[keep].index)
    return [s for s in pd.unique(rows["sample_id"]) if s in wanted]


def score_table(row: pd.Series, metric_names: Sequence[str]) -> pd.DataFrame:
    """The answer's scores (NaN = not applicable or could not score) as a small table."""
    import pandas as pd

    names = ["passed", *[m for m in metric_names if m in row.index], "latency_s", "cost_usd"]
    return pd.DataFrame({"score": names, "value": [row.get(n) for n in names]})


def as_list(value: Any) -> list[Any]:
    """A list cell of a samples table (None/NaN -> [])."""
    if isinstance(value, list | tuple):
        return list(value)
    if value is None or isinstance(value, float | str):
        return []
    try:
        return list(value)
    except TypeError:
        return []
