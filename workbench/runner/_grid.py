"""Resolve a spec into a plan: dataset, corpus, prompts, models and the grid of variants."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from workbench.data import Corpus, GoldenSet, load_corpus, load_golden
from workbench.errors import ConfigError, WorkbenchError
from workbench.models import build_model
from workbench.prompts import PromptTemplate, load_prompt
from workbench.spec import (
    GenerationParams,
    ModelSpec,
    RetrieverSpec,
    SpecSource,
    resolve_model,
    resolve_retriever,
)


def _hash(payload: Any, length: int = 12) -> str:
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
        return _hash(
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
    models: dict[str, Any]
    """Model label -> provider instance (weights load on first call)."""

    @property
    def spec(self) -> Any:
        return self.source.spec

    @property
    def n_calls(self) -> int:
        return len(self.variants) * len(self.golden)

    @property
    def run_key(self) -> str:
        """Identity of this experiment run: same spec, data and grid -> same key (for resume)."""
        return _hash(
            {
                "spec": self.spec.model_dump(mode="json"),
                "dataset": self.golden.digest,
                "samples": [s.id for s in self.golden.samples],
                "variants": [v.variant_id for v in self.variants],
            },
            length=16,
        )

    def model_for(self, variant: Variant) -> Any:
        return self.models[variant.model.label]


def plan(source: SpecSource) -> Plan:
    """Resolve every reference in the spec; raise a pointed ConfigError on the first bad one."""
    spec = source.spec
    where = source.where
    golden = load_golden(spec.dataset, base_dir=source.base_dir, seed=spec.execution.seed)
    corpus = None
    if spec.corpus is not None:
        corpus = load_corpus(source.resolve(spec.corpus.path), name=spec.corpus.name)
        _check_reference_ids(golden, corpus, where=golden.source)

    prompts_dir = source.resolve(spec.prompts_dir)
    prompts = []
    for i, ref in enumerate(spec.grid.prompt):
        try:
            prompts.append(load_prompt(ref, prompts_dir))
        except ConfigError as exc:
            raise ConfigError(
                f"grid.prompt[{i}]: {exc.message}", where=where, hint=exc.hint
            ) from None

    model_specs = [
        resolve_model(ref, spec, field=f"grid.model[{i}]", where=where)
        for i, ref in enumerate(spec.grid.model)
    ]
    models: dict[str, Any] = {}
    identities: dict[str, Mapping[str, Any]] = {}
    for i, model_spec in enumerate(model_specs):
        if model_spec.label in models:
            raise ConfigError(
                f"grid.model[{i}]: two models are labelled '{model_spec.label}'",
                where=where,
                hint="give one of them a distinct name:",
            )
        try:
            instance = build_model(model_spec, usd_per_hour=spec.pricing.local_usd_per_hour)
            identities[model_spec.label] = instance.identity()
        except WorkbenchError as exc:
            raise ConfigError(
                f"grid.model[{i}]: {exc.message}", where=where, hint=exc.hint
            ) from None
        models[model_spec.label] = instance

    retrievers = [
        resolve_retriever(ref, spec, field=f"grid.retriever[{i}]", where=where)
        for i, ref in enumerate(spec.grid.retriever)
    ]
    swept = tuple(name for name, levels in spec.grid.params.items() if len(levels) > 1)
    param_sets = _param_sets(spec.params, spec.grid.params, where=where)

    variants = [
        Variant(
            prompt=prompt,
            model=model_spec,
            retriever=retriever,
            params=params,
            model_identity=identities[model_spec.label],
            corpus_digest=corpus.digest if corpus else None,
            swept=swept,
        )
        for model_spec, prompt, retriever, params in itertools.product(
            model_specs, prompts, retrievers, param_sets
        )
    ]
    seen: dict[str, str] = {}
    for variant in variants:
        if variant.variant_id in seen:
            raise ConfigError(
                f"grid: '{variant.label}' and '{seen[variant.variant_id]}' are the same variant",
                where=where,
                hint="remove the duplicate entry",
            )
        seen[variant.variant_id] = variant.label
    return Plan(source=source, golden=golden, corpus=corpus, variants=variants, models=models)


def _param_sets(
    base: GenerationParams, sweep: Mapping[str, list[Any]], *, where: str
) -> list[GenerationParams]:
    if not sweep:
        return [base]
    names = list(sweep)
    out = []
    for combo in itertools.product(*(sweep[n] for n in names)):
        values = dict(zip(names, combo, strict=True))
        try:
            out.append(GenerationParams.model_validate({**base.model_dump(), **values}))
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"]) or "params"
            raise ConfigError(
                f"grid.params: {values} is not valid: {field}: {error['msg']}", where=where
            ) from None
    return out


def _check_reference_ids(golden: GoldenSet, corpus: Corpus, *, where: str) -> None:
    known = corpus.ids
    for sample in golden.population:
        for doc_id in sample.reference_context_ids:
            if doc_id not in known:
                from workbench.errors import DatasetError, did_you_mean

                raise DatasetError(
                    f"sample '{sample.id}': reference document '{doc_id}' is not in corpus '{corpus.name}'",
                    where=where,
                    hint=did_you_mean(doc_id, known) or "fix reference_doc_ids",
                )
