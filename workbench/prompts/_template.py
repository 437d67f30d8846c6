"""Versioned prompt templates: ``experiments/prompts/<name>.v<version>.yaml``.

A template is a list of chat messages with ``{{question}}`` and ``{{context}}``
placeholders (MLflow Prompt Registry syntax). Completion-mode (base) models get the
same messages joined as plain text, so one template serves both kinds of model.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from workbench import _paths
from workbench.errors import ConfigError, did_you_mean
from workbench.models import Message

VARIABLES = ("question", "context")
NO_CONTEXT = "(no documents were retrieved)"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_FILE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)\.v(?P<version>\d+)\.ya?ml$")


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: int
    messages: tuple[tuple[str, str], ...]
    """(role, content) pairs with ``{{question}}`` / ``{{context}}`` placeholders."""
    description: str = ""
    path: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def content_hash(self) -> str:
        payload = json.dumps([self.name, self.version, self.messages])
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def uses_context(self) -> bool:
        return any("context" in _PLACEHOLDER.findall(content) for _, content in self.messages)

    def render(self, question: str, contexts: Sequence[tuple[str, str]] = ()) -> list[Message]:
        """Fill the placeholders; ``contexts`` are (title, text) pairs, numbered from 1."""
        values = {"question": question.strip(), "context": format_context(contexts)}
        return [
            Message(role=role, content=_PLACEHOLDER.sub(lambda m: values[m.group(1)], content))
            for role, content in self.messages
        ]

    def registry_template(self) -> list[dict[str, str]]:
        """The template in MLflow Prompt Registry form (chat messages)."""
        return [{"role": role, "content": content} for role, content in self.messages]


def format_context(contexts: Sequence[tuple[str, str]]) -> str:
    if not contexts:
        return NO_CONTEXT
    return "\n\n".join(
        f"[{i}] {title}\n{text.strip()}" for i, (title, text) in enumerate(contexts, 1)
    )


def available(prompts_dir: Path) -> dict[str, list[int]]:
    """Prompt name -> sorted versions found in ``prompts_dir``."""
    found: dict[str, list[int]] = {}
    if _paths.is_dir(prompts_dir):
        for path in prompts_dir.iterdir():
            if m := _FILE.match(path.name):
                found.setdefault(m["name"], []).append(int(m["version"]))
    return {name: sorted(versions) for name, versions in found.items()}


def load_prompt(ref: str, prompts_dir: Path) -> PromptTemplate:
    """``qa_terse@2`` -> ``prompts_dir/qa_terse.v2.yaml``; ``qa_terse`` -> its newest version."""
    name, _, version_text = ref.partition("@")
    found = available(prompts_dir)
    if name not in found:
        hint = did_you_mean(name, found) or (
            f"prompts in {prompts_dir}: {', '.join(sorted(found))}"
            if found
            else f"add {prompts_dir}/{name}.v1.yaml"
        )
        raise ConfigError(f"unknown prompt '{name}'", hint=hint)
    if version_text:
        number = version_text.isascii() and version_text.isdigit()  # '¹'.isdigit() is True
        if not number or int(version_text) not in found[name]:
            raise ConfigError(
                f"prompt '{name}' has no version '{version_text}'",
                hint=f"versions: {', '.join(map(str, found[name]))}",
            )
        version = int(version_text)
    else:
        version = found[name][-1]
    path = next(prompts_dir.glob(f"{name}.v{version}.y*ml"))
    return parse_prompt(path)


def parse_prompt(path: Path) -> PromptTemplate:
    m = _FILE.match(path.name)
    if not m:
        raise ConfigError("prompt files are named <name>.v<version>.yaml", where=path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", where=path) from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("messages"), list)
        or not data["messages"]
    ):
        raise ConfigError("a prompt file needs a non-empty 'messages' list", where=path)
    unknown = set(data) - {"name", "version", "description", "messages"}
    if unknown:
        raise ConfigError(f"unknown field(s): {', '.join(sorted(unknown))}", where=path)
    if (
        str(data.get("name", m["name"])) != m["name"]
        or str(data.get("version", m["version"])) != m["version"]
    ):
        raise ConfigError(
            "name/version inside the file disagree with its file name",
            where=path,
            hint=f"expected {m['name']} v{m['version']}",
        )
    messages: list[tuple[str, str]] = []
    for i, item in enumerate(data["messages"]):
        if not isinstance(item, dict) or set(item) != {"role", "content"}:
            raise ConfigError(f"messages[{i}] needs exactly 'role' and 'content'", where=path)
        role, content = item["role"], item["content"]
        if role not in ("system", "user", "assistant"):
            raise ConfigError(
                f"messages[{i}].role '{role}' must be system, user or assistant", where=path
            )
        for var in _PLACEHOLDER.findall(str(content)):
            if var not in VARIABLES:
                hint = did_you_mean(var, VARIABLES) or f"available: {', '.join(VARIABLES)}"
                raise ConfigError(
                    f"messages[{i}]: unknown placeholder {{{{{var}}}}}", where=path, hint=hint
                )
        messages.append((role, str(content)))
    if not any("question" in _PLACEHOLDER.findall(c) for _, c in messages):
        raise ConfigError("the template never uses {{question}}", where=path)
    return PromptTemplate(
        name=m["name"],
        version=int(m["version"]),
        messages=tuple(messages),
        description=str(data.get("description", "")),
        path=str(path),
    )
