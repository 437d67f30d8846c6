"""The one adapter to ragas 0.4 (imported lazily, inside the scorers).

Non-LLM metrics from ``ragas.metrics.collections`` (string similarity, ROUGE, BLEU,
exact match), semantic similarity on the packaged MiniLM through a batched, memoised
ragas embeddings class, and ragas' non-LLM context precision / recall (legacy API: the
only place they exist in 0.4) against the texts of the reference documents.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from workbench.records import NA, MetricInfo, Score
from workbench.scoring._registry import ScoreItem, ScoringContext, scorer

T = TypeVar("T")


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from sync code, also when a loop already runs (notebooks, Streamlit)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())  # type: ignore[arg-type]
    with cf.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()  # type: ignore[arg-type]


def _value(result: Any) -> float:
    value = getattr(result, "value", result)
    return math.nan if value is None else float(value)


class _AnswerMetric:
    """A ragas collections metric of (reference, response), scored per answer."""

    def __init__(self, info: MetricInfo, build: Callable[[], Any]):
        self.metrics = (info,)
        self._build = build
        self._metric: Any = None

    def _get(self) -> Any:
        if self._metric is None:
            self._metric = self._build()
        return self._metric

    def __call__(self, item: ScoreItem) -> list[Score]:
        return self.batch([item])[0]

    def batch(self, items: Sequence[ScoreItem]) -> list[list[Score]]:
        metric = self._get()
        name = self.metrics[0].name

        async def all_scores() -> list[Any]:
            return await asyncio.gather(
                *(metric.ascore(reference=i.reference, response=i.answer) for i in items),
                return_exceptions=True,
            )

        out = []
        for result in run_async(all_scores):
            if isinstance(result, BaseException):
                out.append([Score.unscored(name, f"ragas {type(result).__name__}: {result}")])
            else:
                out.append([Score(name, _value(result))])
        return out


@scorer(
    "string_similarity",
    metrics=[
        MetricInfo(
            "string_similarity",
            description="1 - normalised Levenshtein distance to the reference (ragas).",
        )
    ],
)
def string_similarity(ctx: ScoringContext) -> _AnswerMetric:
    def build() -> Any:
        from ragas.metrics.collections import NonLLMStringSimilarity

        return NonLLMStringSimilarity()

    return _AnswerMetric(MetricInfo("string_similarity"), build)


@scorer(
    "rouge_l",
    metrics=[MetricInfo("rouge_l", description="ROUGE-L F-measure against the reference (ragas).")],
)
def rouge_l(ctx: ScoringContext) -> _AnswerMetric:
    def build() -> Any:
        from ragas.metrics.collections import RougeScore

        return RougeScore(rouge_type="rougeL", mode="fmeasure")

    return _AnswerMetric(MetricInfo("rouge_l"), build)


@scorer(
    "bleu",
    metrics=[
        MetricInfo("bleu", description="Sentence BLEU against the reference (ragas, sacrebleu).")
    ],
)
def bleu(ctx: ScoringContext) -> _AnswerMetric:
    def build() -> Any:
        from ragas.metrics.collections import BleuScore

        # effective order: without it BLEU is 0 for any answer under 4 tokens, even an exact one
        return BleuScore(kwargs={"use_effective_order": True})

    return _AnswerMetric(MetricInfo("bleu"), build)


@scorer(
    "exact_match",
    metrics=[
        MetricInfo("exact_match", kind="binary", description="Answer equals the reference (ragas).")
    ],
    default=False,
)
def exact_match(ctx: ScoringContext) -> _AnswerMetric:
    def build() -> Any:
        from ragas.metrics.collections import ExactMatch

        return ExactMatch()

    return _AnswerMetric(MetricInfo("exact_match", kind="binary"), build)


# --------------------------------------------------------------------------- embeddings


def miniLM_embeddings() -> Any:
    """A ragas embeddings object over the packaged MiniLM: batched and memoised, offline."""
    from ragas.embeddings.base import BaseRagasEmbedding

    from workbench.models.embeddings import embed

    class MiniLMEmbeddings(BaseRagasEmbedding):
        def __init__(self) -> None:
            super().__init__()
            self._memo: dict[str, list[float]] = {}

        def prime(self, texts: Sequence[str]) -> None:
            missing = list(dict.fromkeys(t or " " for t in texts if (t or " ") not in self._memo))
            if missing:
                for text, vector in zip(missing, embed(missing), strict=True):
                    self._memo[text] = vector.tolist()

        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            key = text or " "
            if key not in self._memo:
                self.prime([key])
            return self._memo[key]

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            return self.embed_text(text)

    return MiniLMEmbeddings()


class SemanticSimilarityScorer(_AnswerMetric):
    def __init__(self) -> None:
        self.embeddings: Any = None

        def build() -> Any:
            from ragas.metrics.collections import SemanticSimilarity

            self.embeddings = miniLM_embeddings()
            return SemanticSimilarity(embeddings=self.embeddings)

        super().__init__(MetricInfo("semantic_similarity"), build)

    def batch(self, items: Sequence[ScoreItem]) -> list[list[Score]]:
        self._get()
        self.embeddings.prime(
            [t for i in items for t in (i.reference, i.answer)]
        )  # one batched encode
        return super().batch(items)


@scorer(
    "semantic_similarity",
    metrics=[
        MetricInfo(
            "semantic_similarity",
            description="Cosine similarity of MiniLM embeddings of answer and reference (ragas).",
        )
    ],
)
def semantic_similarity(ctx: ScoringContext) -> SemanticSimilarityScorer:
    return SemanticSimilarityScorer()


# --------------------------------------------------------------------------- contexts

CONTEXT_METRICS = (
    MetricInfo(
        "context_precision",
        description="ragas non-LLM context precision vs the reference documents.",
    ),
    MetricInfo(
        "context_recall", description="ragas non-LLM context recall vs the reference documents."
    ),
)


class ContextScorer:
    """ragas' NonLLMContextPrecisionWithReference and NonLLMContextRecall (string similarity)."""

    metrics = CONTEXT_METRICS
    scores_failed_calls = True  # about retrieval, which happened even if generation failed

    def __init__(self) -> None:
        self._pair: tuple[Any, Any] | None = None

    def _metrics(self) -> tuple[Any, Any]:
        if self._pair is None:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                # the private modules: the public names warn and point to a place they are not
                from ragas.metrics._context_precision import NonLLMContextPrecisionWithReference
                from ragas.metrics._context_recall import NonLLMContextRecall

                self._pair = (NonLLMContextPrecisionWithReference(), NonLLMContextRecall())
        return self._pair

    def __call__(self, item: ScoreItem) -> list[Score]:
        return self.batch([item])[0]

    def batch(self, items: Sequence[ScoreItem]) -> list[list[Score]]:
        from ragas.dataset_schema import SingleTurnSample

        precision, recall = self._metrics()
        out: list[list[Score] | None] = []
        jobs: list[tuple[int, Any]] = []
        for i, item in enumerate(items):
            if not item.retrieves:
                out.append(
                    [
                        Score.unscored(m.name, f"{NA}the variant does not retrieve")
                        for m in self.metrics
                    ]
                )
            elif not item.reference_contexts:
                out.append(
                    [Score.unscored(m.name, f"{NA}no reference documents") for m in self.metrics]
                )
            elif not item.contexts:
                out.append(
                    [
                        Score("context_precision", 0.0, "nothing retrieved"),
                        Score("context_recall", 0.0, "nothing retrieved"),
                    ]
                )
            else:
                out.append(None)
                sample = SingleTurnSample(
                    retrieved_contexts=list(item.contexts),
                    reference_contexts=list(item.reference_contexts),
                )
                jobs.append((i, sample))

        async def all_scores() -> list[Any]:
            tasks = []
            for _, sample in jobs:
                tasks.append(precision.single_turn_ascore(sample))
                tasks.append(recall.single_turn_ascore(sample))
            return await asyncio.gather(*tasks, return_exceptions=True)

        results = run_async(all_scores) if jobs else []
        for n, (i, _) in enumerate(jobs):
            pair = []
            for metric, result in zip(self.metrics, results[2 * n : 2 * n + 2], strict=True):
                if isinstance(result, BaseException):
                    pair.append(
                        Score.unscored(metric.name, f"ragas {type(result).__name__}: {result}")
                    )
                else:
                    pair.append(Score(metric.name, float(result)))
            out[i] = pair
        return [scores for scores in out if scores is not None]


@scorer("context", metrics=CONTEXT_METRICS)
def context(ctx: ScoringContext) -> ContextScorer:
    return ContextScorer()
