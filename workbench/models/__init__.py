"""Models: one protocol, a provider per module, loaded lazily by name."""

from workbench.models._call_cache import CallCache, call_key
from workbench.models._catalog import CATALOG, CatalogEntry
from workbench.models._registry import build_model, provider_class, providers, register
from workbench.models._retry import RetryPolicy
from workbench.models._types import (
    Generation,
    Message,
    Model,
    ModelInfo,
    Provider,
    Usage,
    messages_to_prompt,
)

__all__ = [
    "CATALOG",
    "CallCache",
    "CatalogEntry",
    "Generation",
    "Message",
    "Model",
    "ModelInfo",
    "Provider",
    "RetryPolicy",
    "Usage",
    "build_model",
    "call_key",
    "messages_to_prompt",
    "provider_class",
    "providers",
    "register",
]
