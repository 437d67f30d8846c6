"""Short forms in the grid (``llama_cpp:smollm2-135m``, ``bm25``) resolved to full specs."""

from __future__ import annotations

from workbench.errors import ConfigError, did_you_mean
from workbench.plugins import PROVIDERS, RETRIEVERS
from workbench.spec._models import ExperimentSpec, ModelSpec, RetrieverSpec


def resolve_model(
    ref: str | ModelSpec, spec: ExperimentSpec, *, field: str, where: str
) -> ModelSpec:
    """Expand ``provider:model`` short forms and names defined under ``models:``."""
    if isinstance(ref, ModelSpec):
        return ref
    if ref in spec.models:
        named = spec.models[ref]
        return named if named.name else named.model_copy(update={"name": ref})
    provider, sep, model = ref.partition(":")
    if not sep:
        hint = did_you_mean(ref, spec.models)
        raise ConfigError(
            f"{field}: unknown model '{ref}'",
            where=where,
            hint=hint
            or "write provider:model (e.g. llama_cpp:smollm2-135m) or define it under models:",
        )
    if provider not in PROVIDERS:
        raise ConfigError(
            f"{field}: unknown model provider '{provider}'",
            where=where,
            hint=PROVIDERS.hint(provider),
        )
    if provider == "openai":
        return ModelSpec(provider="openai", model=model, api_key_env="OPENAI_API_KEY")
    return ModelSpec(provider=provider, model=model)


def resolve_retriever(
    ref: str | RetrieverSpec, spec: ExperimentSpec, *, field: str, where: str
) -> RetrieverSpec:
    """Expand a retriever type (``bm25``) or a name defined under ``retrievers:``."""
    if isinstance(ref, RetrieverSpec):
        resolved = ref
    elif ref in spec.retrievers:
        named = spec.retrievers[ref]
        resolved = named if named.name else named.model_copy(update={"name": ref})
    elif ref in RETRIEVERS:
        resolved = RetrieverSpec(type=ref)
    else:
        hint = did_you_mean(ref, [*spec.retrievers, *RETRIEVERS.names()])
        raise ConfigError(
            f"{field}: unknown retriever '{ref}'",
            where=where,
            hint=hint or f"known: {', '.join(RETRIEVERS.names())}, or define it under retrievers:",
        )
    if resolved.type != "none" and spec.corpus is None:
        raise ConfigError(
            f"{field}: retriever '{resolved.label}' needs documents to search",
            where=where,
            hint="add a corpus: section (path: corpora/<folder>)",
        )
    return resolved
