"""A candidate bundle: everything that makes a variant answer the way it did.

prompt (registry name + version + content hash), model (spec + identity), generation
parameters, retriever config + corpus (path + digest), dataset digest, variant id and
the MLflow runs it came from. :func:`bundle_from_run` builds it from a logged run and
:func:`materialize` turns it back into a runnable :class:`~workbench.records.Variant`;
both recompute the variant id and refuse when it differs from the logged one, so a
bundle can only describe exactly what was evaluated.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workbench import _paths
from workbench.data import Corpus, load_corpus
from workbench.errors import NotFoundError, PromotionError, WorkbenchError
from workbench.models import build_model
from workbench.prompts import PromptTemplate
from workbench.records import Variant, retriever_config
from workbench.spec import (
    ExperimentSpec,
    GenerationParams,
    ModelSpec,
    RetrieverSpec,
    resolve_model,
    resolve_retriever,
)
from workbench.tracking import registry

SCHEMA_VERSION = 1
_HEADER = re.compile(r"^# resolved spec of (?P<where>.+); run key ", re.MULTILINE)


@dataclass(frozen=True)
class PromptPin:
    """A prompt version in the MLflow Prompt Registry."""

    name: str
    """The workbench prompt name (``qa_terse``)."""
    version: int
    """The workbench version (``qa_terse.v2.yaml`` -> 2)."""
    registry_name: str
    """``<experiment>.<name>`` in the Prompt Registry."""
    registry_version: str
    content_hash: str

    @property
    def registry_uri(self) -> str:
        return f"prompts:/{self.registry_name}/{self.registry_version}"

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class CorpusPin:
    name: str | None
    path: str
    digest: str


@dataclass(frozen=True)
class DatasetPin:
    name: str
    version: str
    digest: str


@dataclass(frozen=True)
class Bundle:
    """What a registered candidate version is: one variant, pinned."""

    experiment: str
    variant_id: str
    variant: str
    """The variant's label (``qa_terse@1 · smollm2-135m · bm25``)."""
    prompt: PromptPin
    model: ModelSpec
    model_identity: dict[str, Any]
    params: GenerationParams
    retriever: RetrieverSpec
    corpus: CorpusPin | None
    dataset: DatasetPin
    usd_per_hour: float
    source_run_id: str
    """The experiment run (MLflow parent run)."""
    variant_run_id: str
    """The variant's MLflow child run (per-sample table, traces)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "experiment": self.experiment,
            "variant_id": self.variant_id,
            "variant": self.variant,
            "prompt": {**asdict(self.prompt), "registry_uri": self.prompt.registry_uri},
            "model": self.model.model_dump(mode="json", exclude_none=True),
            "model_identity": dict(self.model_identity),
            "params": self.params.model_dump(mode="json"),
            "retriever": self.retriever.model_dump(mode="json", exclude_none=True),
            "corpus": None if self.corpus is None else asdict(self.corpus),
            "dataset": asdict(self.dataset),
            "usd_per_hour": self.usd_per_hour,
            "source_run_id": self.source_run_id,
            "variant_run_id": self.variant_run_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bundle:
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
            raise PromotionError(
                "not a workbench bundle (bundle.json missing or of another version)"
            )
        try:
            return cls._from_json(data)
        except (ValidationError, KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ValidationError) and exc.errors():
                detail = str(exc.errors()[0]["msg"])
            else:
                detail = str(exc) or type(exc).__name__
            raise PromotionError(
                f"bundle.json cannot be read in this process: {detail}",
                hint="a provider or scorer plugin the bundle names may not be loaded here "
                "(WORKBENCH_PLUGINS or [plugins] in workbench.toml), or the bundle was "
                "written by another workbench version",
            ) from None

    @classmethod
    def _from_json(cls, data: dict[str, Any]) -> Bundle:
        prompt = dict(data["prompt"])
        prompt.pop("registry_uri", None)
        corpus = data.get("corpus")
        return cls(
            experiment=data["experiment"],
            variant_id=data["variant_id"],
            variant=data["variant"],
            prompt=PromptPin(**prompt),
            model=ModelSpec.model_validate(data["model"]),
            model_identity=dict(data["model_identity"]),
            params=GenerationParams.model_validate(data["params"]),
            retriever=RetrieverSpec.model_validate(data["retriever"]),
            corpus=None if corpus is None else CorpusPin(**corpus),
            dataset=DatasetPin(**data["dataset"]),
            usd_per_hour=float(data["usd_per_hour"]),
            source_run_id=data["source_run_id"],
            variant_run_id=data["variant_run_id"],
        )

    def flat_params(self) -> dict[str, str]:
        """Flat parameters of the LoggedModel (searchable in MLflow)."""
        out: dict[str, Any] = {
            "variant_id": self.variant_id,
            "prompt": self.prompt.ref,
            "prompt.registry_uri": self.prompt.registry_uri,
            "prompt.hash": self.prompt.content_hash,
            "model": self.model.label,
            "model.provider": self.model.provider,
            "retriever": self.retriever.label,
            "dataset.name": self.dataset.name,
            "dataset.digest": self.dataset.digest,
        }
        for key, value in self.model_identity.items():
            if key != "provider":
                out[f"model.{key}"] = value
        for key, value in retriever_config(self.retriever).items():
            out[f"retriever.{key}"] = value
        for key, value in self.params.model_dump(mode="json").items():
            out[f"gen.{key}"] = json.dumps(value) if isinstance(value, list) else value
        if self.corpus is not None:
            out["corpus.digest"] = self.corpus.digest
            out["corpus.path"] = self.corpus.path
        return {k: "" if v is None else str(v) for k, v in out.items()}


# --------------------------------------------------------------------------- from a run


def _gen_params(params: dict[str, str]) -> GenerationParams:
    values: dict[str, Any] = {}
    for name in GenerationParams.model_fields:
        raw = params.get(f"gen.{name}")
        if raw is None:
            continue
        if raw in ("", "None"):
            values[name] = None
            continue
        try:
            values[name] = json.loads(raw)
        except json.JSONDecodeError:
            values[name] = raw
    return GenerationParams.model_validate(values)


def _pick_model(spec: ExperimentSpec, label: str, where: str) -> ModelSpec:
    for i, ref in enumerate(spec.grid.model):
        resolved = resolve_model(ref, spec, field=f"grid.model[{i}]", where=where)
        if resolved.label == label:
            return resolved
    raise PromotionError(f"the logged spec of {where} has no model labelled '{label}'")


def _pick_retriever(spec: ExperimentSpec, label: str, where: str) -> RetrieverSpec:
    for i, ref in enumerate(spec.grid.retriever):
        resolved = resolve_retriever(ref, spec, field=f"grid.retriever[{i}]", where=where)
        if resolved.label == label:
            return resolved
    raise PromotionError(f"the logged spec of {where} has no retriever labelled '{label}'")


def _corpus_path(spec: ExperimentSpec, parent_params: dict[str, str], spec_text: str) -> str:
    """Where the run's corpus lives: the parent run's ``corpus.path`` param, else the spec
    file named in spec.yaml's header (runs logged before that param existed)."""
    logged = parent_params.get("corpus.path")
    if logged and logged != "none":
        return logged
    assert spec.corpus is not None
    match = _HEADER.search(spec_text)
    if match and match["where"] != "<spec>":
        spec_file = Path(match["where"])
        if not spec_file.is_absolute():
            spec_file = _paths.project_root() / spec_file
        candidate = Path(spec.corpus.path)
        if not candidate.is_absolute():
            candidate = spec_file.parent / candidate
        return str(candidate.resolve())
    raise PromotionError(
        "the run does not record where its corpus lives",
        hint="rerun the experiment with this version of workbench (it logs corpus.path)",
    )


def bundle_from_run(variant_run_id: str, *, tracking_uri: str | None = None) -> Bundle:
    """The bundle of a logged variant (an MLflow child run), checked by rebuilding it."""
    child = registry.run_info(variant_run_id, tracking_uri)
    if child.parent_id is None or "workbench.variant_id" not in child.tags:
        raise NotFoundError(f"run {variant_run_id} is not a workbench variant run")
    parent = registry.run_info(child.parent_id, tracking_uri)
    where = f"run {variant_run_id}"
    spec_text = registry.run_text(variant_run_id, "spec.yaml", tracking_uri) or registry.run_text(
        child.parent_id, "spec.yaml", tracking_uri
    )
    if spec_text is None:
        raise PromotionError(f"{where} has no spec.yaml artifact")
    try:
        spec = ExperimentSpec.model_validate(yaml.safe_load(spec_text))
    except Exception as exc:
        raise PromotionError(f"the spec.yaml of {where} does not validate: {exc}") from None
    params = child.params
    model = _pick_model(spec, params["model"], where)
    retriever = _pick_retriever(spec, params["retriever"], where)
    uri = params.get("prompt.registry_uri", "")
    match = re.fullmatch(r"prompts:/(?P<name>.+)/(?P<version>\d+)", uri)
    if not match:
        raise PromotionError(f"{where} does not record its prompt's registry version")
    info = registry.prompt_version(match["name"], match["version"], tracking_uri)
    prompt = PromptPin(
        name=info.tags.get("workbench.prompt", params["prompt"].partition("@")[0]),
        version=int(info.tags.get("workbench.version", params["prompt"].partition("@")[2] or 0)),
        registry_name=info.name,
        registry_version=info.version,
        content_hash=info.tags.get("workbench.content_hash", params.get("prompt.hash", "")),
    )
    corpus = None
    if retriever.type != "none":
        if spec.corpus is None:
            raise PromotionError(f"{where} retrieves but its spec has no corpus")
        corpus = CorpusPin(
            name=spec.corpus.name,
            path=_corpus_path(spec, parent.params, spec_text),
            digest=params.get("corpus.digest") or parent.params.get("corpus.digest", ""),
        )
    bundle = Bundle(
        experiment=child.experiment,
        variant_id=child.tags["workbench.variant_id"],
        variant=child.tags.get("workbench.variant", child.tags["workbench.variant_id"]),
        prompt=prompt,
        model=model,
        model_identity={},
        params=_gen_params(params),
        retriever=retriever,
        corpus=corpus,
        dataset=DatasetPin(
            name=params.get("dataset.name", ""),
            version=params.get("dataset.version", ""),
            digest=params.get("dataset.digest", ""),
        ),
        usd_per_hour=spec.pricing.local_usd_per_hour,
        source_run_id=child.parent_id,
        variant_run_id=variant_run_id,
    )
    variant, _ = materialize(bundle, tracking_uri=tracking_uri, check_identity=False)
    return replace(bundle, model_identity=dict(variant.model_identity))


# --------------------------------------------------------------------------- back to a variant


def materialize(
    bundle: Bundle, *, tracking_uri: str | None = None, check_identity: bool = True
) -> tuple[Variant, Corpus | None]:
    """``(Variant, Corpus | None)`` rebuilt from the bundle: the prompt text from the
    Prompt Registry, the model, the corpus from its path. Raises PromotionError when
    anything differs from what was evaluated (content hash, model identity, corpus
    digest, and so the variant id)."""
    info = registry.prompt_version(
        bundle.prompt.registry_name, bundle.prompt.registry_version, tracking_uri
    )
    template = info.template
    if isinstance(template, str):
        template = [{"role": "user", "content": template}]
    prompt = PromptTemplate(
        name=bundle.prompt.name,
        version=bundle.prompt.version,
        messages=tuple((str(m["role"]), str(m["content"])) for m in template),
    )
    if prompt.content_hash != bundle.prompt.content_hash:
        raise PromotionError(
            f"prompt {bundle.prompt.registry_uri} no longer matches the evaluated text "
            f"(content hash {prompt.content_hash} != {bundle.prompt.content_hash})"
        )
    try:
        identity = dict(build_model(bundle.model, usd_per_hour=bundle.usd_per_hour).identity())
    except WorkbenchError as exc:
        raise PromotionError(f"model '{bundle.model.label}' cannot be loaded: {exc}") from None
    if check_identity and identity != bundle.model_identity:
        changed = sorted(
            k
            for k in set(identity) | set(bundle.model_identity)
            if identity.get(k) != bundle.model_identity.get(k)
        )
        raise PromotionError(
            f"model '{bundle.model.label}' is not the evaluated one (differs in: {', '.join(changed)})",
            hint="the model file or endpoint changed since the run",
        )
    corpus = None
    if bundle.corpus is not None:
        try:
            corpus = load_corpus(Path(bundle.corpus.path), name=bundle.corpus.name)
        except WorkbenchError as exc:
            raise PromotionError(f"the bundle's corpus cannot be loaded: {exc}") from None
        if corpus.digest != bundle.corpus.digest:
            raise PromotionError(
                f"the corpus at {bundle.corpus.path} changed since the run "
                f"(digest {corpus.digest} != {bundle.corpus.digest})"
            )
    variant = Variant(
        prompt=prompt,
        model=bundle.model,
        retriever=bundle.retriever,
        params=bundle.params,
        model_identity=identity,
        corpus_digest=bundle.corpus.digest if bundle.corpus else None,
    )
    if variant.variant_id != bundle.variant_id:
        raise PromotionError(
            f"the rebuilt variant has id {variant.variant_id}, the run logged {bundle.variant_id}",
            hint="something that shapes the answers changed since the run (model file, prompt, corpus)",
        )
    return variant, corpus


def load_bundle(model_id: str | None, *, tracking_uri: str | None = None) -> Bundle:
    """The bundle a registered version's logged model holds."""
    data = registry.model_json(model_id, registry.BUNDLE_FILE, tracking_uri) if model_id else None
    if data is None:
        raise NotFoundError(f"logged model {model_id} has no {registry.BUNDLE_FILE}")
    return Bundle.from_json(data)


__all__ = [
    "Bundle",
    "CorpusPin",
    "DatasetPin",
    "PromptPin",
    "bundle_from_run",
    "load_bundle",
    "materialize",
]
