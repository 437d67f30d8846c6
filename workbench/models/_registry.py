"""Providers are registered as ``"module:Class"`` strings and imported on first use.

Plugins: ``WORKBENCH_PLUGINS=pkg.mod,other.mod`` names modules imported before the first
provider lookup, so a provider (or scorer) they register is known to every entry point,
the ``workbench`` command included.
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import Any

from workbench.errors import ConfigError, did_you_mean
from workbench.spec import ModelSpec

PLUGINS_ENV = "WORKBENCH_PLUGINS"

_PROVIDERS: dict[str, str] = {
    "llama_cpp": "workbench.models._llama_cpp:LlamaCppModel",
    "openai": "workbench.models._openai:OpenAIModel",
}
_PLUGINS_LOADED: set[str] = set()
_PLUGINS_LOCK = threading.RLock()


def load_plugins() -> None:
    """Import the modules named in ``$WORKBENCH_PLUGINS`` (comma-separated), once each."""
    names = [n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(",") if n.strip()]
    with _PLUGINS_LOCK:
        for name in names:
            if name in _PLUGINS_LOADED:
                continue
            _PLUGINS_LOADED.add(name)  # before the import: a plugin may look providers up
            try:
                importlib.import_module(name)
            except Exception as exc:  # a missing module or one that fails on import
                _PLUGINS_LOADED.discard(name)
                raise ConfigError(
                    f"{PLUGINS_ENV}: cannot import plugin module '{name}' "
                    f"({type(exc).__name__}: {exc})",
                    hint="fix the module name or the PYTHONPATH",
                ) from None


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
