"""Verifying the audit log's hash chain: which records were deleted, reordered or edited.

Each chained record carries its ``seq`` and the digest of the record before it, and the
experiment keeps the chain's head (:data:`workbench.tracking.registry.HEAD_TAG`). A record
edited in place no longer matches its own digest; one rewritten with a fresh digest breaks
the link of the record after it; a deleted one leaves a gap in ``seq`` (or, at the end, a
head that points past the log); records whose stored order disagrees with their ``seq``
were reordered. Records written before the chain existed have no ``seq``: the chain starts
at the first record that has one, and the ones before it are only checked against their
own digest.

What it cannot catch: someone who rewrites every record from the first edit on *and*
the head tag, recomputing each digest (the digests are not signed). The chain makes a
quiet edit impossible, not a deliberate rewrite of the whole tail; see docs/promotion.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from workbench.promotion._audit import AuditRecord, audit_log
from workbench.tracking import ensure_store, registry

Kind = Literal["edited", "missing", "reordered", "unchained", "head"]


@dataclass(frozen=True)
class ChainProblem:
    """One break in the chain, and which record it is about."""

    kind: Kind
    message: str
    seq: int | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class ChainReport:
    """The state of one experiment's audit chain."""

    experiment: str
    n_records: int
    n_unchained: int
    """Records written before the chain existed (checked against their own digest only)."""
    n_chained: int
    problems: tuple[ChainProblem, ...]
    head: str | None = None
    """The head tag as ``seq N, digest ...`` (copy it somewhere safe to anchor the chain)."""

    @property
    def intact(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line: intact or broken, and where the chain starts."""
        start = (
            f"; the chain starts at record {self.n_unchained + 1} (the {self.n_unchained} "
            "older record(s) predate it and are checked against their own digest only)"
            if self.n_unchained and self.n_chained
            else ""
        )
        if not self.n_records:
            state = "empty"
        elif self.intact:
            state = f"intact: {self.n_records} record(s), {self.n_chained} chained"
        else:
            state = f"BROKEN: {len(self.problems)} problem(s) in {self.n_records} record(s)"
        return f"audit chain of '{self.experiment}' {state}{start}"


def _label(record: AuditRecord) -> str:
    where = f"seq {record.seq}" if record.seq is not None else "unchained record"
    return f"{where} ({record.action} {record.outcome} by {record.who}, event {record.event_id})"


def _problem(kind: Kind, record: AuditRecord, text: str) -> ChainProblem:
    return ChainProblem(kind, f"{_label(record)}: {text}", record.seq, record.event_id)


def check_chain(
    experiment: str, records: Sequence[AuditRecord], head: Mapping[str, Any] | None
) -> ChainReport:
    """Walk ``records`` (stored order, oldest first) against ``head`` (the head tag)."""
    problems: list[ChainProblem] = []
    start = next((i for i, r in enumerate(records) if r.seq is not None), len(records))
    before, rest = records[:start], records[start:]
    for record in records:
        if not record.intact:
            problems.append(
                _problem("edited", record, "its content no longer matches its digest (edited)")
            )
    chained = [r for r in rest if r.seq is not None]
    for record in rest:
        if record.seq is None:
            problems.append(
                _problem(
                    "unchained",
                    record,
                    "has no place in the chain but comes after its start (inserted, or its "
                    "chain fields were removed)",
                )
            )
    for prev, record in itertools.pairwise(chained):
        assert prev.seq is not None and record.seq is not None
        if record.seq <= prev.seq:
            twin = "has the same seq as" if record.seq == prev.seq else "is stored after"
            problems.append(_problem("reordered", record, f"{twin} seq {prev.seq} (reordered)"))
    problems += _links(before, sorted(chained, key=lambda r: r.seq or 0))
    problems += _head(experiment, chained, head)
    return ChainReport(
        experiment=experiment,
        n_records=len(records),
        n_unchained=len(before),
        n_chained=len(chained),
        problems=tuple(problems),
        head=None if head is None else f"seq {head.get('seq')}, digest {head.get('digest')}",
    )


def _links(before: Sequence[AuditRecord], by_seq: Sequence[AuditRecord]) -> list[ChainProblem]:
    """Gaps (deleted records) and broken links (a record rewritten with a new digest)."""
    problems: list[ChainProblem] = []
    if not by_seq:
        return problems
    first = by_seq[0]
    anchor = before[-1].digest if before else ""
    if first.seq is not None and first.seq > 1:
        problems.append(
            _problem("missing", first, f"the {first.seq - 1} record(s) before it were deleted")
        )
    elif first.previous_digest != anchor:
        problems.append(
            _problem(
                "edited",
                first,
                "links to a record that is not the one stored before it (that record was "
                "deleted or rewritten)",
            )
        )
    for prev, record in itertools.pairwise(by_seq):
        assert prev.seq is not None and record.seq is not None
        if record.seq == prev.seq:
            continue  # reported as reordered
        if record.seq > prev.seq + 1:
            gap = record.seq - prev.seq - 1
            problems.append(
                _problem(
                    "missing",
                    record,
                    f"{gap} record(s) between seq {prev.seq} and seq {record.seq} were deleted",
                )
            )
        elif record.previous_digest != prev.digest and prev.intact:
            problems.append(
                _problem(
                    "edited",
                    prev,
                    f"was rewritten: seq {record.seq} links to a different digest "
                    f"({(record.previous_digest or '-')[:12]}, stored {prev.digest[:12]})",
                )
            )
    return problems


def _head(
    experiment: str, chained: Sequence[AuditRecord], head: Mapping[str, Any] | None
) -> list[ChainProblem]:
    """The head tag against the newest chained record (records deleted from the end)."""
    last = max(chained, key=lambda r: r.seq or 0) if chained else None
    if head is None:
        if last is None:
            return []
        return [
            ChainProblem("head", f"the chain's head tag of '{experiment}' is missing (deleted)")
        ]
    try:
        head_seq = int(head["seq"])
    except (KeyError, TypeError, ValueError):
        return [ChainProblem("head", f"the chain's head tag of '{experiment}' is unreadable")]
    if last is None or last.seq is None or head_seq > last.seq:
        have = 0 if last is None or last.seq is None else last.seq
        return [
            ChainProblem(
                "missing",
                f"the last {head_seq - have} record(s) (seq {have + 1} to {head_seq}, the "
                f"newest event {head.get('event_id')}) were deleted: the head tag points past "
                "the log",
                head_seq,
                str(head.get("event_id") or "") or None,
            )
        ]
    if head_seq < last.seq:
        return [
            _problem(
                "unchained",
                last,
                f"comes after the chain's head (seq {head_seq}): appended outside the workbench",
            )
        ]
    if head.get("digest") != last.digest:
        return [_problem("edited", last, "was rewritten: the head tag holds another digest")]
    return []


def verify_chain(experiment: str, *, tracking_uri: str | None = None) -> ChainReport:
    """The chain state of ``experiment``'s audit log (read-only)."""
    uri = ensure_store(tracking_uri)
    return check_chain(
        experiment, audit_log(experiment, tracking_uri=uri), registry.chain_head(experiment, uri)
    )
