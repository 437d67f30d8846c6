"""Rich rendering of gate decisions (CLI)."""

from __future__ import annotations

from typing import Any

from workbench.records import GateDecision, format_number


def decision_table(decision: GateDecision) -> Any:
    from rich.table import Table

    verdict = "[green]PASS[/green]" if decision.passed else "[red]FAIL[/red]"
    table = Table(
        title=f"gate {decision.policy} v{decision.policy_version}: {decision.variant} -> {verdict}"
    )
    for col in ("rule", "value", "bound", "result", "note"):
        table.add_column(col, justify="right" if col in ("value", "bound") else "left")
    for r in decision.rules:
        table.add_row(
            r.rule,
            format_number(r.value),
            r.shown_bound,
            "pass" if r.passed else "[red]fail[/red]",
            r.note,
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
