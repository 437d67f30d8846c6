"""The MLflow Prompt Registry: every prompt version a run uses is registered once, and
the ``production`` alias points at the champion's prompt.

The registry numbers versions itself (1, 2, 3 ...); the workbench's own version and the
template's content hash are tags, so identical content is never registered twice and a
run links to the exact text it used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.errors import NotFoundError
from workbench.tracking._store import delete_unless_missing, process_client, unless_missing

if TYPE_CHECKING:
    from mlflow.entities.model_registry import PromptVersion

    from workbench.prompts import PromptTemplate

TAG_VERSION = "workbench.version"
TAG_HASH = "workbench.content_hash"
PRODUCTION = "production"


def registry_name(prompt: PromptTemplate, experiment: str) -> str:
    """Registry names are global: prefix the experiment so two projects don't collide."""
    return f"{experiment}.{prompt.name}"


def find_version(client: Any, name: str, content_hash: str) -> PromptVersion | None:
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_prompt_versions(name, max_results=1000)
    except MlflowException:
        return None
    for version in versions:
        if (version.tags or {}).get(TAG_HASH) == content_hash:
            return version
    return None


def register_prompt(client: Any, prompt: PromptTemplate, experiment: str) -> PromptVersion:
    """The registry version holding exactly this template (registered if new)."""
    name = registry_name(prompt, experiment)
    existing = find_version(client, name, prompt.content_hash)
    if existing is not None:
        return existing
    return client.register_prompt(
        name=name,
        template=prompt.registry_template(),
        commit_message=f"{prompt.ref}: {prompt.description}"[:500],
        tags={
            TAG_VERSION: str(prompt.version),
            TAG_HASH: prompt.content_hash,
            "workbench.prompt": prompt.name,
        },
    )


def prompt_uri(version: PromptVersion) -> str:
    return f"prompts:/{version.name}/{version.version}"


# --------------------------------------------------------------------------- aliases


@dataclass(frozen=True)
class PromptInfo:
    """One version of a registered prompt, as the promotion service sees it."""

    name: str
    version: str
    template: Any
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"prompts:/{self.name}/{self.version}"


def prompt_alias(name: str, alias: str = PRODUCTION, uri: str | None = None) -> str | None:
    """The prompt version ``alias`` points at (None when the alias is not set)."""
    mlflow_client = process_client(uri)
    found = unless_missing(
        lambda: mlflow_client.get_prompt_version_by_alias(name, alias),
        f"reading prompt alias {name}@{alias}",
    )
    return None if found is None else str(found.version)


def set_prompt_alias(name: str, alias: str, number: str | None, uri: str | None = None) -> None:
    """Point prompt alias ``alias`` at version ``number`` (None removes it)."""
    mlflow_client = process_client(uri)
    if number is None:
        delete_unless_missing(lambda: mlflow_client.delete_prompt_alias(name, alias))
    else:
        mlflow_client.set_prompt_alias(name, alias, int(number))


def prompt_version(name: str, number: str | int, uri: str | None = None) -> PromptInfo:
    """One prompt version; NotFoundError when the registry has none of that number."""
    mlflow_client = process_client(uri)
    try:
        pv = mlflow_client.get_prompt_version(name, str(number))
    except Exception as exc:
        raise NotFoundError(f"the Prompt Registry has no prompt {name} version {number}") from exc
    if pv is None:
        raise NotFoundError(f"the Prompt Registry has no prompt {name} version {number}")
    return PromptInfo(
        name=pv.name, version=str(pv.version), template=pv.template, tags=dict(pv.tags or {})
    )
