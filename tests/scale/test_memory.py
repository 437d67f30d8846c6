"""Leaderboard intervals on large samples: bounded memory, the same numbers.

Unbatched, scipy's BCa bootstrap holds an n x n jackknife (1.7 GB at n = 10,000, found by
benchmarks/growth.py). The batched call must give exactly scipy's unbatched interval."""

from __future__ import annotations

import tracemalloc

import numpy as np
from scipy import stats

from workbench.analysis import mean_ci


def test_large_sample_interval_is_scipys_and_memory_stays_bounded() -> None:
    values = np.random.default_rng(7).normal(0.6, 0.2, 3000)
    tracemalloc.start()
    try:
        interval = mean_ci(values, 0.95, seed=11, n_resamples=2000, method="bca")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    reference = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=2000,
        vectorized=True,
        method="BCa",
        confidence_level=0.95,
        rng=np.random.default_rng(11),
    )
    assert interval.method == "BCa bootstrap"
    assert interval.lo == float(reference.confidence_interval.low)
    assert interval.hi == float(reference.confidence_interval.high)
    # Unbatched: a 3000 x 2999 jackknife of float64 alone is 72 MB.
    assert peak < 60 * 2**20, f"peak {peak / 2**20:.0f} MiB"
