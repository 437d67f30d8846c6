"""The evidence of a candidate as the markdown description of its MLflow model version,
so a lead who reads only the MLflow UI can judge it: the gate table with bounds, the
paired comparison with the champion, the policy (name, version, digest), links to the
runs and the app's Compare page, who proposed it and why. Each decision (and a
reconcile) appends a line: the decision, the person, the reason.

MLflow stores a version description in a 5000-character column (enforced on PostgreSQL):
the proposal part is kept under :data:`PROPOSAL_LIMIT` (comparison rows beyond it are
left to ``evidence/comparison.json``) and the oldest decision lines give way to newer
ones (the audit log keeps them all).
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Any

from workbench.promotion._links import app_url, run_link
from workbench.promotion._tags import now
from workbench.tracking import registry
from workbench.users import User

if TYPE_CHECKING:
    from workbench.promotion._bundle import Bundle
    from workbench.promotion._candidates import Candidacy
    from workbench.promotion._transaction import Transaction
    from workbench.tracking.registry import VersionInfo

LIMIT = 5000
PROPOSAL_LIMIT = 3600
DECISIONS = "#### Decisions"
_ELIDED = "- … older decisions: see `workbench audit`"
_VERBS = {
    "approve": "approved",
    "reject": "rejected",
    "rollback": "rolled back",
    "reconcile": "reconciled",
}


def cell(value: Any) -> str:
    """Text for a markdown table cell: one line, pipes escaped, numbers to 4 digits."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("\n", " ").replace("|", "\\|").strip()


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def _gate_lines(candidacy: Candidacy) -> list[str]:
    gate = candidacy.gate
    verdict = "PASS" if gate.passed else "FAIL"
    lines = [
        f"#### Release gates: {verdict}",
        f"Policy `{cell(gate.policy)}` version `{cell(gate.policy_version)}`, "
        f"digest `{cell(gate.policy_digest)}`. Each rule is decided on the value in "
        "*decided on*: a one-sided 95% bound that errs against the candidate, unless the "
        "basis says otherwise.",
        "",
    ]
    rows = []
    for r in gate.rules:
        result = "pass" if r.passed else "**FAIL**"
        how = "; ".join(x for x in (r.basis, r.method, r.note) if x)
        rows.append([r.rule, r.estimate, r.value, r.shown_bound, r.n, result, how])
    header = ["rule", "estimate", "decided on", "threshold", "n", "result", "basis / note"]
    return lines + _table(header, rows)


def _comparison_lines(candidacy: Candidacy, room: int) -> list[str]:
    if candidacy.champion is None:
        return [
            "#### Comparison with the champion",
            "No champion yet: passing the gates is enough.",
        ]
    lines = [
        f"#### Paired comparison with champion v{candidacy.champion}",
        f"Champion `{cell(candidacy.champion_variant)}` (a) against this candidate (b) on "
        f"{candidacy.n_shared} shared samples, 95% CI, Holm-corrected p.",
        "",
    ]
    frame = candidacy.comparison
    if frame is None or frame.empty:
        return [*lines, "No comparison could be made."]
    roles = {candidacy.policy.primary_metric: "primary"}
    roles.update({g: "guard" for g in candidacy.policy.guard_metrics})
    header = ["metric", "role", "champion", "candidate", "diff", "95% CI", "p Holm", "verdict"]
    rows: list[list[Any]] = []
    for row in frame.to_dict(orient="records"):
        rows.append(
            [
                row.get("metric"),
                roles.get(str(row.get("metric")), "reported"),
                row.get("mean_a"),
                row.get("mean_b"),
                row.get("diff"),
                f"[{cell(row.get('diff_lo'))}, {cell(row.get('diff_hi'))}]",
                row.get("p_holm"),
                row.get("verdict"),
            ]
        )
    table = _table(header, rows)
    while len("\n".join(table)) > room and len(table) > 3:
        table.pop()
    if len(table) - 2 < len(rows):
        table.append(f"\n{len(rows) - len(table) + 2} more row(s) in `evidence/comparison.json`.")
    return lines + table


def proposal_markdown(
    candidacy: Candidacy,
    bundle: Bundle,
    actor: User,
    reason: str,
    when: str,
    uri: str,
) -> str:
    """The description of a new candidate version (kept under :data:`PROPOSAL_LIMIT`)."""
    head = [
        f"### Candidate `{cell(bundle.variant)}` of `{cell(candidacy.experiment)}`",
        "",
        f"Proposed by **{cell(actor.name)}** ({cell(actor.role)}) at {when}.",
        f"Why: {cell(reason) or cell(candidacy.text())}",
        "",
        f"Bundle: prompt `{cell(bundle.prompt.registry_uri)}`, model `{cell(bundle.model.label)}`, "
        f"retriever `{cell(bundle.retriever.label)}`, dataset digest `{bundle.dataset.digest}`.",
        "",
    ]
    exp = candidacy.experiment
    links = [
        "#### Links",
        f"- [experiment run]({run_link(exp, candidacy.run_id, uri)}) `{candidacy.run_id}`",
        f"- [variant run]({run_link(exp, candidacy.variant_run_id, uri)}) "
        f"`{candidacy.variant_run_id}`",
    ]
    if candidacy.champion_run_id:
        links.append(
            f"- [champion's variant run]({run_link(exp, candidacy.champion_run_id, uri)}) "
            f"`{candidacy.champion_run_id}`"
        )
    links.append(
        f"- [Compare page]({app_url()}/compare) of the app (pick run `{candidacy.run_id}`)"
    )
    notes = [f"- {cell(n)}" for n in [*candidacy.notes, *candidacy.reasons]]
    fixed = (
        head + _gate_lines(candidacy) + [""] + (["#### Notes", *notes, ""] if notes else []) + links
    )
    room = PROPOSAL_LIMIT - len("\n".join(fixed)) - 200
    text = "\n".join(
        head
        + _gate_lines(candidacy)
        + [""]
        + _comparison_lines(candidacy, room)
        + [""]
        + (["#### Notes", *notes, ""] if notes else [])
        + links
    )
    return text[:PROPOSAL_LIMIT]


def with_decision(description: str, line: str) -> str:
    """``description`` with one more decision line, the oldest lines dropped to fit."""
    body, _, tail = description.partition(DECISIONS)
    entries = [e for e in tail.strip().splitlines() if e.strip() and e != _ELIDED]
    entries.append(line)
    body = body.rstrip()[: LIMIT - len(DECISIONS) - len(line) - len(_ELIDED) - 10]
    dropped = False
    while True:
        shown = ([_ELIDED] if dropped else []) + entries
        text = f"{body}\n\n{DECISIONS}\n" + "\n".join(shown)
        if len(text) <= LIMIT or len(entries) == 1:
            return text[:LIMIT]
        entries.pop(0)
        dropped = True


def decision_line(action: str, actor: User, reason: str, detail: str, when: str) -> str:
    """``- <when> **approved** by lee (lead): "reason" (detail)``, at most ~600 characters."""
    verb = _VERBS.get(action, action)
    text = (
        f"- {when} **{verb}** by **{cell(actor.name)}** ({cell(actor.role)}): {cell(reason)[:300]}"
    )
    return text + (f" ({cell(detail)[:240]})" if detail else "")


def append_decision(
    steps: Transaction,
    info: VersionInfo,
    action: str,
    detail: str,
    actor: User,
    reason: str,
    uri: str,
) -> None:
    """A transaction step that appends the decision to ``info``'s description (undo:
    the description before)."""
    text = with_decision(info.description, decision_line(action, actor, reason, detail, now()))
    steps.run(
        f"description of version {info.version}",
        partial(registry.set_version_description, info.name, info.version, text, uri),
        partial(registry.set_version_description, info.name, info.version, info.description, uri),
    )
