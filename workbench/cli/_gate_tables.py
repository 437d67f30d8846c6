"""Rich rendering of gate decisions (CLI)."""

from __future__ import annotations

from typing import Any

from workbench.records import GateDecision, RuleResult, format_number

_BASIS = {
    "bound": "one-sided 95 % bound",
    "point": "point estimate (policy: bound: point)",
    "count": "count",
    "share": "share of this run",
}


def _shown_rules(rules: tuple[RuleResult, ...]) -> list[tuple[RuleResult, str]]:
    """Rules to print, with a label; unscored rules at 0 (they say nothing) collapse into one."""
    silent = [r for r in rules if r.rule.startswith("unscored:") and r.passed and r.value == 0]
    if len(silent) < 2:
        return [(r, r.rule) for r in rules]
    quiet = {id(r) for r in silent}
    merged = RuleResult("unscored", 0.0, "<=", silent[0].bound, True, "", 0.0, basis="share")
    shown: list[tuple[RuleResult, str]] = []
    for r in rules:
        if r is silent[0]:
            shown.append((merged, f"unscored: {len(silent)} metrics at 0"))
        elif id(r) not in quiet:
            shown.append((r, r.rule))
    return shown


def _how(r: RuleResult) -> str:
    basis = _BASIS.get(r.basis, r.basis)
    method = f"{basis}: {r.method}" if r.method and r.basis == "bound" else basis
    return "; ".join(x for x in (method, r.note) if x)


def decision_table(decision: GateDecision) -> Any:
    from rich.table import Table

    verdict = "[green]PASS[/green]" if decision.passed else "[red]FAIL[/red]"
    table = Table(
        title=f"gate {decision.policy} v{decision.policy_version}: {decision.variant} -> {verdict}"
    )
    for col in ("rule", "estimate", "decided on", "threshold", "n", "result", "how / note"):
        table.add_column(col, justify="right" if col in ("estimate", "decided on", "n") else "left")
    for r, label in _shown_rules(decision.rules):
        result = "pass" if r.passed else "[red]fail[/red]"
        if r.status:
            result += f" ({r.status})"
        table.add_row(
            label,
            format_number(r.estimate),
            format_number(r.value),
            r.shown_bound,
            "" if r.n is None else str(r.n),
            result,
            _how(r),
        )
    return table


def print_decision(out: Any, decision: GateDecision) -> None:
    out.print(decision_table(decision))


def summary_table(decisions: list[GateDecision]) -> Any:
    from rich.table import Table

    table = Table(title="release gates per variant")
    table.add_column("variant")
    table.add_column("variant_id")
    table.add_column("verdict")
    table.add_column("failed rules")
    for d in decisions:
        failed = ", ".join(r.rule for r in d.failed_rules) or "–"
        table.add_row(
            d.variant,
            d.variant_id,
            "[green]pass[/green]" if d.passed else "[red]fail[/red]",
            failed,
        )
    return table
