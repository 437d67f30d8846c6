"""The aliases a decision moves: the registered model's ``champion`` and the ``production``
alias of the champion's prompt in the Prompt Registry, which must point at exactly the
champion's prompt version."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

from workbench.promotion._bundle import Bundle
from workbench.promotion._transaction import Transaction
from workbench.tracking import registry


class PromptMove(NamedTuple):
    """One move of a prompt's ``production`` alias (None: the alias is absent)."""

    name: str
    """The prompt's name in the registry."""
    before: str | None
    after: str | None


def prompt_moves(uri: str, new: Bundle | None, old: Bundle | None) -> list[PromptMove]:
    """The moves that make ``production`` point at exactly the new champion's prompt
    version (and no longer at the old champion's, when that is another prompt)."""
    moves: list[PromptMove] = []
    if new is not None:
        name = new.prompt.registry_name
        before = registry.prompt_alias(name, registry.PRODUCTION, uri)
        if before != new.prompt.registry_version:
            moves.append(PromptMove(name, before, new.prompt.registry_version))
    if old is not None and (new is None or old.prompt.registry_name != new.prompt.registry_name):
        name = old.prompt.registry_name
        before = registry.prompt_alias(name, registry.PRODUCTION, uri)
        if before is not None:
            moves.append(PromptMove(name, before, None))
    return moves


def describe(moves: Sequence[PromptMove]) -> str | None:
    """``name@production: before -> after`` per move, ``; ``-joined (None: no move)."""
    if not moves:
        return None
    return "; ".join(f"{m.name}@production: {m.before or '-'} -> {m.after or '-'}" for m in moves)


def texts(moves: Sequence[PromptMove]) -> tuple[str, ...]:
    """One ``name@production: before -> after`` per move."""
    return tuple((describe(moves) or "").split("; ")) if moves else ()


def move_steps(
    steps: Transaction,
    experiment: str,
    current: str | None,
    target: str | None,
    moves: Sequence[PromptMove],
    uri: str,
) -> None:
    """Run, as steps of ``steps`` (each with its undo), the move of ``champion`` from
    ``current`` to ``target`` and the prompt ``moves``."""
    if target != current:
        steps.run(
            f"alias {experiment}@champion",
            partial(registry.set_champion, experiment, target, uri),
            partial(registry.set_champion, experiment, current, uri),
        )
    for move in moves:
        steps.run(
            f"alias {move.name}@production",
            partial(registry.set_prompt_alias, move.name, registry.PRODUCTION, move.after, uri),
            partial(registry.set_prompt_alias, move.name, registry.PRODUCTION, move.before, uri),
        )
