"""Plugins: model providers, scorers and retrievers, all registered one way.

Each kind has one :class:`Registry`. The built-in entries are ``"module:attr"`` strings
imported on first use; installed packages add theirs through entry points::

    # a plugin package's pyproject.toml
    [project.entry-points."workbench.providers"]
    my_llm = "my_pkg.models:MyModel"
    [project.entry-points."workbench.retrievers"]
    splade = "my_pkg.search:SpladeRetriever"
    [project.entry-points."workbench.scorers"]
    tone = "my_pkg.metrics:tone"          # a function decorated with @scorer("tone", ...)

and code registers more in-process: ``workbench.models.register("my_llm", "pkg:MyModel")``,
``workbench.retrievers.register(...)``, ``@workbench.scoring.scorer(...)``. Names are known
without importing any target, so the spec layer validates them here, below the packages
that implement them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.errors import ConfigError
from workbench.plugins._modules import PLUGINS_ENV, load_plugins, plugin_modules
from workbench.plugins._registry import Registry, import_target

__all__ = [
    "PLUGINS_ENV",
    "PROVIDERS",
    "RETRIEVERS",
    "SCORERS",
    "SCORER_ATTR",
    "Registry",
    "import_target",
    "load_plugins",
    "plugin_modules",
]

SCORER_ATTR = "__workbench_scorer__"
"""Set by ``@scorer`` on the factory it decorates: the factory's scorer definition."""


def _callable(kind: str) -> Callable[[str, object], Callable[..., Any]]:
    def convert(name: str, obj: object) -> Callable[..., Any]:
        if not callable(obj):
            raise ConfigError(f"{kind} '{name}' is a {type(obj).__name__}, not callable")
        return obj

    return convert


def _scorer_definition(name: str, obj: object) -> object:
    """A ``@scorer`` factory stands for its definition (checked by ``workbench.scoring``)."""
    return getattr(obj, SCORER_ATTR, obj)


PROVIDERS: Registry[Callable[..., Any]] = Registry(
    "model provider",
    "workbench.providers",
    {
        "llama_cpp": "workbench.models._llama_cpp:LlamaCppModel",
        "openai": "workbench.models._openai:OpenAIModel",
    },
    convert=_callable("model provider"),
)
"""Model classes, called as ``cls(spec: ModelSpec, *, usd_per_hour: float)``."""

RETRIEVERS: Registry[Callable[..., Any]] = Registry(
    "retriever",
    "workbench.retrievers",
    {
        "none": "workbench.retrievers._impl:NoRetriever",
        "bm25": "workbench.retrievers._impl:BM25Retriever",
        "dense": "workbench.retrievers._impl:DenseRetriever",
        "hybrid": "workbench.retrievers._impl:HybridRetriever",
    },
    convert=_callable("retriever"),
)
"""Retriever classes, called as ``cls(spec: RetrieverSpec, corpus: Corpus)``."""

_RAGAS = "workbench.scoring._ragas"
_JUDGE = "workbench.scoring._judge"
SCORERS: Registry[object] = Registry(
    "scorer",
    "workbench.scorers",
    {  # in this order: the default scorers' metrics come out in it
        "rank": "workbench.scoring._builtin:rank",
        "safety": "workbench.scoring._builtin:safety",
        "faithfulness": f"{_JUDGE}:faithfulness",
        "answer_relevancy": f"{_JUDGE}:answer_relevancy",
        "llm_context_precision": f"{_JUDGE}:llm_context_precision",
        "string_similarity": f"{_RAGAS}:string_similarity",
        "rouge_l": f"{_RAGAS}:rouge_l",
        "bleu": f"{_RAGAS}:bleu",
        "exact_match": f"{_RAGAS}:exact_match",
        "semantic_similarity": f"{_RAGAS}:semantic_similarity",
        "context": f"{_RAGAS}:context",
    },
    convert=_scorer_definition,
)
"""Scorer definitions (``workbench.scoring.ScorerDef``), made by ``@scorer``."""
