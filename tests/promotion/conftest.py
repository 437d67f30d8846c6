"""Promotion fixtures: a roles file, scripted variants with known quality, a scorer for them.

The scripted models answer ``"q=<quality> t=<tone>"``; the ``fake_quality`` scorer reads
those numbers back, so each test knows exactly which variant is better on which metric.
The fakes test the promotion *logic*; tests/promotion/test_end_to_end.py uses real models.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

import workbench.testing as wt
from tests.conftest import write_spec
from workbench.models import Message
from workbench.records import MetricInfo, Score
from workbench.scoring._registry import scorer
from workbench.users import User, set_user

LEAD = User("lee", "lead")
SCIENTIST = User("sam", "scientist")
RATER = User("rita", "rater")

QUALITY = MetricInfo("quality", description="test quality (read from the scripted answer)")
TONE = MetricInfo("tone", description="test guard metric (read from the scripted answer)")


class _FakeQuality:
    metrics = (QUALITY, TONE)

    def __call__(self, item) -> list[Score]:
        values = dict(part.split("=", 1) for part in item.answer.split() if "=" in part)
        return [Score("quality", float(values["q"])), Score("tone", float(values["t"]))]


@scorer("fake_quality", metrics=[QUALITY, TONE], default=False)
def _fake_quality(ctx) -> _FakeQuality:
    return _FakeQuality()


def _base(messages: Sequence[Message]) -> float:
    return 0.2 + 0.05 * (len(wt.question_of(messages)) % 5)


def _answer(quality: float, tone: float):
    def fn(messages: Sequence[Message]) -> str:
        return f"q={_base(messages) + quality:.3f} t={tone}"

    return fn


SPEC = """\
name: promo
dataset: {{path: datasets/acme_golden.jsonl, sample: {sample}}}
corpus: {{path: corpora/acme}}
grid:
  prompt: [{prompts}]
  model: [{models}]
  retriever: [{retrievers}]
scorers: [fake_quality]
thresholds: {{quality: ">= 0.0"}}
gates:
  name: promo-gates
  version: "3"
  min_pass_rate_lower_bound: 0.5
  max_high_severity_findings: 0
  metrics: {{quality: ">= 0.1"}}
  primary_metric: quality
  guard_metrics: [tone]
  guard_margin: 0.2  # tone is 0/1: 24 identical pairs show no worse only within ~0.1
"""


@pytest.fixture(autouse=True)
def _scripts() -> None:
    wt.script("base", _answer(0.0, 1))
    wt.script("better", _answer(0.3, 1))
    wt.script("rude", _answer(0.3, 0))  # better quality, worse tone (the guard)
    wt.script("same", _answer(0.0, 1))  # as good as base, not better
    wt.script("awful", _answer(-0.2, 1))  # fails the gate quality >= 0.1


@pytest.fixture
def roles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A roles file with a lead (lee), a scientist (sam) and a rater (rita); CLI user sam."""
    path = tmp_path / "workbench.toml"
    path.write_text("[tracking]\n", encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_CONFIG", str(path))
    monkeypatch.setenv("WORKBENCH_USER", "sam")
    for user in (LEAD, SCIENTIST, RATER):
        set_user(user.name, user.role, f"pw-{user.name}", path)
    return path


@pytest.fixture
def grid(acme_dir: Path, roles: Path):
    """``grid(models, prompts=..., retrievers=..., sample=12)`` runs a scripted grid."""
    from workbench.pipeline import run

    def make(
        models: Sequence[str],
        *,
        prompts: Sequence[str] = ("qa_terse@1",),
        retrievers: Sequence[str] = ("none",),
        sample: int = 24,  # guards need 20 pairs to show non-inferiority
        name: str = "exp.yaml",
    ):
        text = SPEC.format(
            sample=sample,
            prompts=", ".join(prompts),
            models=", ".join(f"scripted:{m}" for m in models),
            retrievers=", ".join(retrievers),
        )
        return run(write_spec(acme_dir, text, name=name))

    return make
