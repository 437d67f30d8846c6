"""Model providers by name, through the one plugin registry (:data:`workbench.plugins.PROVIDERS`).

Built-in providers are ``"module:Class"`` strings imported on first use; installed packages
add theirs through the ``workbench.providers`` entry-point group, code through
:func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.plugins import PROVIDERS
from workbench.spec import ModelSpec


def register(name: str, target: str | Callable[..., Any]) -> None:
    """Register a provider: ``register("my", "pkg.mod:MyModel")`` (imported on first use)
    or the class itself. It is called as ``MyModel(spec, usd_per_hour=...)``."""
    PROVIDERS.register(name, target)


def providers() -> list[str]:
    return PROVIDERS.names()


def provider_class(name: str) -> Callable[..., Any]:
    """The provider's class; an unknown name is a ConfigError with "did you mean"."""
    return PROVIDERS.get(name)


def build_model(spec: ModelSpec, *, usd_per_hour: float = 0.0) -> Any:
    """Instantiate the provider for ``spec`` (cheap: weights load on the first call)."""
    return PROVIDERS.get(spec.provider)(spec, usd_per_hour=usd_per_hour)
