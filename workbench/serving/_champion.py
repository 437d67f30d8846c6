"""``wb.load_champion``: the production bundle as a ready-to-call pipeline.

The pipeline is rebuilt from the registered bundle with the runner's own parts (the same
retriever, the same prompt rendering, the same model call), after checking that the
prompt text, model, corpus and so the variant id are exactly what was evaluated. At
temperature 0 it answers as the variant did in its run.
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.data import Corpus, Sample
from workbench.errors import ModelCallError, NotFoundError
from workbench.models import Generation, Message
from workbench.promotion import Bundle, load_bundle, materialize
from workbench.records import CallTask, Retrieval, Variant
from workbench.retrievers import BatchRetriever, Passage, build_retriever
from workbench.runner import render, run_call


class ChampionPipeline:
    """retrieve -> render the prompt -> generate, exactly as in the variant's run."""

    def __init__(
        self, experiment: str, version: str, bundle: Bundle, variant: Variant, corpus: Corpus | None
    ):
        self.experiment = experiment
        self.version = version
        self.bundle = bundle
        self.variant = variant
        """The rebuilt :class:`workbench.records.Variant` (its id equals the logged one)."""
        self.corpus = corpus
        self._retriever: BatchRetriever | None = None

    def __repr__(self) -> str:
        return (
            f"ChampionPipeline({self.experiment!r} v{self.version}: {self.bundle.variant}, "
            f"variant_id={self.bundle.variant_id})"
        )

    @property
    def retriever(self) -> BatchRetriever:
        if self._retriever is None:
            self._retriever = build_retriever(self.variant.retriever, self.corpus)
        return self._retriever

    def retrieve_many(self, questions: Sequence[str]) -> list[list[Passage]]:
        """Passages for each question (the run retrieved the same way, in one batch)."""
        return self.retriever.retrieve_many(list(questions), k=self.variant.retriever.k)

    def retrieve(self, question: str) -> list[Passage]:
        return self.retrieve_many([question])[0]

    def messages(self, question: str, passages: Sequence[Passage] | None = None) -> list[Message]:
        """The rendered prompt (the runner's rendering) for ``question``."""
        if passages is None:
            passages = self.retrieve(question)
        sample = Sample(id="question", question=question, reference="")
        return list(render(self.variant.prompt, sample, Retrieval(tuple(passages), 0.0, 0.0)))

    def generate(self, question: str, passages: Sequence[Passage] | None = None) -> Generation:
        """The full :class:`workbench.models.Generation` (text, usage, latency, cost, error)."""
        task = CallTask(
            model=self.variant.model,
            usd_per_hour=self.bundle.usd_per_hour,
            messages=tuple(self.messages(question, passages)),
            params=self.variant.params,
        )
        return run_call(task)

    def answer(self, question: str) -> str:
        """The answer text; a failed model call raises ModelCallError."""
        generation = self.generate(question)
        if generation.error:
            raise ModelCallError(f"the champion's model call failed: {generation.error}")
        return str(generation.text)

    __call__ = answer

    def answer_many(self, questions: Sequence[str]) -> list[str]:
        """Answers for several questions (retrieval in one batch, calls one by one)."""
        out = []
        for question, passages in zip(questions, self.retrieve_many(questions), strict=True):
            generation = self.generate(question, passages)
            if generation.error:
                raise ModelCallError(f"the champion's model call failed: {generation.error}")
            out.append(str(generation.text))
        return out


def load_champion(
    experiment: str, *, version: str | int | None = None, tracking_uri: str | None = None
) -> ChampionPipeline:
    """The pipeline of ``experiment``'s champion (or of a given registered ``version``)."""
    from workbench.tracking import ensure_store, registry

    uri = ensure_store(tracking_uri)
    if not registry.registered_model_exists(experiment, uri):
        raise NotFoundError(
            f"'{experiment}' has no registered candidates",
            hint="propose one (workbench propose) and have a lead approve it",
        )
    number = str(version) if version is not None else registry.champion(experiment, uri)
    if number is None:
        raise NotFoundError(
            f"'{experiment}' has no champion yet",
            hint=f"approve a candidate: workbench queue --experiment {experiment}",
        )
    info = registry.version(experiment, number, uri)
    bundle = load_bundle(info.model_id, tracking_uri=uri)
    variant, corpus = materialize(bundle, tracking_uri=uri)
    return ChampionPipeline(experiment, number, bundle, variant, corpus)
