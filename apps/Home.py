"""The workbench app: sign in, then Leaderboard, Compare, Rate and Ratings (and, for leads,
the promotion Queue and Audit pages when they exist).

    make app      # http://127.0.0.1:8501, the same MLflow store as the CLI
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # `streamlit run` adds it; AppTest and other runners may not
    sys.path.insert(0, str(HERE))

import _shared  # noqa: E402

st.set_page_config(page_title="workbench", layout="wide")

LEAD_PAGES = (("pages/queue.py", "Promotion queue"), ("pages/audit.py", "Audit log"))

user = _shared.current_user()
if user is None:
    navigation = st.navigation([st.Page(_shared.sign_in_page, title="Sign in", url_path="signin")])
else:
    rater = user.role == "rater"
    sections: dict[str, list] = {
        "Evaluate": [
            st.Page("pages/leaderboard.py", title="Leaderboard", default=not rater),
            st.Page("pages/compare.py", title="Compare"),
        ],
        "Human ratings": [
            st.Page("pages/rate.py", title="Rate", default=rater),
            st.Page("pages/ratings.py", title="Ratings"),
        ],
    }
    if user.role == "lead":
        lead = [st.Page(path, title=title) for path, title in LEAD_PAGES if (HERE / path).is_file()]
        if lead:
            sections["Promotion"] = lead
    navigation = st.navigation(sections)
navigation.run()  # every page calls _shared.page_header(): title, identity, sign-out, roles
