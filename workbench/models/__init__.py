"""Models: one protocol, a provider per module, loaded lazily by name."""

from workbench.models._catalog import CATALOG, CatalogEntry
from workbench.models._registry import build_model, provider_class, providers, register
from workbench.models._retry import RetryPolicy
from workbench.models._types import Generation, Message, Model, ModelInfo, Usage, messages_to_prompt

__all__ = [
    "CATALOG",
    "CatalogEntry",
    "Generation",
    "Message",
    "Model",
    "ModelInfo",
    "RetryPolicy",
    "Usage",
    "build_model",
    "messages_to_prompt",
    "provider_class",
    "providers",
    "register",
]
