"""Providers are registered as ``"module:Class"`` strings and imported on first use.

Plugin modules (``WORKBENCH_PLUGINS``, ``[plugins]`` in workbench.toml) are imported before
the first lookup, so the providers they register are known everywhere.
"""

from __future__ import annotations

import importlib
from typing import Any

from workbench._plugins import load_plugins
from workbench.errors import ConfigError, did_you_mean
from workbench.spec import ModelSpec

_PROVIDERS: dict[str, str] = {
    "llama_cpp": "workbench.models._llama_cpp:LlamaCppModel",
    "openai": "workbench.models._openai:OpenAIModel",
}


def register(name: str, target: str) -> None:
    """Register a provider class by import path, e.g. ``register("my", "pkg.mod:MyModel")``."""
    if ":" not in target:
        raise ConfigError(f"provider target '{target}' must look like 'package.module:Class'")
    _PROVIDERS[name] = target


def providers() -> list[str]:
    load_plugins()
    return sorted(_PROVIDERS)


def provider_class(name: str) -> type[Any]:
    load_plugins()
    try:
        target = _PROVIDERS[name]
    except KeyError:
        hint = did_you_mean(name, _PROVIDERS) or f"known: {', '.join(providers())}"
        raise ConfigError(f"unknown model provider '{name}'", hint=hint) from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_model(spec: ModelSpec, *, usd_per_hour: float = 0.0) -> Any:
    """Instantiate the provider for ``spec`` (cheap: weights load on the first call)."""
    return provider_class(spec.provider)(spec, usd_per_hour=usd_per_hour)
