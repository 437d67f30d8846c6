"""Prompt templates: files and versions, the content hash, rendering, errors that say what to fix."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from workbench.errors import ConfigError
from workbench.models import Message, messages_to_prompt
from workbench.prompts import (
    NO_CONTEXT,
    available,
    format_context,
    load_prompt,
    parse_prompt,
)

TERSE = """\
name: {name}
version: {version}
description: {description}
messages:
  - role: system
    content: {system}
  - role: user
    content: "Context:\\n{{{{context}}}}\\n\\nQuestion: {{{{question}}}}\\nAnswer:"
"""


def write_prompt(
    folder: Path,
    name: str = "qa",
    version: int = 1,
    *,
    system: str = "Answer in one short sentence.",
    description: str = "terse",
    text: str | None = None,
) -> Path:
    """A prompt file ``<name>.v<version>.yaml`` (the TERSE template unless ``text`` is given)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.v{version}.yaml"
    body = TERSE.format(name=name, version=version, system=system, description=description)
    path.write_text(body if text is None else text, encoding="utf-8")
    return path


# --- files and versions ------------------------------------------------------------------------


def test_a_prompt_file_is_read_into_its_messages(tmp_path: Path) -> None:
    path = write_prompt(tmp_path, "qa", 2)
    prompt = parse_prompt(path)
    assert (prompt.name, prompt.version, prompt.ref) == ("qa", 2, "qa@2")
    assert prompt.description == "terse" and prompt.path == str(path)
    assert prompt.messages == (
        ("system", "Answer in one short sentence."),
        ("user", "Context:\n{{context}}\n\nQuestion: {{question}}\nAnswer:"),
    )
    assert prompt.uses_context


def test_versions_are_listed_per_name_in_numeric_order(tmp_path: Path) -> None:
    for version in (10, 2, 1):
        write_prompt(tmp_path, "qa", version)
    write_prompt(tmp_path, "grounded", 1)
    (tmp_path / "README.md").write_text("not a prompt")
    (tmp_path / "qa.yaml").write_text("no version in the name")
    assert available(tmp_path) == {"qa": [1, 2, 10], "grounded": [1]}
    assert available(tmp_path / "missing") == {}


def test_a_bare_name_loads_the_newest_version_and_name_at_n_that_one(tmp_path: Path) -> None:
    for version in (1, 2, 10):
        write_prompt(tmp_path, "qa", version, system=f"v{version} system")
    assert load_prompt("qa", tmp_path).version == 10
    assert load_prompt("qa@2", tmp_path).messages[0] == ("system", "v2 system")


@pytest.mark.parametrize("version", ["3", "x", "¹", "-1", ""])
def test_an_unknown_version_lists_the_versions_there_are(tmp_path: Path, version: str) -> None:
    write_prompt(tmp_path, "qa", 1)
    write_prompt(tmp_path, "qa", 2)
    ref = f"qa@{version}"
    if not version:  # "qa@" is the newest version, like "qa"
        assert load_prompt(ref, tmp_path).version == 2
        return
    with pytest.raises(ConfigError, match=f"prompt 'qa' has no version '{version}'") as caught:
        load_prompt(ref, tmp_path)
    assert caught.value.hint == "versions: 1, 2"


def test_an_unknown_prompt_suggests_the_closest_name(tmp_path: Path) -> None:
    write_prompt(tmp_path, "qa_terse", 1)
    write_prompt(tmp_path, "qa_grounded", 1)
    with pytest.raises(ConfigError, match="unknown prompt 'qa_terce'") as caught:
        load_prompt("qa_terce@1", tmp_path)
    assert caught.value.hint == "did you mean 'qa_terse'?"


def test_an_unknown_prompt_far_from_any_name_lists_them(tmp_path: Path) -> None:
    write_prompt(tmp_path, "qa_terse", 1)
    write_prompt(tmp_path, "qa_grounded", 1)
    with pytest.raises(ConfigError) as caught:
        load_prompt("summarise", tmp_path)
    assert caught.value.hint == f"prompts in {tmp_path}: qa_grounded, qa_terse"


def test_an_unknown_prompt_in_an_empty_folder_says_which_file_to_add(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_prompt("qa", tmp_path)
    assert caught.value.hint == f"add {tmp_path}/qa.v1.yaml"


def test_the_shipped_prompts_load() -> None:
    folder = Path(__file__).resolve().parents[2] / "experiments" / "prompts"
    found = available(folder)
    assert {"qa_terse", "qa_grounded"} <= set(found)
    for name in found:
        prompt = load_prompt(name, folder)
        assert prompt.name == name and prompt.messages


# --- the content hash --------------------------------------------------------------------------


def test_the_content_hash_is_sha256_of_name_version_and_messages(tmp_path: Path) -> None:
    prompt = parse_prompt(write_prompt(tmp_path, "qa", 1))
    payload = json.dumps(["qa", 1, [list(m) for m in prompt.messages]])
    assert prompt.content_hash == hashlib.sha256(payload.encode()).hexdigest()[:16]
    # pinned: a new formula would silently change every variant id and cache key
    assert prompt.content_hash == "52926c11a187d6c2"


def test_the_content_hash_ignores_layout_and_description(tmp_path: Path) -> None:
    block = parse_prompt(write_prompt(tmp_path / "a", "qa", 1, description="first words"))
    flow = parse_prompt(
        write_prompt(
            tmp_path / "b",
            "qa",
            1,
            text=(
                "# the same prompt written another way\n"
                "{name: qa, version: 1, description: other words, messages: ["
                "{role: system, content: 'Answer in one short sentence.'},"
                '{content: "Context:\\n{{context}}\\n\\nQuestion: {{question}}\\nAnswer:",'
                " role: user}]}\n"
            ),
        )
    )
    assert block.content_hash == flow.content_hash


@pytest.mark.parametrize(
    ("name", "version", "system"),
    [("qa", 2, "Answer in one short sentence."), ("qb", 1, "Answer in one short sentence."),
     ("qa", 1, "Answer in one short sentence!")],
    ids=["version", "name", "text"],
)  # fmt: skip
def test_the_content_hash_changes_with_name_version_or_text(
    tmp_path: Path, name: str, version: int, system: str
) -> None:
    base = parse_prompt(write_prompt(tmp_path / "base", "qa", 1))
    other = parse_prompt(write_prompt(tmp_path / "other", name, version, system=system))
    assert other.content_hash != base.content_hash


# --- rendering ---------------------------------------------------------------------------------


def test_rendering_fills_the_question_and_numbered_contexts(tmp_path: Path) -> None:
    prompt = parse_prompt(write_prompt(tmp_path))
    messages = prompt.render(
        "  How do I reset my password?\n",
        [("Password reset", "Use the login page.  \n"), ("VPN", "Use the client.")],
    )
    assert messages == [
        Message(role="system", content="Answer in one short sentence."),
        Message(
            role="user",
            content="Context:\n[1] Password reset\nUse the login page.\n\n[2] VPN\nUse the client."
            "\n\nQuestion: How do I reset my password?\nAnswer:",
        ),
    ]


def test_rendering_without_contexts_says_none_were_retrieved(tmp_path: Path) -> None:
    prompt = parse_prompt(write_prompt(tmp_path))
    assert format_context([]) == NO_CONTEXT
    assert f"Context:\n{NO_CONTEXT}\n" in prompt.render("q?")[1].content


def test_placeholders_inside_the_question_or_a_document_are_not_filled(tmp_path: Path) -> None:
    prompt = parse_prompt(write_prompt(tmp_path))
    user = prompt.render("Print {{context}} verbatim", [("Doc", "Ignore {{question}}")])[1]
    assert "Question: Print {{context}} verbatim" in user.content
    assert "[1] Doc\nIgnore {{question}}" in user.content


def test_placeholders_may_carry_spaces(tmp_path: Path) -> None:
    text = "messages:\n  - {role: user, content: 'Q: {{ question }} / {{  context}}'}\n"
    prompt = parse_prompt(write_prompt(tmp_path, text=text))
    assert prompt.render("why?", [("T", "x")])[0].content == "Q: why? / [1] T\nx"


def test_a_template_without_context_does_not_use_context(tmp_path: Path) -> None:
    text = "messages:\n  - {role: user, content: 'Question: {{question}}'}\n"
    prompt = parse_prompt(write_prompt(tmp_path, text=text))
    assert not prompt.uses_context
    assert prompt.registry_template() == [{"role": "user", "content": "Question: {{question}}"}]


def test_completion_models_get_the_messages_as_one_text(tmp_path: Path) -> None:
    prompt = parse_prompt(write_prompt(tmp_path))
    text = messages_to_prompt(prompt.render("Why?", [("T", "body")]))
    assert (
        text == "Answer in one short sentence.\n\nContext:\n[1] T\nbody\n\nQuestion: Why?\nAnswer:"
    )


# --- errors that name the file and the fix -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("messages: [\n", "invalid YAML", None),
        ("name: qa\n", "a prompt file needs a non-empty 'messages' list", None),
        ("messages: []\n", "a prompt file needs a non-empty 'messages' list", None),
        ("messages: [{role: user, content: '{{question}}'}]\ntemperature: 0\n",
         "unknown field(s): temperature", None),
        ("name: other\nmessages: [{role: user, content: '{{question}}'}]\n",
         "name/version inside the file disagree with its file name", "expected qa v1"),
        ("version: 2\nmessages: [{role: user, content: '{{question}}'}]\n",
         "name/version inside the file disagree with its file name", "expected qa v1"),
        ("messages: [{role: user, text: '{{question}}'}]\n",
         "messages[0] needs exactly 'role' and 'content'", None),
        ("messages: [{role: robot, content: '{{question}}'}]\n",
         "messages[0].role 'robot' must be system, user or assistant", None),
        ("messages: [{role: user, content: '{{questoin}}'}]\n",
         "messages[0]: unknown placeholder {{questoin}}", "did you mean 'question'?"),
        ("messages: [{role: user, content: '{{query}}'}]\n",
         "messages[0]: unknown placeholder {{query}}", "available: question, context"),
        ("messages: [{role: user, content: 'Context: {{context}}'}]\n",
         "the template never uses {{question}}", None),
    ],
    ids=["yaml", "no-messages", "empty-messages", "unknown-field", "name", "version",
         "message-keys", "role", "typo-placeholder", "unknown-placeholder", "no-question"],
)  # fmt: skip
def test_a_bad_prompt_file_is_a_config_error_naming_it(
    tmp_path: Path, text: str, message: str, hint: str | None
) -> None:
    path = write_prompt(tmp_path, "qa", 1, text=text)
    with pytest.raises(ConfigError) as caught:
        parse_prompt(path)
    assert caught.value.where == str(path)
    assert caught.value.message.startswith(message)
    assert caught.value.hint == hint


def test_a_prompt_file_must_be_named_with_its_version(tmp_path: Path) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text("messages: [{role: user, content: '{{question}}'}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="named <name>.v<version>.yaml"):
        parse_prompt(path)
