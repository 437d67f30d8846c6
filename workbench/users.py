"""Who is who: users and roles from ``workbench.toml``, hashed passwords, the acting user.

    [users.alice]
    role = "rater"                       # rater | scientist | lead
    password_hash = "scrypt$..."         # set with: workbench user add alice --role rater

Passwords are never stored in plain text (scrypt, per-user salt). The CLI acts as
``$WORKBENCH_USER`` (else the OS user); the Streamlit app signs people in against this
file, or through ``st.login`` (OIDC) when the app's secrets configure it.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench import _paths
from workbench.errors import ConfigError, did_you_mean

Role = Literal["rater", "scientist", "lead"]
ROLES: tuple[str, ...] = ("rater", "scientist", "lead")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    password_hash: str | None = None
    display_name: str | None = None

    @property
    def label(self) -> str:
        return self.display_name or self.name


def config_path() -> Path:
    return Path(os.environ.get("WORKBENCH_CONFIG") or _paths.project_root() / _paths.PROJECT_FILE)


def load_users(path: Path | None = None) -> dict[str, User]:
    """The ``[users.<name>]`` tables of the project file (empty when there are none)."""
    path = path or config_path()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", where=path) from None
    users: dict[str, User] = {}
    for name, entry in (data.get("users") or {}).items():
        if not isinstance(entry, dict):
            raise ConfigError(f"users.{name} must be a table", where=path)
        role = entry.get("role", "rater")
        if role not in ROLES:
            hint = did_you_mean(str(role), ROLES) or f"roles: {', '.join(ROLES)}"
            raise ConfigError(f"users.{name}.role: unknown role '{role}'", where=path, hint=hint)
        unknown = set(entry) - {"role", "password_hash", "display_name"}
        if unknown:
            raise ConfigError(
                f"users.{name}: unknown field(s) {', '.join(sorted(unknown))}", where=path
            )
        users[name] = User(name, role, entry.get("password_hash"), entry.get("display_name"))
    return users


def hash_password(password: str) -> str:
    if not password:
        raise ConfigError("an empty password cannot be set")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check of ``password`` against a ``scrypt$salt$hash`` string."""
    if not stored or not password:
        return False
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except ValueError:
        return False
    actual = hashlib.scrypt(password.encode(), salt=salt, dklen=len(expected), **_SCRYPT)
    return hmac.compare_digest(actual, expected)


def authenticate(name: str, password: str, users: dict[str, User] | None = None) -> User | None:
    """The user when the password matches their stored hash, else None."""
    users = load_users() if users is None else users
    user = users.get(name)
    if user is None:
        hashlib.scrypt(b"x", salt=b"0" * 16, dklen=32, **_SCRYPT)  # same time as a real check
        return None
    return user if verify_password(password, user.password_hash) else None


def cli_user(users: dict[str, User] | None = None) -> User:
    """The acting CLI user: ``$WORKBENCH_USER`` (else the OS user), looked up in the roles file.

    A name absent from the file acts with no privileges beyond reading (role ``rater``)."""
    name = os.environ.get("WORKBENCH_USER") or getpass.getuser()
    users = load_users() if users is None else users
    return users.get(name) or User(name=name, role="rater")


def set_user(name: str, role: str, password: str | None, path: Path | None = None) -> Path:
    """Add or update ``[users.<name>]`` in the project file (atomically; other text kept)."""
    if role not in ROLES:
        raise ConfigError(
            f"unknown role '{role}'", hint=did_you_mean(role, ROLES) or f"roles: {', '.join(ROLES)}"
        )
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ConfigError(f"user name '{name}' may use letters, digits, '-', '_' and '.' only")
    path = path or config_path()
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    lines = text.splitlines()
    header = f"[users.{name}]"
    body = [f'role = "{role}"']
    if password is not None:
        body.append(f'password_hash = "{hash_password(password)}"')
    elif (old := load_users(path).get(name)) and old.password_hash:
        body.append(f'password_hash = "{old.password_hash}"')
    out: list[str] = []
    skipping = False
    for line in lines:
        stripped = line.strip()
        if stripped == header:
            skipping = True
            continue
        if skipping and stripped.startswith("["):
            skipping = False
        if not skipping:
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    out += ["", header, *body, ""]
    from workbench._atomic import write_text

    write_text(path, "\n".join(out))
    load_users(path)  # refuse to leave a file we cannot read back
    return path
