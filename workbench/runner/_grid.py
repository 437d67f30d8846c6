"""Resolve a spec into a plan: dataset, corpus, prompts, models and the grid of variants."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from workbench.data import Corpus, GoldenSet, load_corpus, load_golden
from workbench.errors import ConfigError, WorkbenchError
from workbench.models import build_model
from workbench.prompts import load_prompt
from workbench.records import Plan, Variant
from workbench.spec import (
    GenerationParams,
    SpecSource,
    resolve_model,
    resolve_retriever,
)


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
