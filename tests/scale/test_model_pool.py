"""In-process calls use the current run's model objects, not an earlier run's.

Found by benchmarks/overhead.py: a second run in the same process, with another cache
dir, called Gemma through the first run's model object, whose file path (under the first
cache dir, since deleted) no longer existed: every Gemma call failed."""

from __future__ import annotations

from pathlib import Path

import workbench.testing as wt
from tests.conftest import write_spec
from workbench.pipeline import prepare
from workbench.runner._calls import _pooled, seed_pool

SPEC = """\
name: pool
dataset: {path: datasets/acme_golden.jsonl, sample: 2}
grid:
  prompt: [qa_terse@1]
  model: [scripted:dull]
"""


def test_each_run_calls_its_own_model_objects(acme_dir: Path) -> None:
    wt.script("dull", answer="Maybe.")
    spec = write_spec(acme_dir, SPEC)
    first, second = prepare(spec), prepare(spec)
    variant = first.variants[0]
    rate = first.spec.pricing.local_usd_per_hour

    seed_pool(first)
    assert _pooled(variant.model, rate) is first.model_for(variant)
    seed_pool(second)
    assert _pooled(variant.model, rate) is second.model_for(second.variants[0])
