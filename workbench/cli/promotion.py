"""Promotion commands: propose, queue, approve, reject, rollback, reconcile, champion, audit,
user add.

Registered on the ``workbench`` typer app by :mod:`workbench.cli`. The acting
user is ``$WORKBENCH_USER`` (else the OS user) with their role from ``workbench.toml``;
a refused action prints ``error: ...`` and exits 2 (and is audited). Each command
imports the promotion service when it runs, so ``workbench --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli._app import ExperimentOrRun, app, console
from workbench.errors import ConfigError, PermissionDenied

if TYPE_CHECKING:
    from workbench.promotion import Decision

Reason = Annotated[
    str, typer.Option("--reason", "-r", help="Why (required; goes to the audit log).")
]


@app.command()
def propose(
    experiment: ExperimentOrRun,
    variant: Annotated[
        str | None, typer.Option(help="Variant id, id prefix or label (default: the run's best).")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Gate policy YAML (default: the run's own).")
    ] = None,
    check_only: Annotated[
        bool, typer.Option("--check", help="Show the evidence; register nothing.")
    ] = False,
    reason: Annotated[
        str,
        typer.Option("--reason", "-r", help="Why propose it (default: the evidence in one line)."),
    ] = "",
) -> None:
    """Register a variant as a candidate when it passes the gates and beats the champion."""
    from workbench.cli._gate_tables import decision_table
    from workbench.cli._promotion_tables import candidacy_table
    from workbench.promotion import NotACandidate, check
    from workbench.promotion import propose as do_propose

    out = console()
    if check_only:
        candidacy = check(experiment, variant=variant, policy=policy)
        out.print(decision_table(candidacy.gate))
        out.print(candidacy_table(candidacy))
        for note in candidacy.notes:
            out.print(f"note: {note}")
        verdict = (
            "qualifies"
            if candidacy.qualifies
            else "does not qualify: " + "; ".join(candidacy.reasons)
        )
        out.print(f"{candidacy.variant} {verdict}")
        return
    try:
        candidate = do_propose(experiment, variant=variant, policy=policy, reason=reason)
    except NotACandidate as refused:
        out.print(decision_table(refused.candidacy.gate))
        out.print(candidacy_table(refused.candidacy))
        for note in refused.candidacy.notes:
            out.print(f"note: {note}")
        raise
    out.print(
        f"[green]{candidate.variant}[/green] is candidate version {candidate.version} of "
        f"'{candidate.experiment}' (pending); a lead decides with: workbench approve|reject "
        f'{candidate.version} --experiment {candidate.experiment} --reason "..."'
    )


@app.command()
def queue(
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="Only this experiment.")
    ] = None,
    all_versions: Annotated[
        bool, typer.Option("--all", help="Every version, decided ones included.")
    ] = False,
) -> None:
    """Pending candidates with their evidence."""
    from workbench.cli._promotion_tables import queue_table
    from workbench.promotion import queue as list_queue

    found = list_queue(experiment, status=None if all_versions else "pending")
    what = "versions" if all_versions else "pending candidates"
    title = f"{what}" + (f" of '{experiment}'" if experiment else "")
    out = console()
    if not found:
        out.print(f"no {title}")
        return
    out.print(queue_table(found, title=title))


def _decided(decision: Decision) -> None:
    out = console()
    moved = (
        f"champion {decision.previous_champion or '-'} -> {decision.champion or '-'}"
        if decision.previous_champion != decision.champion
        else "champion unchanged"
    )
    out.print(f"{decision.action} '{decision.experiment}' version {decision.version}: {moved}")
    for move in decision.prompt_moves:
        out.print(f"  prompt alias {move}")
    out.print(f"  audit event {decision.audit_event}")


@app.command()
def approve(
    version: Annotated[str, typer.Argument(help="The candidate's registered version number.")],
    experiment: Annotated[str, typer.Option("--experiment", "-e", help="Experiment name.")],
    reason: Reason,
) -> None:
    """Make a pending candidate the champion (leads only)."""
    from workbench.promotion import approve as do_approve

    _decided(do_approve(version, experiment=experiment, reason=reason))


@app.command()
def reject(
    version: Annotated[str, typer.Argument(help="The candidate's registered version number.")],
    experiment: Annotated[str, typer.Option("--experiment", "-e", help="Experiment name.")],
    reason: Reason,
) -> None:
    """Reject a pending candidate (leads only)."""
    from workbench.promotion import reject as do_reject

    _decided(do_reject(version, experiment=experiment, reason=reason))


@app.command()
def rollback(
    experiment: Annotated[str, typer.Argument(help="Experiment name.")],
    reason: Reason,
) -> None:
    """Move the champion back to the previous one (leads only)."""
    from workbench.promotion import rollback as do_rollback

    _decided(do_rollback(experiment, reason=reason))


@app.command()
def reconcile(
    experiment: Annotated[str, typer.Argument(help="Experiment name.")],
    reason: Reason,
    adopt: Annotated[
        bool, typer.Option("--adopt", help="Keep the aliases where they were moved.")
    ] = False,
    revert: Annotated[
        bool, typer.Option("--revert", help="Move them back to the last audited decision.")
    ] = False,
) -> None:
    """Make the aliases and the audit log agree after a move outside the workbench (leads
    only): one audited step."""
    from workbench.promotion import reconcile as do_reconcile

    if adopt == revert:
        raise ConfigError("reconcile needs exactly one of --adopt or --revert")
    _decided(do_reconcile(experiment, how="adopt" if adopt else "revert", reason=reason))


def _alarm(experiment: str) -> bool:
    """Print the integrity alarm of ``experiment``, if any; True when there is one."""
    from workbench.cli._promotion_tables import integrity_lines
    from workbench.promotion import integrity

    state = integrity(experiment)
    out = console()
    for line in integrity_lines(state):
        out.print(line)
    return not state.consistent


@app.command()
def champion(experiment: Annotated[str, typer.Argument(help="Experiment name.")]) -> None:
    """What is in production and since when; exits 1 when the aliases disagree with the
    audit log (an integrity alarm)."""
    from workbench.cli._promotion_tables import champion_lines
    from workbench.promotion import champion as get_champion

    out = console()
    for line in champion_lines(get_champion(experiment), experiment):
        out.print(line)
    if _alarm(experiment):
        sys.exit(1)  # typer.Exit would be swallowed by main(standalone_mode=False)


@app.command()
def audit(
    experiment: Annotated[str, typer.Argument(help="Experiment name.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per line.")] = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Check the hash chain (deleted, reordered, edited records) and the aliases "
            "against the log; exit 1 on any problem.",
        ),
    ] = False,
) -> None:
    """The append-only audit log of promotion actions."""
    import json

    from workbench.cli._promotion_tables import audit_table, chain_lines
    from workbench.promotion import audit_log, verify_chain

    if verify:
        report = verify_chain(experiment)
        out = console()
        for line in chain_lines(report):
            out.print(line)
        alarm = _alarm(experiment)
        if alarm or not report.intact:
            sys.exit(1)  # typer.Exit would be swallowed by main(standalone_mode=False)
        return
    records = audit_log(experiment)
    if as_json:
        for record in records:
            typer.echo(json.dumps({**record.to_dict(), "intact": record.intact}, sort_keys=True))
        return
    out = console()
    if not records:
        out.print(f"'{experiment}' has no audit records")
        return
    out.print(audit_table(records, title=f"audit log of '{experiment}' ({len(records)} records)"))


user_app = typer.Typer(help="Users and roles (workbench.toml).", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, - _ .).")],
    role: Annotated[str, typer.Option(help="rater | scientist | lead")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts).")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No app sign-in (CLI-only user).")
    ] = False,
) -> None:
    """Add or update a user; the password is prompted and stored only as a scrypt hash.

    Once the roles file has a lead, only a lead may add or change users."""
    from workbench.users import cli_user, load_users, set_user

    users = load_users()
    actor = cli_user(users)
    if any(u.role == "lead" for u in users.values()) and actor.role != "lead":
        raise PermissionDenied(
            f"{actor.name} (role {actor.role}) may not manage users: that needs the lead role"
        )
    password: str | None
    if no_password:
        password = None
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if password is not None and not password:
        raise ConfigError("an empty password cannot be set")
    path = set_user(name, role, password)
    typer.echo(
        f"{name}: role {role} in {path}" + ("" if password is None else " (password hashed)")
    )
