"""Versioned prompt templates (registered in the MLflow Prompt Registry by tracking)."""

from workbench.prompts._template import (
    NO_CONTEXT,
    VARIABLES,
    PromptTemplate,
    available,
    format_context,
    load_prompt,
    parse_prompt,
)

__all__ = [
    "NO_CONTEXT",
    "VARIABLES",
    "PromptTemplate",
    "available",
    "format_context",
    "load_prompt",
    "parse_prompt",
]
