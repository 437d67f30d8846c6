"""A seeded factory for synthetic ``samples`` frames with known effects, NaNs and errors."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from workbench.records import MetricInfo

METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("quality", higher_is_better=True, kind="continuous"),
    MetricInfo("exact_match", higher_is_better=True, kind="binary"),
    MetricInfo("toxicity", higher_is_better=False, kind="continuous"),
)
PRICE_PER_TOKEN = {"gemma-3-270m": 1e-6, "smollm2-135m": 5e-7}
LATENCY = {"gemma-3-270m": 1.0, "smollm2-135m": 0.5}


def variant_hash(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()[:12]


def build_samples(
    *,
    seed: int = 0,
    n_samples: int = 60,
    prompts: Sequence[str] = ("qa_terse@1", "qa_cited@2"),
    models: Sequence[str] = ("gemma-3-270m", "smollm2-135m"),
    retrievers: Sequence[str] = ("none", "bm25"),
    effects: Mapping[str, float] | None = None,
    base: float = 0.5,
    difficulty_sd: float = 0.15,
    noise_sd: float = 0.1,
    nan_rate: float = 0.05,
    error_rate: float = 0.03,
) -> pd.DataFrame:
    """Return a wide samples frame: one row per (variant, sample) of a full factorial grid.

    ``quality`` = base + sum of planted ``effects`` ("factor=level" -> shift) + a
    per-sample difficulty shared by every variant (the paired structure) + noise.
    ``exact_match`` = quality > 0.6; ``toxicity`` (lower is better) is noise around 0.1;
    ``passed`` = quality > 0.5 and no error. Errors blank the answer and every metric.
    """
    rng = np.random.default_rng(seed)
    effects = dict(effects or {})
    difficulty = rng.normal(0.0, difficulty_sd, n_samples)
    rows = []
    for prompt, model, retriever in itertools.product(prompts, models, retrievers):
        label = f"{prompt} · {model} · {retriever}"
        shift = sum(
            effects.get(f"{factor}={level}", 0.0)
            for factor, level in (("prompt", prompt), ("model", model), ("retriever", retriever))
        )
        quality = base + shift + difficulty + rng.normal(0.0, noise_sd, n_samples)
        errored = rng.random(n_samples) < error_rate
        unscored = rng.random(n_samples) < nan_rate
        prompt_tokens = rng.integers(50, 400, n_samples)
        completion_tokens = rng.integers(5, 80, n_samples)
        for s in range(n_samples):
            err = bool(errored[s])
            q = np.nan if err or unscored[s] else float(quality[s])
            rows.append(
                {
                    "variant_id": variant_hash(label),
                    "variant": label,
                    "prompt": prompt,
                    "model": model,
                    "retriever": retriever,
                    "sample_id": f"s{s:03d}",
                    "question": f"Question {s}?",
                    "reference": f"Reference {s}",
                    "answer": "" if err else f"Answer {s} from {label}",
                    "category": ["facts", "reasoning"][s % 2],
                    "severity": ["low", "high"][s % 2],
                    "error": "timeout" if err else None,
                    "latency_s": float(LATENCY[model] * rng.lognormal(0.0, 0.3)),
                    "prompt_tokens": int(prompt_tokens[s]),
                    "completion_tokens": int(completion_tokens[s]),
                    "cost_usd": float(
                        (prompt_tokens[s] + completion_tokens[s]) * PRICE_PER_TOKEN[model]
                    ),
                    "passed": 0.0 if err else float(quality[s] > 0.5),
                    "quality": q,
                    "exact_match": np.nan if np.isnan(q) else float(q > 0.6),
                    "toxicity": np.nan if err else float(abs(rng.normal(0.1, 0.05))),
                }
            )
    return pd.DataFrame(rows)


def tiny_frame(values: Mapping[str, Mapping[str, npt.ArrayLike]]) -> pd.DataFrame:
    """Return a minimal samples frame from ``{variant_id: {column: per-sample values}}``."""
    rows = []
    for vid, raw in values.items():
        columns = {name: np.asarray(v, dtype=float) for name, v in raw.items()}
        n = len(next(iter(columns.values())))
        for s in range(n):
            row: dict[str, object] = {
                "variant_id": vid,
                "variant": f"label {vid}",
                "prompt": "p",
                "model": "m",
                "retriever": vid,
                "sample_id": f"s{s}",
                "question": f"q{s}",
                "reference": f"r{s}",
                "answer": f"a{s}",
                "error": None,
                "latency_s": 1.0,
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "cost_usd": 0.001,
            }
            row.update({column: float(v[s]) for column, v in columns.items()})
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture
def make_samples() -> Callable[..., pd.DataFrame]:
    """The :func:`build_samples` factory."""
    return build_samples


@pytest.fixture(scope="module")
def samples() -> pd.DataFrame:
    """A default 8-variant grid (60 samples each) with retriever=bm25 adding +0.2 quality."""
    return build_samples(effects={"retriever=bm25": 0.2, "model=gemma-3-270m": 0.05})


@pytest.fixture
def metrics() -> tuple[MetricInfo, ...]:
    return METRICS
