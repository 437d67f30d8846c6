"""Item 3: hypothesis-generated bad experiment YAML and dataset rows.

Every case goes through the full ``workbench.runner.run`` path (scripted model, real MLflow
store of the test) and must end in a ``WorkbenchError`` whose message names the file and the
field / row / line, never another exception, and must leave the store without any run
(nothing RUNNING, no partial artifacts). Four families, over 1000 cases in all:

- spec mutations: a valid spec with one field made invalid (wrong type, out of range,
  unknown name, missing, huge, unicode), and the field path the message must name;
- weird YAML: random text, random YAML documents, and YAML features (anchors, alias bombs,
  recursive aliases, tags, complex / date / duplicate keys, deep nesting, BOM, NUL, tabs,
  several documents, invalid UTF-8) grafted onto a valid spec;
- dataset mutations: a valid golden file with one row broken (missing / mistyped / NaN /
  empty / huge / non-UTF-8 / lone-surrogate values, duplicate ids, unknown document ids,
  non-object lines, invalid JSON, empty file), with the row or line the message must name;
- ``--set`` overrides: random ``path=value`` strings through ``prepare()``: a valid result or
  a ``WorkbenchError``, nothing else.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench.testing as wt
from tests.reliability import harness as h
from workbench.errors import WorkbenchError
from workbench.pipeline import prepare, run

pytestmark = pytest.mark.reliability

EXAMPLES = {
    k: int(v * float(os.environ.get("WB_FUZZ_SCALE", "1")))
    for k, v in {"spec": 1200, "yaml": 500, "dataset": 800, "overrides": 300}.items()
}
SETTINGS = {
    "deadline": None,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}

BASE: dict[str, Any] = {
    "name": "fuzz",
    "dataset": {"path": "datasets/fuzz.jsonl"},
    "corpus": {"path": "corpora/acme"},
    "grid": {"prompt": ["qa_terse@1"], "model": ["scripted:fuzz"], "retriever": ["none"]},
    "thresholds": {"rouge_l": ">= 0.0"},
    "scorers": ["rouge_l"],
}
TOP_FIELDS = {
    "name", "description", "dataset", "corpus", "prompts_dir", "models", "retrievers", "grid",
    "params", "scorers", "judge", "thresholds", "gates", "execution", "pricing",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _script() -> None:
    wt.script("fuzz", answer="I don't know.")


@pytest.fixture
def workdir(acme_dir: Path) -> Path:
    """The acme folder with a small valid golden file (6 rows) and an empty folder."""
    rows = [json.loads(line) for line in (acme_dir / "datasets" / "acme_golden.jsonl").open()]
    keep = [r for r in rows if r["category"] != "injection"][:6]
    write_rows(acme_dir / "datasets" / "fuzz.jsonl", keep)
    (acme_dir / "empty").mkdir()
    return acme_dir


def write_rows(path: Path, rows: list[Any]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def base_rows(workdir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (workdir / "datasets" / "fuzz.jsonl").open()]


class Checker:
    """Runs one case and checks what it left behind; counts cases and error kinds."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.db = Path(os.environ["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///"))
        self.artifacts = self.db.parent / "artifacts"
        self.cases = 0
        self.kinds: Counter[str] = Counter()
        self.valid = 0

    def expect_error(
        self, action: Callable[[], Any], *needles: str, case: Any = None
    ) -> WorkbenchError:
        self.cases += 1
        try:
            action()
        except WorkbenchError as exc:
            error = exc
        except BaseException as exc:  # the bug this test exists to find
            raise AssertionError(
                f"{type(exc).__name__}: {exc!s:.500} <- case {case!r:.800}"
            ) from exc
        else:
            raise AssertionError(f"no error for case {case!r:.800}")
        message = str(error)
        for needle in needles:
            assert needle in message, f"{needle!r} not in {message!r:.600} <- case {case!r:.500}"
        self.kinds[type(error).__name__] += 1
        self.check_store()
        return error

    def check_store(self) -> None:
        assert h.run_statuses(self.db) == {}, "a failed case left a run in the store"
        if self.artifacts.exists():
            files = [p for p in self.artifacts.rglob("*") if p.is_file()]
            assert not files, files[:5]


def spec_file(workdir: Path, data: Any, name: str = "case.yaml") -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def with_field(
    data: dict[str, Any], path: str, value: Any, *, delete: bool = False
) -> dict[str, Any]:
    out = json.loads(json.dumps(data))
    node = out
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    if delete:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value
    return out


# --------------------------------------------------------------------------- strategies

scalar_junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
junk = st.one_of(
    scalar_junk,
    st.lists(scalar_junk, max_size=4),
    st.dictionaries(st.text(max_size=8), scalar_junk, max_size=3),
)
not_str = junk.filter(lambda v: not isinstance(v, str))
not_list = junk.filter(lambda v: not isinstance(v, list))
not_dict = junk.filter(lambda v: not isinstance(v, dict))
weird_text = st.one_of(
    st.text(min_size=1, max_size=60),
    st.text(alphabet="\u202e\u200b\ufeff\u0301\U0001f600<>&\"'\\/\n\t", min_size=1, max_size=20),
    st.builds(lambda n: "x" * n, st.integers(min_value=5_000, max_value=60_000)),
)
no_digits = st.text(min_size=1, max_size=6).filter(
    lambda t: not any(c.isdigit() for c in t) and "inf" not in t.lower() and "nan" not in t.lower()
)  # text no float parser reads as a number
path_text = st.one_of(
    st.text(min_size=1, max_size=60),
    st.builds(
        lambda c, n: c * n, st.sampled_from("pq/._"), st.integers(min_value=200, max_value=5000)
    ),
)  # names the OS refuses (too long) included
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def non_integral(v: Any) -> bool:
    return isinstance(v, float) and (math.isnan(v) or math.isinf(v) or v != int(v))


# (field path, strategy of invalid values, what the message must name)
FIELD_MUTATIONS: list[tuple[str, st.SearchStrategy[Any], str]] = [
    ("name", not_str, "name"),
    ("name", weird_text.filter(lambda t: not NAME_PATTERN.match(t) or len(t) > 100), "name"),
    ("description", not_str.filter(lambda v: v is not None), "description"),
    ("dataset", not_dict, "dataset"),
    ("dataset.path", not_str.filter(lambda v: v is not None), "dataset.path"),
    ("dataset.sample", st.integers(max_value=0), "dataset.sample"),
    ("dataset.sample", st.floats().filter(non_integral), "dataset.sample"),
    (
        "dataset.sample",
        st.text(min_size=1, max_size=10).filter(lambda t: not t.strip().isdigit()),
        "dataset.sample",
    ),
    (
        "dataset.version",
        not_str.filter(lambda v: not isinstance(v, int | float) and v is not None),
        "dataset.version",
    ),
    ("dataset.extra", junk, "dataset.extra"),
    ("corpus", not_dict.filter(lambda v: v is not None), "corpus"),
    ("grid", not_dict, "grid"),
    ("grid.prompt", st.just([]), "grid.prompt"),
    ("grid.prompt", not_list, "grid.prompt"),
    ("grid.prompt", st.lists(not_str, min_size=1, max_size=3), "grid.prompt[0]"),
    ("grid.model", st.just([]), "grid.model"),
    ("grid.model", not_list, "grid.model"),
    (
        "grid.model",
        st.lists(st.integers() | st.floats() | st.booleans(), min_size=1, max_size=2),
        "grid.model[0]",
    ),
    ("grid.retriever", st.just([]), "grid.retriever"),
    ("grid.retriever", not_list.filter(lambda v: v is not None), "grid.retriever"),
    (
        "grid.params",
        st.dictionaries(
            st.sampled_from(["temperature", "top_p", "max_tokens"]), st.just([]), min_size=1
        ),
        "grid.params",
    ),
    ("grid.params", not_dict.filter(lambda v: v is not None), "grid.params"),
    ("grid.colour", junk, "grid.colour"),
    (
        "params.temperature",
        st.floats(min_value=2.0, exclude_min=True)
        | st.floats(max_value=0.0, exclude_max=True)
        | no_digits,
        "params.temperature",
    ),
    (
        "params.max_tokens",
        st.integers(max_value=0) | st.integers(min_value=8193),
        "params.max_tokens",
    ),
    (
        "params.top_p",
        st.floats(max_value=0.0) | st.floats(min_value=1.0, exclude_min=True),
        "params.top_p",
    ),
    (
        "params.stop",
        st.integers() | st.dictionaries(st.text(max_size=3), st.integers(), min_size=1),
        "params.stop",
    ),
    (
        "execution.concurrency",
        st.integers(max_value=0) | st.integers(min_value=257),
        "execution.concurrency",
    ),
    (
        "execution.max_error_rate",
        st.floats(min_value=1.0, exclude_min=True) | st.floats(max_value=0.0, exclude_max=True),
        "execution.max_error_rate",
    ),
    (
        "execution.executor",
        st.text(max_size=10).filter(lambda t: t not in ("thread", "dask")),
        "execution.executor",
    ),
    (
        "execution.cache",
        st.lists(st.integers(), min_size=1)
        | st.dictionaries(st.text(max_size=3), st.integers(), min_size=1),
        "execution.cache",
    ),
    ("thresholds", not_dict.filter(lambda v: v is not None), "thresholds"),
    (
        "scorers",
        st.lists(st.integers() | st.booleans() | st.floats(), min_size=1, max_size=2),
        "scorers[0]",
    ),
    (
        "pricing.local_usd_per_hour",
        st.floats(max_value=0.0, exclude_max=True) | no_digits,
        "pricing.local_usd_per_hour",
    ),
    ("gates", st.integers() | st.lists(st.integers(), min_size=1), "gates"),
    ("models", not_dict.filter(lambda v: v is not None), "models"),
]

WHOLE_MUTATIONS: list[
    tuple[str, Callable[[Any], tuple[dict[str, Any], str]], st.SearchStrategy[Any]]
] = [
    (
        "missing",
        lambda f: (with_field(BASE, f, None, delete=True), f),
        st.sampled_from(["name", "dataset", "grid", "grid.prompt", "grid.model"]),
    ),
    (
        "unknown top field",
        lambda k: (with_field(BASE, k, 1), "unknown field"),  # YAML may fold the key
        st.text(min_size=1, max_size=30).filter(lambda k: k not in TOP_FIELDS and "." not in k),
    ),
    (
        "unknown prompt",
        lambda r: (with_field(BASE, "grid.prompt", [r]), "grid.prompt[0]"),
        path_text.filter(lambda r: r.split("@")[0] not in ("qa_terse", "qa_grounded")),
    ),
    (
        "unknown prompt version",
        lambda v: (with_field(BASE, "grid.prompt", [f"qa_terse@{v}"]), "grid.prompt[0]"),
        st.sampled_from(["\u00b9", "\u0663", "1.0", "-1", "+1", "1_0"])  # '¹' once crashed int()
        | st.text(min_size=1, max_size=10).filter(lambda v: v.strip() != "1"),
    ),
    (
        "unknown model",
        lambda m: (with_field(BASE, "grid.model", [m]), "grid.model[0]"),
        st.text(min_size=1, max_size=30).filter(lambda m: ":" not in m),
    ),
    (
        "unknown provider",
        lambda p: (with_field(BASE, "grid.model", [f"{p}:x"]), "grid.model[0]"),
        st.text(min_size=1, max_size=20).filter(
            lambda p: ":" not in p and p not in ("llama_cpp", "openai", "scripted")
        ),
    ),
    (
        "unknown local model",
        lambda m: (with_field(BASE, "grid.model", [f"llama_cpp:{m}"]), "grid.model[0]"),
        st.text(min_size=1, max_size=30).filter(
            lambda m: m not in ("gemma-3-270m", "smollm2-135m")
        ),
    ),
    (
        "bad model path",
        lambda p: (
            with_field(BASE, "grid.model", [{"provider": "llama_cpp", "path": p}]),
            "grid.model[0]",
        ),
        st.one_of(
            path_text, st.just("datasets/fuzz.jsonl"), st.just("/etc/hostname"), st.just("empty")
        ),
    ),
    (
        "bad model dict",
        lambda d: (with_field(BASE, "grid.model", [d]), "grid.model[0]"),
        st.dictionaries(
            st.sampled_from(["provider", "model", "path", "n_ctx", "colour"]),
            scalar_junk,
            max_size=3,
        ),
    ),
    (
        "unknown retriever",
        lambda r: (with_field(BASE, "grid.retriever", [r]), "grid.retriever[0]"),
        st.text(min_size=1, max_size=20).filter(
            lambda r: r not in ("none", "bm25", "dense", "hybrid")
        ),
    ),
    (
        "bad retriever dict",
        lambda k: (
            with_field(BASE, "grid.retriever", [{"type": "bm25", "k": k}]),
            "grid.retriever[0]",
        ),
        st.integers(max_value=0)
        | st.integers(min_value=101)
        | st.text(min_size=1, max_size=3).filter(lambda t: not t.strip().isdigit()),
    ),
    (
        "unknown sweep param",
        lambda k: (with_field(BASE, "grid.params", {k: [1]}), "grid.params"),
        st.text(min_size=1, max_size=20).filter(
            lambda k: k not in ("temperature", "top_p", "max_tokens", "seed", "stop")
        ),
    ),
    (
        "bad sweep level",
        lambda v: (with_field(BASE, "grid.params", {"temperature": [0.0, v]}), "grid.params"),
        st.floats(min_value=2.0, exclude_min=True)
        | st.floats(max_value=0.0, exclude_max=True)
        | st.just(float("nan")),
    ),
    (
        "bad threshold rule",
        lambda r: (with_field(BASE, "thresholds", {"rouge_l": r}), "thresholds.rouge_l"),
        st.text(max_size=20).filter(
            lambda r: not re.match(r"^\s*(>=|<=|>|<|==)\s*-?\d+(\.\d+)?\s*$", r)
        ),
    ),
    (
        "threshold on unknown metric",
        lambda m: (with_field(BASE, "thresholds", {m: ">= 0.5"}), "thresholds."),
        st.text(min_size=1, max_size=20).filter(lambda m: m != "rouge_l"),
    ),
    (
        "unknown scorer",
        lambda s: (with_field(BASE, "scorers", ["rouge_l", s]), "scorers[1]"),
        st.text(min_size=1, max_size=20).filter(
            lambda s: (
                s
                not in (
                    "rouge_l",
                    "rank",
                    "safety",
                    "context",
                    "bleu",
                    "exact_match",
                    "string_similarity",
                    "semantic_similarity",
                    "faithfulness",
                    "answer_relevancy",
                    "llm_context_precision",
                )
            )
        ),
    ),
    (
        "judge metric without judge",
        lambda s: (with_field(BASE, "scorers", [s]), "scorers[0]"),
        st.sampled_from(["faithfulness", "answer_relevancy", "llm_context_precision"]),
    ),
    (
        "unknown judge model",
        lambda m: (with_field(BASE, "judge", {"model": m}), "judge.model"),
        st.text(min_size=1, max_size=20).filter(lambda m: ":" not in m),
    ),
    (
        "missing dataset file",
        lambda p: (with_field(BASE, "dataset.path", p), "dataset file not found"),
        path_text.filter(lambda p: p.strip() not in ("", ".") and "fuzz.jsonl" not in p),
    ),
    (
        "missing corpus",
        lambda p: (with_field(BASE, "corpus.path", p), "corpus"),
        path_text.filter(lambda p: "acme" not in p and p.strip() not in ("", ".")),
    ),
    (
        "empty corpus",
        lambda p: (with_field(BASE, "corpus.path", p), "the corpus has no documents"),
        st.just("empty"),
    ),
    (
        "missing prompts_dir",
        lambda p: (with_field(BASE, "prompts_dir", p), "grid.prompt[0]"),
        path_text.filter(lambda p: p.strip() not in ("", ".", "prompts", "prompts/")),
    ),
    (
        "missing gate policy",
        lambda p: (with_field(BASE, "gates", p), "gate policy"),
        path_text.filter(lambda p: p.strip() not in ("", ".")),
    ),
    (
        "unknown column mapping",
        lambda c: (with_field(BASE, "dataset.columns", {"question": c}), "row 1"),
        st.text(min_size=1, max_size=20).filter(
            lambda c: (
                c
                not in (
                    "id",
                    "question",
                    "reference_answer",
                    "reference_doc_ids",
                    "category",
                    "severity",
                    "tags",
                    "canary",
                )
            )
        ),
    ),
    (
        "both dataset sources",
        lambda hub: (with_field(BASE, "dataset.hub", hub), "dataset"),
        st.text(min_size=1, max_size=20),
    ),
]


@st.composite
def spec_cases(draw: st.DrawFn) -> tuple[str, Any, str]:
    if draw(st.booleans()):
        path, values, needle = draw(st.sampled_from(FIELD_MUTATIONS))
        return f"field {path}", with_field(BASE, path, draw(values)), needle
    name, make, arg = draw(st.sampled_from(WHOLE_MUTATIONS))
    data, needle = make(draw(arg))
    return name, data, needle


def test_fuzz_experiment_specs(workdir: Path, figure: Callable[..., None]) -> None:
    checker = Checker(workdir)
    families: Counter[str] = Counter()
    started = time.perf_counter()

    @settings(max_examples=EXAMPLES["spec"], **SETTINGS)
    @given(spec_cases())
    def case(item: tuple[str, Any, str]) -> None:
        family, data, needle = item
        families[family.split(" ")[0] if family.startswith("field") else family] += 1
        path = spec_file(workdir, data)
        where = (
            str(path)
            if needle
            not in (
                "dataset file not found",
                "corpus",
                "the corpus has no documents",
                "gate policy",
                "row 1",
            )
            else ""
        )
        error = checker.expect_error(lambda: run(path), needle, case=item)
        if where:
            assert error.where and str(path) in error.where, str(error)
        else:  # the file that is wrong: the dataset, corpus, or policy the spec names
            assert error.where, str(error)

    case()
    assert checker.cases >= EXAMPLES["spec"]
    figure(family="spec mutations", cases=checker.cases, errors=dict(checker.kinds),
           kinds=len(families), seconds=round(time.perf_counter() - started, 1))  # fmt: skip


# --------------------------------------------------------------------------- weird YAML

VALID_YAML = yaml.safe_dump(BASE, sort_keys=False)
FRAGMENTS: list[st.SearchStrategy[str]] = [
    st.just("extra: &a [1, 2]\nmore: *a\n"),
    st.builds(
        lambda width, depth: "".join(
            f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width) if i else ', '.join(['x'] * width)}]\n"
            for i in range(depth)
        ),
        st.integers(min_value=4, max_value=12),
        st.integers(min_value=5, max_value=9),
    ),  # alias bomb: width ** depth values
    st.just("loop: &r [*r]\n"),
    st.just("loop: &m {self: *m}\n"),
    st.builds(
        lambda n: "deep: " + "[" * n + "]" * n + "\n", st.integers(min_value=60, max_value=3000)
    ),
    st.builds(
        lambda n: "deep: " + "{a: " * n + "1" + "}" * n + "\n",
        st.integers(min_value=60, max_value=2000),
    ),
    st.just("2024-01-01: date key\n"),
    st.just("? [complex, key]\n: value\n"),
    st.just("? {a: 1}\n: value\n"),
    st.just("bin: !!binary aGVsbG8=\n"),
    st.just("s: !!set {a, b}\n"),
    st.just("o: !!omap [a: 1, b: 2]\n"),
    st.just("evil: !!python/object/apply:os.system ['echo pwned']\n"),
    st.just("t: !custom 1\n"),
    st.just("name: again\n"),  # duplicate key
    st.just("grid: {prompt: [qa_terse@1], model: [scripted:fuzz]}\n"),  # duplicate section
    st.just("---\nname: second\n"),
    st.just("%YAML 1.1\n---\nextra: 1\n"),
    st.just("\tname: tab\n"),
    st.just("bad: [unclosed\n"),
    st.just("bad: 'unterminated\n"),
    st.just("x: \x00\n"),
    st.just("x: \x07\x1b[31m\n"),
    st.just("...\nextra: 1\n"),
    st.builds(
        lambda n: "long: " + "y" * n + "\n", st.integers(min_value=10_000, max_value=200_000)
    ),
    st.text(max_size=80).map(lambda t: "unknown_field: " + json.dumps(t) + "\n"),
]


@st.composite
def yaml_cases(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(min_value=0, max_value=4))
    if kind == 0:  # arbitrary text
        return draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    if kind == 1:  # arbitrary bytes (mostly not UTF-8)
        return draw(st.binary(max_size=300))
    if kind == 2:  # a random YAML document
        doc = draw(
            st.recursive(
                scalar_junk,
                lambda c: (
                    st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3)
                ),
                max_leaves=12,
            )
        )
        return yaml.safe_dump(doc, allow_unicode=True).encode("utf-8", "surrogatepass")
    fragment = draw(st.one_of(*FRAGMENTS))
    prefix = "\ufeff" if draw(st.booleans()) else ""
    text = prefix + (VALID_YAML + fragment if kind == 3 else fragment + VALID_YAML)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return text.encode("utf-8", "surrogatepass")


def test_fuzz_weird_yaml(workdir: Path, figure: Callable[..., None]) -> None:
    checker = Checker(workdir)
    path = workdir / "weird.yaml"
    started = time.perf_counter()

    @settings(max_examples=EXAMPLES["yaml"], **SETTINGS)
    @given(yaml_cases())
    def case(raw: bytes) -> None:
        path.write_bytes(raw)
        error = checker.expect_error(lambda: run(path), str(path), case=raw[:300])
        assert error.where and str(path) in error.where

    case()
    assert checker.cases >= EXAMPLES["yaml"]
    figure(family="weird YAML", cases=checker.cases, errors=dict(checker.kinds),
           seconds=round(time.perf_counter() - started, 1))  # fmt: skip


# --------------------------------------------------------------------------- dataset rows

REQUIRED = ("id", "question", "reference_answer")


@st.composite
def dataset_cases(draw: st.DrawFn) -> tuple[str, bytes, str]:
    """(mutation, file bytes, what the message must name)."""
    rows: list[Any] = [dict(r) for r in BASE_ROWS]
    n = len(rows)
    i = draw(st.integers(min_value=0, max_value=n - 1))
    row_no = f"row {i + 1}"
    # harmless unicode in the other rows' questions (valid: must not change the outcome)
    for j in range(n):
        if j != i and draw(st.booleans()):
            rows[j]["question"] = draw(st.text(max_size=30)) + " " + rows[j]["question"]
    kind = draw(st.sampled_from(MUTATIONS))
    if kind == "drop required":
        column = draw(st.sampled_from(REQUIRED))
        del rows[i][column]
        return kind, dumps(rows), f"{row_no}: missing column '{column}'"
    if kind == "null required":
        column = draw(st.sampled_from(REQUIRED))
        rows[i][column] = draw(st.sampled_from([None, float("nan")]))
        return kind, dumps(rows), f"{row_no}: column '{column}' has no value"
    if kind == "wrong type":
        column = draw(st.sampled_from([*REQUIRED, "category", "severity", "canary"]))
        rows[i][column] = draw(
            st.one_of(
                st.lists(st.integers(), max_size=2),
                st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                st.booleans(),
            )
        )
        return kind, dumps(rows), f"{row_no}: column '{column}'"
    if kind == "blank text":
        column = draw(st.sampled_from(REQUIRED))
        rows[i][column] = draw(st.text(alphabet=" \t\n\r\u3000\u00a0", max_size=5))
        return kind, dumps(rows), f"{row_no}: column '{column}'"
    if kind == "huge text":
        column = draw(st.sampled_from([*REQUIRED, "category"]))
        rows[i][column] = "z" * draw(st.integers(min_value=20_001, max_value=200_000))
        return kind, dumps(rows), f"{row_no}: column '{column}' is"
    if kind == "lone surrogate":
        column = draw(st.sampled_from([*REQUIRED, "category"]))
        rows[i][column] = "x" + chr(draw(st.integers(min_value=0xD800, max_value=0xDFFF)))
        return kind, dumps(rows), f"{row_no}: column '{column}' is not valid Unicode"
    if kind == "bad severity":
        rows[i]["severity"] = draw(
            st.text(min_size=1, max_size=12).filter(
                lambda s: s.strip().lower() not in ("low", "medium", "high", "")
            )
        )
        return kind, dumps(rows), f"{row_no}: severity"
    if kind == "duplicate id":
        j = draw(st.integers(min_value=0, max_value=n - 1).filter(lambda j: j != i))
        rows[i]["id"] = rows[j]["id"]
        later = max(i, j) + 1
        return kind, dumps(rows), f"row {later}: duplicate id"
    if kind == "numeric duplicate id":
        rows[0]["id"], rows[1]["id"] = 7, "7"
        return kind, dumps(rows), "row 2: duplicate id '7'"
    if kind == "unknown document":
        doc = draw(st.text(min_size=1, max_size=20))
        rows[i]["reference_doc_ids"] = [doc]
        return kind, dumps(rows), f"sample '{rows[i]['id']}'"
    if kind == "bad doc ids type":
        rows[i]["reference_doc_ids"] = draw(
            st.one_of(
                st.integers(),
                st.lists(st.integers(), min_size=1, max_size=3),
                st.dictionaries(st.text(max_size=3), st.integers(), min_size=1),
            )
        )
        return kind, dumps(rows), f"{row_no}: column 'reference_doc_ids'"
    if kind == "injection without canary":
        rows[i]["category"] = "injection"
        rows[i]["canary"] = None
        return kind, dumps(rows), f"{row_no}: an injection sample needs a canary"
    if kind == "non-object line":
        rows[i] = draw(
            st.one_of(
                st.lists(st.integers(), max_size=3),
                st.integers(),
                st.text(max_size=10),
                st.none(),
                st.booleans(),
            )
        )
        return kind, dumps(rows), f"line {i + 1}: expected a JSON object"
    if kind == "invalid JSON line":
        text = dumps(rows).decode("utf-8").splitlines()
        text[i] = text[i][: draw(st.integers(min_value=1, max_value=max(1, len(text[i]) - 1)))]
        return kind, ("\n".join(text) + "\n").encode(), f"line {i + 1}: invalid JSON"
    if kind == "not UTF-8":
        raw = dumps(rows)
        cut = draw(st.integers(min_value=0, max_value=len(raw)))
        return kind, raw[:cut] + b"\xff\xfe" + raw[cut:], "not UTF-8"
    if kind == "empty file":
        return kind, draw(st.sampled_from([b"", b"\n", b"\n\n  \n", b"\r\n"])), "no rows"
    raise AssertionError(kind)


MUTATIONS = [
    "drop required", "null required", "wrong type", "blank text", "huge text", "lone surrogate",
    "bad severity", "duplicate id", "numeric duplicate id", "unknown document", "bad doc ids type",
    "injection without canary", "non-object line", "invalid JSON line", "not UTF-8", "empty file",
]  # fmt: skip
BASE_ROWS: list[dict[str, Any]] = []


def dumps(rows: list[Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8", "surrogatepass")


def test_fuzz_dataset_rows(workdir: Path, figure: Callable[..., None]) -> None:
    BASE_ROWS[:] = base_rows(workdir)
    checker = Checker(workdir)
    spec = spec_file(workdir, BASE)
    golden = (workdir / "datasets" / "fuzz.jsonl").resolve()
    clean = golden.read_bytes()
    run(spec, track=False)  # the unmutated dataset runs
    families: Counter[str] = Counter()
    started = time.perf_counter()

    @settings(max_examples=EXAMPLES["dataset"], **SETTINGS)
    @given(dataset_cases())
    def case(item: tuple[str, bytes, str]) -> None:
        kind, raw, needle = item
        families[kind] += 1
        golden.write_bytes(raw)
        try:
            error = checker.expect_error(lambda: run(spec), needle, case=(kind, raw[:400]))
        finally:
            golden.write_bytes(clean)
        assert error.where and str(golden) in error.where, str(error)

    case()
    assert checker.cases >= EXAMPLES["dataset"]
    if EXAMPLES["dataset"] >= 200:
        assert len(families) == len(MUTATIONS), families
    figure(family="dataset rows", cases=checker.cases, errors=dict(checker.kinds),
           mutations=dict(families), seconds=round(time.perf_counter() - started, 1))  # fmt: skip


# --------------------------------------------------------------------------- overrides

KNOWN_PATHS = [
    "name", "description", "dataset.sample", "dataset.path", "grid.prompt", "grid.model",
    "grid.retriever", "params.temperature", "params.max_tokens", "execution.concurrency",
    "execution.max_error_rate", "thresholds.rouge_l", "scorers", "gates", "grid", "dataset",
]  # fmt: skip


def test_fuzz_set_overrides(workdir: Path, figure: Callable[..., None]) -> None:
    checker = Checker(workdir)
    spec = spec_file(workdir, BASE)
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    key = st.one_of(st.sampled_from(KNOWN_PATHS), st.text(max_size=20))
    value = st.one_of(
        st.text(max_size=30),
        scalar_junk.map(lambda v: yaml.safe_dump(v).strip().removesuffix("...").strip()),
    )

    @settings(max_examples=EXAMPLES["overrides"], **SETTINGS)
    @given(st.lists(st.tuples(key, st.sampled_from(["=", ""]), value), min_size=1, max_size=3))
    def case(items: list[tuple[str, str, str]]) -> None:
        overrides = [f"{k}{sep}{v}" for k, sep, v in items]
        checker.cases += 1
        try:
            prepare(spec, overrides=overrides)
        except WorkbenchError as exc:
            outcomes[type(exc).__name__] += 1
            assert exc.where, str(exc)
        except BaseException as exc:
            raise AssertionError(f"{type(exc).__name__}: {exc!s:.300} <- {overrides!r}") from exc
        else:
            outcomes["valid"] += 1

    case()
    checker.check_store()
    figure(family="--set overrides (prepare)", cases=checker.cases, outcomes=dict(outcomes),
           seconds=round(time.perf_counter() - started, 1))  # fmt: skip


CLI_CASES = {
    "alias bomb": VALID_YAML
    + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else 'x'}]\n" for i in range(8)),
    "recursive alias": VALID_YAML + "loop: &r [*r]\n",
    "date key": VALID_YAML + "2024-01-01: x\n",
    "deep nesting": VALID_YAML + "deep: " + "[" * 3000 + "]" * 3000 + "\n",
    "duplicate key": VALID_YAML + "name: again\n",
    "lone surrogate": VALID_YAML.replace("name: fuzz", 'name: fuzz\ndescription: "\\udc80"'),
    "not UTF-8": None,
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_cli_answers_weird_yaml_with_one_error_line(name: str, workdir: Path) -> None:
    """What the fuzzing found, through the command line: exit 2, ``error:``, no traceback."""
    path = workdir / "weird.yaml"
    text = CLI_CASES[name]
    path.write_bytes(b"name: \xff\xfe\n" if text is None else text.encode())
    code, _out, err = h.run_cli(["run", str(path)], os.environ, workdir, "cli", timeout=120)
    assert code == 2, err
    assert err.startswith(f"error: {path}") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) <= 3, err
