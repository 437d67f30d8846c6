"""Who may do what. The roles file (``workbench.toml``) is the only source of a role:
a caller cannot raise its own privileges by passing a ``User`` with another role."""

from __future__ import annotations

from typing import Literal

from workbench.errors import PermissionDenied
from workbench.users import User, cli_user, load_users

Action = Literal["propose", "approve", "reject", "rollback", "reconcile"]

ALLOWED: dict[str, tuple[str, ...]] = {
    "propose": ("scientist", "lead"),
    "approve": ("lead",),
    "reject": ("lead",),
    "rollback": ("lead",),
    "reconcile": ("lead",),
}
_VERB = {
    "propose": "propose",
    "approve": "approve",
    "reject": "reject",
    "rollback": "roll back",
    "reconcile": "reconcile",
}


def acting_user(user: User | None = None) -> User:
    """The user as the roles file knows them (a name absent from it acts as a rater).

    ``None`` means the CLI user (``$WORKBENCH_USER`` or the OS user)."""
    if user is None:
        return cli_user()
    known = load_users().get(user.name)
    if known is None:
        return User(name=user.name, role="rater", display_name=user.display_name)
    return known


def allowed(user: User, action: str) -> bool:
    return user.role in ALLOWED[action]


def denial(user: User, action: str, experiment: str) -> PermissionDenied:
    roles = " or ".join(ALLOWED[action])
    return PermissionDenied(
        f"{user.name} (role {user.role}) may not {_VERB[action]} in '{experiment}': "
        f"that needs the {roles} role",
        hint="roles are set in workbench.toml ([users.<name>] role = ...); "
        "a lead can run: workbench user add NAME --role lead",
    )


def check(user: User, action: str, experiment: str) -> None:
    if not allowed(user, action):
        raise denial(user, action, experiment)
