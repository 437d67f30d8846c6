"""Every prompt version a run uses is registered in the MLflow Prompt Registry once.

The registry numbers versions itself (1, 2, 3 ...); the workbench's own version and the
template's content hash are tags, so identical content is never registered twice and a
run links to the exact text it used.
"""

from __future__ import annotations

from typing import Any

from workbench.prompts import PromptTemplate

TAG_VERSION = "workbench.version"
TAG_HASH = "workbench.content_hash"


def registry_name(prompt: PromptTemplate, experiment: str) -> str:
    """Registry names are global: prefix the experiment so two projects don't collide."""
    return f"{experiment}.{prompt.name}"


def find_version(client: Any, name: str, content_hash: str) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_prompt_versions(name, max_results=1000)
    except MlflowException:
        return None
    for version in versions:
        if (version.tags or {}).get(TAG_HASH) == content_hash:
            return version
    return None


def register_prompt(client: Any, prompt: PromptTemplate, experiment: str) -> Any:
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


def prompt_uri(version: Any) -> str:
    return f"prompts:/{version.name}/{version.version}"
