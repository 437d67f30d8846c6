"""Alias integrity: do the ``champion`` alias and the prompts' ``production`` aliases point
where the last audited decision left them?

Anyone with edit rights in the MLflow UI (or its REST API) can move an alias directly;
MLflow keeps no history of it. The audit log does: the last ``ok`` approve, rollback or
reconcile names the champion after it (a rejection, allowed while inconsistent, does
not), and every prompt alias move a decision made is in its ``prompt`` field
(``name@production: before -> after``). A prompt no decision moved is expected where the
champion's bundle pins it. Each mismatch is an
:class:`AliasAlarm`; while there is one, approve, rollback and propose refuse
(:func:`refuse_if_inconsistent`) until a lead reconciles (:mod:`._reconcile`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from workbench.errors import PromotionError, WorkbenchError
from workbench.promotion import _audit
from workbench.promotion._intent import INTENT_TAG
from workbench.tracking import ensure_store, registry

DECISIONS = ("approve", "rollback", "reconcile")
"""Audited actions whose ``ok`` record states where the champion is."""
ALARM_ACTION = "integrity"
_MOVE = re.compile(r"^(?P<name>.+)@production: (?P<before>\S+) -> (?P<after>\S+)$")


class IntegrityAlarm(PromotionError):
    """The aliases disagree with the audit log; ``integrity`` holds the details."""

    def __init__(self, integrity: Integrity):
        self.integrity = integrity
        super().__init__(
            integrity.message(),
            hint=f"a lead reconciles: workbench reconcile {integrity.experiment} "
            '--adopt (keep the aliases where they are) or --revert (move them back) --reason "..."',
        )


@dataclass(frozen=True)
class AliasAlarm:
    """One alias that is not where the audit log says it should be (None: not set)."""

    alias: str
    """``<model>@champion`` or ``<prompt>@production``."""
    actual: str | None
    expected: str | None

    @property
    def is_champion(self) -> bool:
        return self.alias.endswith(f"@{registry.CHAMPION}")

    def text(self) -> str:
        def version(v: str | None) -> str:
            return "nothing (not set)" if v is None else f"version {v}"

        return (
            f"{self.alias} points at {version(self.actual)}, "
            f"the audit expects {version(self.expected)}"
        )


@dataclass(frozen=True)
class Integrity:
    """Both aliases of an experiment against its last audited decision."""

    experiment: str
    expected_champion: str | None
    actual_champion: str | None
    expected_prompts: dict[str, str | None]
    """Prompt name -> the version its ``production`` alias should point at."""
    actual_prompts: dict[str, str | None]
    alarms: tuple[AliasAlarm, ...]
    basis: str | None
    """The audit event the expectation comes from (None: no decision yet)."""
    in_progress: bool = False
    """A decision is moving the aliases right now: not checked."""

    @property
    def consistent(self) -> bool:
        return not self.alarms

    def message(self) -> str:
        if self.in_progress:
            return f"'{self.experiment}': a decision is in progress; aliases not checked"
        if self.consistent:
            return f"'{self.experiment}': the aliases match the audit log"
        alarms = "; ".join(a.text() for a in self.alarms)
        return (
            f"integrity alarm on '{self.experiment}': {alarms} (moved outside the workbench; "
            "approve, rollback and propose refuse until a lead reconciles)"
        )


def parse_moves(text: str | None) -> list[tuple[str, str | None, str | None]]:
    """``(name, before, after)`` per move of an audit record's ``prompt`` field."""
    out: list[tuple[str, str | None, str | None]] = []
    for part in (text or "").split("; "):
        match = _MOVE.match(part.strip())
        if match:
            before, after = match["before"], match["after"]
            out.append(
                (match["name"], None if before == "-" else before, None if after == "-" else after)
            )
    return out


def pinned_prompt(experiment: str, version: str | None, uri: str) -> tuple[str, str] | None:
    """The (prompt name, version) the bundle of ``version`` pins (from its tag)."""
    if version is None:
        return None
    try:
        info = registry.version(experiment, version, uri)
    except Exception:
        return None
    match = re.fullmatch(
        r"prompts:/(?P<name>.+)/(?P<version>\d+)", info.tags.get("workbench.prompt", "")
    )
    return None if match is None else (match["name"], match["version"])


def expected_state(
    experiment: str, records: Sequence[_audit.AuditRecord], uri: str
) -> tuple[str | None, dict[str, str | None], str | None]:
    """(champion, prompt aliases, basis event) as the audit log leaves them."""
    champion: str | None = None
    basis: str | None = None
    prompts: dict[str, str | None] = {}
    for record in records:
        if record.outcome != "ok" or record.action not in DECISIONS:
            continue
        champion, basis = record.champion_after, record.event_id
        for name, _, after in parse_moves(record.prompt):
            prompts[name] = after
    pinned = pinned_prompt(experiment, champion, uri)
    if pinned is not None and pinned[0] not in prompts:
        prompts[pinned[0]] = pinned[1]
    return champion, prompts, basis


def check(
    experiment: str, uri: str, records: Sequence[_audit.AuditRecord] | None = None
) -> Integrity:
    """Compare the aliases with the audit log (read-only)."""
    has_model = registry.registered_model_exists(experiment, uri)
    records = _audit.audit_log(experiment, tracking_uri=uri) if records is None else records
    expected, prompts, basis = expected_state(experiment, records, uri)
    actual = registry.champion(experiment, uri) if has_model else None
    busy = has_model and bool(registry.model_tag(experiment, INTENT_TAG, uri))
    actual_prompts = {
        name: registry.prompt_alias(name, registry.PRODUCTION, uri) for name in prompts
    }
    alarms: list[AliasAlarm] = []
    if not busy:
        if actual != expected:
            alarms.append(AliasAlarm(f"{experiment}@{registry.CHAMPION}", actual, expected))
        for name, want in prompts.items():
            if actual_prompts[name] != want:
                alarms.append(
                    AliasAlarm(f"{name}@{registry.PRODUCTION}", actual_prompts[name], want)
                )
    return Integrity(
        experiment=experiment,
        expected_champion=expected,
        actual_champion=actual,
        expected_prompts=prompts,
        actual_prompts=actual_prompts,
        alarms=tuple(alarms),
        basis=basis,
        in_progress=busy,
    )


def record_alarm(state: Integrity, records: Sequence[_audit.AuditRecord], uri: str) -> None:
    """Audit an alarm once: not again while the last alarm since the last decision says
    the same."""
    if state.consistent:
        return
    text = state.message()
    for record in reversed(records):
        if record.action == ALARM_ACTION and record.detail == text:
            return
        if record.outcome == "ok" and record.action in DECISIONS:
            break
    record = _audit.new_record(
        experiment=state.experiment,
        action=ALARM_ACTION,
        outcome="alarm",
        who="workbench",  # noticed by a check, not done by a person
        role="system",
        detail=text,
        version=state.actual_champion,
        previous_champion=state.expected_champion,
        champion_after=state.actual_champion,
        prompt="; ".join(a.text() for a in state.alarms if not a.is_champion) or None,
    )
    _audit.write(record, tracking_uri=uri)


def integrity(
    experiment: str, *, tracking_uri: str | None = None, record: bool = True
) -> Integrity:
    """Compare ``experiment``'s ``champion`` and prompt ``production`` aliases with the last
    audited decision; a mismatch is audited once as an ``integrity`` alarm (``record``)."""
    uri = ensure_store(tracking_uri)
    records = _audit.audit_log(experiment, tracking_uri=uri)
    state = check(experiment, uri, records)
    if record:
        # noticing matters more than recording it: a failed write is retried by the next read
        with contextlib.suppress(Exception):
            record_alarm(state, records, uri)
    return state


def refuse_if_inconsistent(
    experiment: str, uri: str, refuse: Callable[[WorkbenchError], WorkbenchError]
) -> None:
    """While the aliases disagree with the audit log, raise :class:`IntegrityAlarm` through
    ``refuse`` (which audits the refused attempt); the alarm itself is audited once."""
    state = integrity(experiment, tracking_uri=uri)
    if not state.consistent:
        raise refuse(IntegrityAlarm(state))
