"""Rich tables for the promotion commands (the CLI only; the service never prints)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.promotion import (
    AuditRecord,
    Candidacy,
    Candidate,
    ChainReport,
    Champion,
    Integrity,
)

if TYPE_CHECKING:
    from rich.table import Table


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "–"
    return f"{number:.{digits}g}"


def _verdict(text: str) -> str:
    style = {"better": "green", "worse": "red"}.get(text)
    return f"[{style}]{text}[/{style}]" if style else text


def evidence_line(evidence: dict[str, Any]) -> str:
    gate = (evidence.get("gate") or {}).get("verdict", "?")
    parts = [f"gates {gate}"]
    primary = evidence.get("primary")
    if evidence.get("champion") is None:
        parts.append("first champion")
    elif primary:
        parts.append(
            f"{primary['metric']} {_num(primary['diff'])} [{_num(primary['lo'])}, "
            f"{_num(primary['hi'])}] p={_num(primary['p_holm'], 2)} vs v{evidence['champion']}"
        )
    worse = [g["metric"] for g in evidence.get("guards", []) if g.get("verdict") == "worse"]
    parts.append(f"guards regress: {', '.join(worse)}" if worse else "guards ok")
    return "; ".join(parts)


def queue_table(candidates: Sequence[Candidate], *, title: str) -> Table:
    from rich.table import Table

    table = Table(title=title)
    for column in ("experiment", "version", "status", "variant", "proposed by", "at", "evidence"):
        table.add_column(column, justify="right" if column == "version" else "left")
    for c in candidates:
        status = c.status + (" (champion)" if c.is_champion else "")
        table.add_row(
            c.experiment,
            c.version,
            status,
            c.variant,
            c.proposed_by,
            c.proposed_at[:16].replace("T", " "),
            evidence_line(c.evidence),
        )
    return table


def candidacy_table(candidacy: Candidacy) -> Table:
    from rich.table import Table

    if candidacy.champion is None:
        title = f"{candidacy.variant} vs champion: no champion yet (passing the gates is enough)"
    else:
        title = (
            f"{candidacy.variant} vs champion v{candidacy.champion} ({candidacy.champion_variant}), "
            f"{candidacy.n_shared} shared samples, Holm-corrected"
        )
    table = Table(title=title)
    for column in (
        "metric",
        "role",
        "champion",
        "candidate",
        "diff",
        "95% CI",
        "p Holm",
        "verdict",
    ):
        table.add_column(column)
    if candidacy.comparison is not None:
        roles = {candidacy.policy.primary_metric: "primary"}
        roles.update({g: "guard" for g in candidacy.policy.guard_metrics})
        for row in candidacy.comparison.to_dict(orient="records"):
            table.add_row(
                str(row["metric"]),
                roles.get(row["metric"], "reported"),
                _num(row["mean_a"]),
                _num(row["mean_b"]),
                _num(row["diff"]),
                f"[{_num(row['diff_lo'])}, {_num(row['diff_hi'])}]",
                _num(row["p_holm"], 2),
                _verdict(str(row["verdict"])),
            )
    return table


def champion_lines(champ: Champion | None, experiment: str) -> list[str]:
    if champ is None:
        return [f"'{experiment}' has no champion yet."]
    b = champ.bundle
    lines = [
        f"[bold]{experiment}[/bold]: champion is version {champ.version} since {champ.since or '?'}",
        f"  variant   {b.variant} ({b.variant_id})",
        f"  prompt    {b.prompt.ref} = {b.prompt.registry_uri} (alias production)",
        f"  model     {b.model.label} ({b.model.provider}) params {b.params.model_dump(mode='json')}",
        f"  retriever {b.retriever.label} {b.retriever.model_dump(mode='json', exclude_none=True)}",
    ]
    if b.corpus is not None:
        lines.append(f"  corpus    {b.corpus.path} (digest {b.corpus.digest})")
    lines += [
        f"  dataset   {b.dataset.name} (digest {b.dataset.digest})",
        f"  runs      experiment run {b.source_run_id}, variant run {b.variant_run_id}",
        f"  approved  by {champ.approved_by or '?'}: {champ.reason or ''}",
    ]
    return lines


def audit_table(records: Sequence[AuditRecord], *, title: str) -> Table:
    from rich.table import Table

    table = Table(title=title)
    for column in (
        "seq",
        "when",
        "action",
        "outcome",
        "who",
        "role",
        "version",
        "champion",
        "reason",
        "detail",
    ):
        table.add_column(column, overflow="fold")
    for r in records:
        style = {"refused": "yellow", "failed": "red", "alarm": "red"}.get(r.outcome)
        outcome = f"[{style}]{r.outcome}[/{style}]" if style else r.outcome
        move = f"{r.previous_champion or '-'} -> {r.champion_after or '-'}"
        detail = r.detail if r.intact else f"[red]RECORD ALTERED[/red] {r.detail}"
        if r.prompt:
            detail = f"{detail} [{r.prompt}]".strip()
        table.add_row(
            "–" if r.seq is None else str(r.seq),
            r.when[:19].replace("T", " "),
            r.action,
            outcome,
            r.who,
            r.role,
            r.version or "–",
            move,
            r.reason,
            detail[:300],
        )
    return table


def integrity_lines(state: Integrity) -> list[str]:
    """The aliases against the audit log: one line, or the alarm and how to reconcile."""
    from rich.markup import escape

    if state.in_progress:
        return [f"aliases: not checked, {state.message()}"]
    if state.consistent:
        return [f"aliases: consistent with the audit log (champion {state.actual_champion or '-'})"]
    lines = [f"[red]INTEGRITY ALARM[/red] on '{state.experiment}':"]
    lines += [f"  {escape(alarm.text())}" for alarm in state.alarms]
    lines.append(
        f"  approve, rollback and propose refuse until a lead reconciles: workbench reconcile "
        f'{state.experiment} --adopt | --revert --reason "..."'
    )
    return lines


def chain_lines(report: ChainReport) -> list[str]:
    """The hash chain's state, and each problem (which record, what happened)."""
    from rich.markup import escape

    colour = "green" if report.intact else "red"
    lines = [f"[{colour}]{escape(report.summary())}[/{colour}]"]
    lines += [f"  {problem.kind}: {escape(problem.message)}" for problem in report.problems]
    if report.head:
        lines.append(f"  head: {report.head}")
    return lines
