"""One plugin mechanism for model providers, retrievers and scorers (workbench.plugins).

Each behaviour is checked for the three kinds alike: an installed package's entry point
(a real ``*.dist-info`` on ``sys.path``), an in-process ``register``, "did you mean" for
an unknown name, and lazy loading (a target's module is imported on first use only).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import workbench.testing as wt
from tests.conftest import write_spec
from workbench.errors import ConfigError, RetrieverError
from workbench.plugins import PROVIDERS, RETRIEVERS, SCORERS, Registry
from workbench.records import NullProgress
from workbench.retrievers import Passage, build_retriever
from workbench.scoring import ScorerDef, ScoringContext, select
from workbench.spec import ModelSpec, RetrieverSpec, load_spec

PROVIDER_SOURCE = """
from workbench.testing import ScriptedModel

class Plugged(ScriptedModel):
    pass
"""

RETRIEVER_SOURCE = """
from workbench.retrievers import Passage

class Plugged:
    def __init__(self, spec, corpus):
        self.spec, self.corpus = spec, corpus

    def retrieve(self, query, *, k):
        doc = self.corpus.documents[0] if self.corpus is not None else None
        text = "The plugged passage.\\nMore." if doc is None else doc.text
        return [Passage("c1", doc.id if doc else "d1", "Plugged", text, 1.0, 1)][:k]
"""

SCORER_SOURCE = """
from workbench.records import MetricInfo, Score
from workbench.scoring import scorer

class _Length:
    metrics = (MetricInfo("{name}", higher_is_better=False),)

    def __call__(self, item):
        return [Score("{name}", float(len(item.answer)))]

@scorer("{name}", metrics=_Length.metrics, default=False)
def Plugged(ctx):
    return _Length()
"""


@dataclass(frozen=True)
class Kind:
    registry: Registry[Any]
    source: str
    builtin: str
    typo: str
    suggestion: str

    def check(self, name: str, loaded: object) -> None:
        """``loaded`` is what the registry hands out for the plugin ``name``."""
        if self.registry is SCORERS:
            assert isinstance(loaded, ScorerDef) and loaded.name == name
            assert loaded.metrics[0].higher_is_better is False  # metadata stays with it
        else:
            assert callable(loaded) and loaded.__name__ == "Plugged"  # type: ignore[attr-defined]


KINDS = {
    "providers": Kind(PROVIDERS, PROVIDER_SOURCE, "openai", "opnai", "openai"),
    "retrievers": Kind(RETRIEVERS, RETRIEVER_SOURCE, "bm25", "bm52", "bm25"),
    "scorers": Kind(SCORERS, SCORER_SOURCE, "rouge_l", "rouge_k", "rouge_l"),
}


class Plugins:
    """Writes plugin modules (and installed distributions) under tmp_path; undoes it all."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.modules: list[str] = []
        self.names: list[tuple[Registry[Any], str]] = []
        sys.path.insert(0, str(folder))

    def module(self, kind: Kind) -> tuple[str, str]:
        """A new plugin module for ``kind``: (plugin name, module name), not imported."""
        name = f"plug_{uuid.uuid4().hex[:8]}"
        module = f"wbplug_{name}"
        (self.folder / f"{module}.py").write_text(kind.source.replace("{name}", name))
        self.modules.append(module)
        self.names.append((kind.registry, name))
        return name, module

    def install(self, group: str, entries: dict[str, str]) -> None:
        """A distribution whose entry points in ``group`` are ``entries``."""
        dist = self.folder / f"wbplug_dist_{uuid.uuid4().hex[:8]}-0.1.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist.stem}\nVersion: 0.1\n")
        lines = "".join(f"{name} = {target}\n" for name, target in entries.items())
        (dist / "entry_points.txt").write_text(f"[{group}]\n{lines}")

    def close(self) -> None:
        sys.path.remove(str(self.folder))
        for module in self.modules:
            sys.modules.pop(module, None)
        for registry, name in self.names:
            registry.unregister(name)
        for registry in (PROVIDERS, RETRIEVERS, SCORERS):
            registry.refresh()


@pytest.fixture
def plugins(tmp_path: Path) -> Iterator[Plugins]:
    made = Plugins(tmp_path / "site")
    made.folder.mkdir()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


# ------------------------------------------------------------------ the three kinds alike


def test_an_installed_entry_point_is_found_and_loaded_on_first_use(
    plugins: Plugins, kind: Kind
) -> None:
    name, module = plugins.module(kind)
    plugins.install(kind.registry.group, {name: f"{module}:Plugged"})
    kind.registry.refresh()

    assert name in kind.registry.names() and name in kind.registry
    assert module not in sys.modules and not kind.registry.is_loaded(name)
    kind.check(name, kind.registry.get(name))
    assert module in sys.modules and kind.registry.is_loaded(name)


def test_an_in_process_registration_is_imported_on_first_use(plugins: Plugins, kind: Kind) -> None:
    name, module = plugins.module(kind)
    kind.registry.register(name, f"{module}:Plugged")

    assert name in kind.registry.names()
    assert module not in sys.modules
    kind.check(name, kind.registry.get(name))
    assert module in sys.modules


def test_an_unknown_name_says_did_you_mean(kind: Kind) -> None:
    with pytest.raises(ConfigError) as info:
        kind.registry.get(kind.typo)
    assert str(info.value) == (
        f"unknown {kind.registry.kind} '{kind.typo}' (did you mean '{kind.suggestion}'?)"
    )
    far = kind.registry.unknown("zzzzzzzz")
    assert kind.builtin in (far.hint or "") and (far.hint or "").startswith("known: ")


def test_an_entry_point_cannot_replace_a_built_in_but_register_can(
    plugins: Plugins, kind: Kind
) -> None:
    _, module = plugins.module(kind)
    plugins.install(kind.registry.group, {kind.builtin: f"{module}:Plugged"})
    kind.registry.refresh()
    original = kind.registry.get(kind.builtin)
    assert module not in sys.modules  # the installed entry point was never loaded

    kind.registry.register(kind.builtin, f"{module}:Plugged")
    try:
        assert kind.registry.get(kind.builtin) is not original
    finally:
        kind.registry.unregister(kind.builtin)
    assert kind.registry.get(kind.builtin) is original


def test_a_broken_plugin_is_a_config_error_naming_it(plugins: Plugins, kind: Kind) -> None:
    plugins.install(kind.registry.group, {"broken": "wbplug_no_such_module:Thing"})
    kind.registry.refresh()
    assert "broken" in kind.registry.names()  # listing names imports nothing
    with pytest.raises(ConfigError, match=r"cannot load .* 'broken' from 'wbplug_no_such_module"):
        kind.registry.get("broken")
    with pytest.raises(ConfigError, match="must look like 'package.module:attr'"):
        kind.registry.register("bad", "no_colon")


def test_built_ins_are_named_without_importing_them() -> None:
    """The spec layer validates names against the registries without importing models,
    retrievers or scorers (a fresh interpreter, so nothing was imported before)."""
    code = textwrap.dedent(
        """
        import sys
        from workbench.spec import ModelSpec, RetrieverSpec
        from workbench.plugins import SCORERS
        ModelSpec(provider="openai", model="m")
        RetrieverSpec(type="hybrid")
        assert "rouge_l" in SCORERS
        loaded = sorted(m for m in sys.modules if m.split(".")[:2] in (
            ["workbench", "models"], ["workbench", "retrievers"], ["workbench", "scoring"]))
        print(loaded)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ through the spec and a run


def test_the_spec_accepts_registered_names_and_suggests_near_ones(plugins: Plugins) -> None:
    name, module = plugins.module(KINDS["retrievers"])
    plugins.install("workbench.retrievers", {name: f"{module}:Plugged"})
    RETRIEVERS.refresh()
    assert RetrieverSpec(type=name).type == name
    with pytest.raises(ValueError, match=rf"unknown retriever '{name}x' \(did you mean '{name}'"):
        RetrieverSpec(type=f"{name}x")
    with pytest.raises(ValueError, match=r"unknown model provider 'opnai' \(did you mean"):
        ModelSpec(provider="opnai", model="m")


def test_a_retriever_plugin_serves_a_run(plugins: Plugins, acme_dir: Path) -> None:
    from workbench.runner import generate_all, plan, retrieve_all

    name, module = plugins.module(KINDS["retrievers"])
    plugins.install("workbench.retrievers", {name: f"{module}:Plugged"})
    RETRIEVERS.refresh()
    scorer_name, scorer_module = plugins.module(KINDS["scorers"])
    plugins.install("workbench.scorers", {scorer_name: f"{scorer_module}:Plugged"})
    SCORERS.refresh()
    wt.script("first_line", lambda m: m[-1].content.split("[1]", 1)[1].split("\n")[1][:80])

    spec = f"""\
name: plugged
dataset: {{path: datasets/acme_golden.jsonl, sample: 3}}
corpus: {{path: corpora/acme}}
grid:
  prompt: [qa_terse@1]
  model: [scripted:first_line]
  retriever: [{name}]
scorers: [{scorer_name}]
"""
    the_plan = plan(load_spec(write_spec(acme_dir, spec)))
    assert [v.retriever.type for v in the_plan.variants] == [name]
    retrievals = retrieve_all(the_plan, NullProgress())
    first_doc = the_plan.corpus.documents[0]  # type: ignore[union-attr]
    assert all(r.passages[0].doc_id == first_doc.id for r in retrievals.values())
    records = generate_all(the_plan, retrievals, None, NullProgress())
    assert len(records) == 3 and all(r.generation.ok for r in records)
    assert all(r.generation.text.strip() in first_doc.text for r in records)

    (chosen,) = select(the_plan.spec.scorers, judge=False)
    assert chosen.name == scorer_name and chosen.factory(ScoringContext()).metrics[0].name


def test_build_retriever_batches_a_one_query_retriever_and_needs_a_corpus() -> None:
    class OneAtATime:
        def __init__(self, spec: RetrieverSpec, corpus: object):
            self.spec = spec

        def retrieve(self, query: str, *, k: int) -> list[Passage]:
            return [Passage("c", "d", "t", query, 1.0, 1)]

    RETRIEVERS.register("one_at_a_time", OneAtATime)
    try:
        spec = RetrieverSpec(type="one_at_a_time")
        with pytest.raises(RetrieverError, match="needs a corpus"):
            build_retriever(spec, None)
        built = build_retriever(spec, object())  # type: ignore[arg-type]
        assert [p[0].text for p in built.retrieve_many(["a", "b"], k=1)] == ["a", "b"]
    finally:
        RETRIEVERS.unregister("one_at_a_time")
    with pytest.raises(ValueError, match="unknown retriever 'one_at_a_time'"):
        RetrieverSpec(type="one_at_a_time")


# ------------------------------------------------------------------ the registry itself


def test_a_fresh_registry_orders_built_ins_first_and_converts_what_it_loads() -> None:
    seen: list[str] = []

    def convert(name: str, obj: object) -> Callable[..., object]:
        seen.append(name)
        assert callable(obj)
        return obj

    registry: Registry[Callable[..., object]] = Registry(
        "widget",
        "workbench.test-widgets",
        {"zeta": "json:dumps", "alpha": "json:loads"},
        convert=convert,
    )
    registry.register("mid", "textwrap:dedent")
    assert registry.names() == ["alpha", "mid", "zeta"]
    assert list(registry.load_all()) == ["zeta", "alpha", "mid"]
    registry.get("zeta")
    assert seen == ["zeta", "alpha", "mid"]  # loaded once, then cached
    with pytest.raises(ConfigError, match=r"unknown widget 'alhpa' \(did you mean 'alpha'\?\)"):
        registry.get("alhpa")


def test_plugin_modules_from_the_environment_are_loaded_before_a_lookup(
    plugins: Plugins, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, module = plugins.module(KINDS["providers"])
    (plugins.folder / f"{module}_reg.py").write_text(
        f"from workbench.models import register\nregister({name!r}, '{module}:Plugged')\n"
    )
    plugins.modules.append(f"{module}_reg")
    monkeypatch.setenv("WORKBENCH_PLUGINS", f"{module}_reg")
    assert name in PROVIDERS.names() and module not in sys.modules
    KINDS["providers"].check(name, PROVIDERS.get(name))
