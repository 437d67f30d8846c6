"""Spec validation: short forms, overrides and errors that name file, line, field and fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import write_spec
from workbench.errors import ConfigError
from workbench.spec import SCHEMA_PATH, ExperimentSpec, load_spec, resolve_model, resolve_retriever

GOOD = """\
name: demo
dataset: {path: datasets/acme_golden.jsonl}
corpus: {path: corpora/acme}
grid:
  prompt: [qa_terse@1]
  model: [llama_cpp:smollm2-135m]
  retriever: [none, bm25]
"""


def test_valid_spec_loads_with_defaults(tmp_path: Path) -> None:
    source = load_spec(write_spec(tmp_path, GOOD))
    spec = source.spec
    assert spec.name == "demo"
    assert spec.execution.concurrency == 1
    assert spec.params.temperature == 0.0
    assert source.resolve("corpora/acme") == (tmp_path / "corpora" / "acme").resolve()


def test_overrides_are_parsed_as_yaml(tmp_path: Path) -> None:
    source = load_spec(
        write_spec(tmp_path, GOOD),
        overrides=["execution.concurrency=4", "grid.retriever=[dense]", "dataset.sample=null"],
    )
    assert source.spec.execution.concurrency == 4
    assert source.spec.grid.retriever == ["dense"]
    assert source.spec.dataset.sample is None


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("execution:", "execution:\n  concurency: 2\nx:"),
            "execution.concurency: unknown field (did you mean 'concurrency'?)",
        ),
        (
            ("  model: [llama_cpp:smollm2-135m]", "  model: [{provider: opnai, model: m}]"),
            "grid.model[0].provider: unknown model provider 'opnai' (did you mean 'openai'?)",
        ),
        (
            ("  prompt: [qa_terse@1]", "  prompt: []"),
            "grid.prompt: List should have at least 1 item",
        ),
        (("name: demo", "name: 'bad name!'"), "name: String should match pattern"),
        (
            ("grid:", "grid:\n  params: {temprature: [0.5]}"),
            "unknown generation parameter 'temprature' (did you mean 'temperature'?)",
        ),
    ],
)
def test_errors_name_the_field_and_the_fix(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    text = GOOD + "execution:\n  seed: 1\n"
    text = text.replace(*edit, 1)
    with pytest.raises(ConfigError) as info:
        load_spec(write_spec(tmp_path, text))
    message = str(info.value)
    assert str(tmp_path / "exp.yaml") in message
    assert expected in message


def test_error_points_at_the_line(tmp_path: Path) -> None:
    text = GOOD.replace("  retriever: [none, bm25]", "  retriever: [none, bm25]\n  colour: red")
    with pytest.raises(ConfigError, match=r"line 8: grid.colour: unknown field"):
        load_spec(write_spec(tmp_path, text))


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"exp.yaml:4: invalid YAML"):
        load_spec(write_spec(tmp_path, "name: x\ngrid:\n  prompt: [a\n  model: b\n"))


def test_missing_file_suggests_a_near_name(tmp_path: Path) -> None:
    write_spec(tmp_path, GOOD, name="quickstart.yaml")
    with pytest.raises(ConfigError, match="did you mean 'quickstart.yaml'"):
        load_spec(tmp_path / "quikstart.yaml")


def test_bad_override_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--set"):
        load_spec(write_spec(tmp_path, GOOD), overrides=["execution.concurrency"])
    with pytest.raises(
        ConfigError, match="execution.concurrency: Input should be greater than or equal to 1"
    ):
        load_spec(write_spec(tmp_path, GOOD), overrides=["execution.concurrency=0"])


def test_short_forms_resolve(tmp_path: Path) -> None:
    text = (
        GOOD
        + "models:\n  local-server: {provider: openai, model: smol, base_url: 'http://127.0.0.1:9/v1'}\n"
    )
    spec = load_spec(write_spec(tmp_path, text)).spec
    m = resolve_model("llama_cpp:gemma-3-270m", spec, field="f", where="w")
    assert (m.provider, m.model) == ("llama_cpp", "gemma-3-270m")
    named = resolve_model("local-server", spec, field="f", where="w")
    assert named.base_url == "http://127.0.0.1:9/v1" and named.label == "local-server"
    remote = resolve_model("openai:gpt-4o-mini", spec, field="f", where="w")
    assert remote.api_key_env == "OPENAI_API_KEY"
    with pytest.raises(ConfigError, match="did you mean 'local-server'"):
        resolve_model("local-servr", spec, field="grid.model[0]", where="w")
    with pytest.raises(
        ConfigError, match=r"grid.model\[2\]: unknown model provider 'opnai'.*did you mean 'openai'"
    ):
        resolve_model("opnai:x", spec, field="grid.model[2]", where="w")
    assert resolve_retriever("bm25", spec, field="f", where="w").type == "bm25"
    with pytest.raises(ConfigError, match="did you mean 'dense'"):
        resolve_retriever("dens", spec, field="grid.retriever[0]", where="w")


def test_retriever_without_corpus_is_refused(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, GOOD.replace("corpus: {path: corpora/acme}\n", ""))).spec
    with pytest.raises(ConfigError, match="needs documents to search"):
        resolve_retriever("bm25", spec, field="grid.retriever[1]", where="w")


def test_checked_in_schema_is_current() -> None:
    """The JSON schema editors use must match the models (regenerate: workbench schema)."""
    assert json.loads(SCHEMA_PATH.read_text()) == json.loads(
        json.dumps(ExperimentSpec.model_json_schema(), sort_keys=True)
    )


def test_model_path_is_relative_to_the_spec_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = GOOD + "models:\n  mine: {provider: llama_cpp, path: models/tiny.gguf}\n"
    text += "  home: {provider: llama_cpp, path: /opt/m.gguf}\n"
    text += "judge: {model: {provider: llama_cpp, path: judge.gguf}}\n"
    (tmp_path / "exp").mkdir()
    spec_file = write_spec(tmp_path / "exp", text)
    monkeypatch.chdir(tmp_path)  # somewhere else than the spec's folder
    spec = load_spec(spec_file).spec
    assert spec.models["mine"].path == str((tmp_path / "exp" / "models" / "tiny.gguf").resolve())
    assert spec.models["home"].path == "/opt/m.gguf"
    assert spec.judge is not None and not isinstance(spec.judge.model, str)
    assert spec.judge.model.path == str((tmp_path / "exp" / "judge.gguf").resolve())
