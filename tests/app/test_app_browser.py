"""The real thing: `streamlit run` on 127.0.0.1, headless Chromium driven by Playwright.
Sign in, rate one item end to end, find the rating in MLflow; injected HTML/JS in answers
and retrieved passages is shown as text and never runs."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.apphelpers import EVIL, HOME, Store, env_for_app
from tests.conftest import require
from tests.servers import free_port, server_process
from workbench.ratings import RatingRound, eligible_samples
from workbench.tracking import feedback as stored
from workbench.tracking.read import load_experiment

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def _streamlit(env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(HOME),
        "--server.headless", "true", "--server.address", "127.0.0.1",
        "--server.port", str(port), "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with server_process(
        command,
        f"{url}/_stcore/health",
        name="streamlit",
        log=log,
        env=env,
        cwd=HOME.parents[1],
        start_timeout=90,
        stop_timeout=15,
    ):
        yield url


def _settle(page) -> None:
    """Wait until the script run triggered by the last action has finished."""
    with contextlib.suppress(Exception):
        page.wait_for_selector("[data-test-script-state=running]", timeout=1500)
    page.wait_for_selector("[data-test-script-state=notRunning]", timeout=90_000)


def _pick(page, group_label: str, option: str) -> None:
    page.get_by_role("radiogroup", name=group_label).get_by_text(option, exact=True).click()


def _texts_with(page, needle: str) -> int:
    """How many st.text elements show ``needle`` as their visible text."""
    return int(
        page.evaluate(
            "needle => [...document.querySelectorAll('[data-testid=stText]')]"
            ".filter(e => e.innerText.includes(needle)).length",
            needle,
        )
    )


def _no_injection(page, dialogs: list[str]) -> None:
    assert dialogs == [], f"a script ran: {dialogs}"
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("img[onerror]").count() == 0
    assert page.locator('a[href^="javascript:"]').count() == 0
    assert page.locator('img[src*="pixel.png"]').count() == 0


def test_rate_one_item_in_a_real_browser(store: Store, users: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    require(CHROMIUM.exists(), "Chromium is not installed (make system-deps)")
    loaded = load_experiment(store.run_id)
    evil = [v for v, label in store.labels.items() if "evil" in label][:2]
    rnd = stored.save_round(
        RatingRound.create(
            experiment=loaded.experiment,
            experiment_id=loaded.experiment_id,
            run_id=loaded.run_id,
            variants=evil,
            sample_ids=eligible_samples(loaded.samples(evil), evil),
        )
    )
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    with (
        _streamlit(env_for_app(uri, users), tmp_path / "streamlit.log") as url,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(url)
            _settle(page)
            page.get_by_label("User name").fill("alice")
            page.get_by_label("Password", exact=True).fill("demo")
            page.get_by_role("button", name="Sign in").click()
            _settle(page)
            page.get_by_text("Your queue: 0 of 6 rated").wait_for(timeout=60_000)
            assert page.get_by_text("Signed in as alice (rater)").count() == 1
            # the payload in both answers is visible as text, and inert
            assert _texts_with(page, '<script>alert("xss1")</script>') == 2  # answers A and B
            _no_injection(page, dialogs)
            for criterion in ("Correctness", "Helpfulness"):
                _pick(page, f"{criterion} of answer A (1 = poor, 5 = excellent)", "4")
                _pick(page, f"{criterion} of answer B (1 = poor, 5 = excellent)", "2")
            _pick(page, "Which answer is better?", "A is better")
            page.get_by_label("Comment (optional)").fill("A is clearer")
            page.get_by_role("button", name="Submit rating").click()
            _settle(page)
            page.get_by_text("Rating saved.").wait_for(timeout=60_000)
            page.get_by_text("Your queue: 1 of 6 rated").wait_for(timeout=30_000)
            page.screenshot(path=str(tmp_path / "rate.png"), full_page=True)
            _no_injection(page, dialogs)

            page.get_by_role("link", name="Compare").click()  # same session (a new load signs out)
            _settle(page)
            page.get_by_text("samples match the filters", exact=False).wait_for(timeout=60_000)
            assert _texts_with(page, '<script>alert("xss1")</script>') >= 1  # retrieved passage
            assert "&lt;script&gt;alert(" in page.content()  # in the DOM as escaped text
            page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
            _no_injection(page, dialogs)
        except BaseException:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()

    frame = stored.load_ratings(rnd.run_id, round_id=rnd.round_id)
    assert len(frame) == 2 and set(frame["rater"]) == {"alice"}
    sides = frame.set_index("side")
    assert sides.loc["left", "outcome"] == "win" and sides.loc["right", "outcome"] == "loss"
    assert sides.loc["left", "correctness"] == 4 and sides.loc["right", "helpfulness"] == 2
    assert sides.loc["left", "comment"] == "A is clearer"
    assert (tmp_path / "rate.png").stat().st_size > 10_000
    assert EVIL  # the payload the store was built with
