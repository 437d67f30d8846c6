"""Item 8 at the reliability level: authorization on every surface and atomic promotion when
the process *dies* (SIGKILL) between the two alias moves, not only when a step raises
(tests/promotion covers the raised failure, the undo and its audit record).

The kill comes from the test harness: the subprocess replaces
``registry.set_prompt_alias`` with a function that SIGKILLs its own process, so the
champion alias has moved and the prompt alias has not when the process disappears.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

import tests.promotion.conftest as promo
from tests.conftest import write_spec
from tests.reliability import harness as h
from workbench import promotion
from workbench.errors import PermissionDenied
from workbench.users import set_user

pytestmark = pytest.mark.reliability

APPROVE_AND_DIE = """\
import os, signal
import workbench.testing  # the scripted provider the bundles name
from workbench import promotion
from workbench.tracking import registry
from workbench.users import User

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

registry.set_prompt_alias = die
promotion.approve("2", experiment="promo", reason="ship it", user=User("lee", "lead"))
"""


@pytest.fixture
def challenger(acme_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Champion v1 (qa_terse, base); v2 (qa_grounded, better) pending: approving v2 moves
    the model alias and two prompt aliases."""
    import workbench.testing as wt
    from workbench.pipeline import run

    roles = tmp_path / "workbench.toml"
    roles.write_text("[tracking]\n", encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_CONFIG", str(roles))
    monkeypatch.setenv("WORKBENCH_USER", "sam")
    for user in (promo.LEAD, promo.SCIENTIST, promo.RATER):
        set_user(user.name, user.role, f"pw-{user.name}", roles)
    wt.script("base", promo._answer(0.0, 1))
    wt.script("better", promo._answer(0.3, 1))
    text = promo.SPEC.format(
        sample=24,  # the guards need 20 pairs to show non-inferiority
        prompts="qa_terse@1, qa_grounded@1",
        models="scripted:base, scripted:better",
        retrievers="none",
    )
    result = run(write_spec(acme_dir, text))
    first = promotion.propose(result, variant="qa_terse@1 · base · none", user=promo.SCIENTIST)
    promotion.approve(first.version, experiment="promo", reason="first", user=promo.LEAD)
    second = promotion.propose(
        result, variant="qa_grounded@1 · better · none", user=promo.SCIENTIST
    )
    assert second.version == "2"
    return result


def _aliases(tmp_path: Path) -> tuple[str | None, str | None, str | None]:
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    def get(fn, *args):  # type: ignore[no-untyped-def]
        try:
            return str(fn(*args).version)
        except Exception:
            return None

    return (
        get(client.get_model_version_by_alias, "promo", "champion"),
        get(client.get_prompt_version_by_alias, "promo.qa_terse", "production"),
        get(client.get_prompt_version_by_alias, "promo.qa_grounded", "production"),
    )


def test_non_leads_are_refused_on_every_surface_and_audited(challenger, tmp_path: Path) -> None:
    """Python API and CLI, as a rater and as a scientist: approve, reject, rollback."""
    before = _aliases(tmp_path)
    refused = 0
    for user in (promo.RATER, promo.SCIENTIST):
        for action, call in (
            ("approve", lambda u: promotion.approve("2", experiment="promo", reason="r", user=u)),
            ("reject", lambda u: promotion.reject("2", experiment="promo", reason="r", user=u)),
            ("rollback", lambda u: promotion.rollback("promo", reason="r", user=u)),
        ):
            with pytest.raises(PermissionDenied):
                call(user)
            refused += 1
            env = {**os.environ, "WORKBENCH_USER": user.name}
            args = {
                "approve": ["approve", "2", "--experiment", "promo"],
                "reject": ["reject", "2", "--experiment", "promo"],
                "rollback": ["rollback", "promo"],
            }[action]
            code, _out, err = h.run_cli([*args, "--reason", "r"], env, tmp_path, action)
            assert code == 2 and err.startswith("error:") and "Traceback" not in err, (action, err)
            refused += 1
    assert _aliases(tmp_path) == before
    denied = [r for r in promotion.audit_log("promo") if r.outcome == "refused"]
    assert len(denied) == refused, [
        (r.action, r.who, r.outcome) for r in promotion.audit_log("promo")
    ]


def _approve_and_die(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", APPROVE_AND_DIE],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(h.ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def test_sigkill_between_the_alias_moves_is_undone_and_audited_by_the_next_operation(
    challenger, tmp_path: Path
) -> None:
    """The dying process leaves its intent on the registered model; the next promotion
    operation (here a plain read of the champion) restores both aliases and audits it."""
    before = _aliases(tmp_path)
    assert before == ("1", "1", None)
    _approve_and_die(tmp_path)
    half = _aliases(tmp_path)
    assert half[0] == "2", half  # the kill really came between the two moves
    assert promotion.champion("promo").version == "1"
    after = _aliases(tmp_path)
    records = promotion.audit_log("promo")
    assert after == before, f"after recovery: {after} (before: {before})"
    last = records[-1]
    assert last.outcome == "failed" and "interrupted" in (last.detail or ""), last
    assert promotion.recover("promo") is None  # nothing left to repair


def test_after_a_sigkill_between_the_moves_approving_again_ends_consistent(
    challenger, tmp_path: Path
) -> None:
    """Whatever the kill left, the lead's next attempt must end with the champion and its
    prompt's production alias agreeing (and audited)."""
    _approve_and_die(tmp_path)
    killed = _aliases(tmp_path)
    try:
        promotion.approve("2", experiment="promo", reason="again", user=promo.LEAD)
    except Exception as exc:  # a refusal is fine if it names the half-done state
        pytest.fail(f"after the kill {killed}, approving again failed: {exc}")
    assert _aliases(tmp_path) == ("2", None, "1"), (killed, _aliases(tmp_path))
    assert [r.outcome for r in promotion.audit_log("promo")][-1] == "ok"
