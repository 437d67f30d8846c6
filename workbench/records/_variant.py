"""A variant (one point of the grid) and a plan (everything a run needs, resolved)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.data import Corpus, GoldenSet
from workbench.models import Provider
from workbench.prompts import PromptTemplate
from workbench.spec import ExperimentSpec, GenerationParams, ModelSpec, RetrieverSpec, SpecSource


def short_hash(payload: Any, length: int = 12) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def retriever_config(spec: RetrieverSpec) -> dict[str, Any]:
    """The retriever fields that change what it returns (its display name does not)."""
    config: dict[str, Any] = {"type": spec.type}
    if spec.type != "none":
        config |= {"k": spec.k, "chunk_size": spec.chunk_size, "chunk_overlap": spec.chunk_overlap}
    if spec.type == "hybrid":
        config["rrf_k"] = spec.rrf_k
    return config


@dataclass(frozen=True)
class Variant:
    """One point of the grid. ``variant_id`` hashes only what changes outputs."""

    prompt: PromptTemplate
    model: ModelSpec
    retriever: RetrieverSpec
    params: GenerationParams
    model_identity: Mapping[str, Any] = field(hash=False, compare=False)
    corpus_digest: str | None = None
    swept: tuple[str, ...] = ()
    """Generation parameters the grid varies (they appear in the label)."""

    @property
    def variant_id(self) -> str:
        return short_hash(
            {
                "prompt": [self.prompt.name, self.prompt.version, self.prompt.content_hash],
                "model": dict(self.model_identity),
                "params": self.params.model_dump(mode="json"),
                "retriever": retriever_config(self.retriever),
                "corpus": self.corpus_digest if self.retriever.type != "none" else None,
            }
        )

    @property
    def label(self) -> str:
        parts = [self.prompt.ref, self.model.label, self.retriever.label]
        parts += [f"{name}={getattr(self.params, name)}" for name in self.swept]
        return " · ".join(parts)

    def factors(self) -> dict[str, Any]:
        levels: dict[str, Any] = {
            "prompt": self.prompt.ref,
            "model": self.model.label,
            "retriever": self.retriever.label,
        }
        for name in self.swept:
            levels[f"param.{name}"] = getattr(self.params, name)
        return levels

    def params_for_tracking(self) -> dict[str, Any]:
        """Flat MLflow params of the variant (no secrets: only the key's env-var name)."""
        out: dict[str, Any] = {
            "variant_id": self.variant_id,
            "prompt": self.prompt.ref,
            "prompt.hash": self.prompt.content_hash,
            "model": self.model.label,
            "model.provider": self.model.provider,
            "model.mode": self.model_identity.get("mode"),
            "retriever": self.retriever.label,
        }
        for key, value in self.model_identity.items():
            if key not in ("provider", "mode"):
                out[f"model.{key}"] = value
        for key, value in retriever_config(self.retriever).items():
            out[f"retriever.{key}"] = value
        for key, value in self.params.model_dump(mode="json").items():
            out[f"gen.{key}"] = json.dumps(value) if isinstance(value, list) else value
        if self.corpus_digest and self.retriever.type != "none":
            out["corpus.digest"] = self.corpus_digest
        return out


@dataclass
class Plan:
    """Everything a run needs, resolved and validated before any model is called."""

    source: SpecSource
    golden: GoldenSet
    corpus: Corpus | None
    variants: list[Variant]
    models: dict[str, Provider]
    """Model label -> provider instance (weights load on first call)."""

    @property
    def spec(self) -> ExperimentSpec:
        return self.source.spec

    @property
    def n_calls(self) -> int:
        return len(self.variants) * len(self.golden)

    @property
    def run_key(self) -> str:
        """Identity of this experiment run: same spec, data and grid -> same key (for resume)."""
        return short_hash(
            {
                "spec": self.spec.model_dump(mode="json"),
                "dataset": self.golden.digest,
                "samples": [s.id for s in self.golden.samples],
                "variants": [v.variant_id for v in self.variants],
            },
            length=16,
        )

    def model_for(self, variant: Variant) -> Provider:
        return self.models[variant.model.label]
