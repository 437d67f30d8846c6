"""Golden datasets: formats, validation errors by row, stratified sampling."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import EXPERIMENTS
from workbench.data import load_corpus, load_golden, split_words, stratified_sample
from workbench.errors import DatasetError
from workbench.spec import ColumnMap, DatasetSpec

ROW = {
    "id": "q1",
    "question": "How long is the refund window?",
    "reference_answer": "14 days.",
    "reference_doc_ids": ["refund-policy"],
    "category": "factual",
    "severity": "high",
    "tags": ["billing"],
    "canary": None,
}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_bundled_golden_set_is_valid() -> None:
    golden = load_golden(
        DatasetSpec(path=str(EXPERIMENTS / "datasets" / "acme_golden.jsonl")), base_dir=Path(".")
    )
    counts = Counter(s.category for s in golden.samples)
    assert len(golden) >= 60
    assert counts["unanswerable"] >= 5 and counts["injection"] >= 4
    assert all(s.canary for s in golden.samples if s.category == "injection")
    corpus = load_corpus(EXPERIMENTS / "corpora" / "acme")
    assert len(corpus) >= 30
    assert {d for s in golden.samples for d in s.reference_context_ids} <= corpus.ids
    ds = golden.to_hf()
    assert ds.num_rows == len(golden) and "question" in ds.column_names


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_formats_load_the_same(tmp_path: Path, fmt: str) -> None:
    rows = [dict(ROW, id=f"q{i}") for i in range(3)]
    if fmt == "jsonl":
        path = write_jsonl(tmp_path / "g.jsonl", rows)
    else:
        frame = pd.DataFrame(rows)
        if fmt == "csv":
            frame["reference_doc_ids"] = frame["reference_doc_ids"].map(json.dumps)
            frame["tags"] = frame["tags"].map(json.dumps)
            path = tmp_path / "g.csv"
            frame.to_csv(path, index=False)
        else:
            path = tmp_path / "g.parquet"
            frame.to_parquet(path)
    golden = load_golden(DatasetSpec(path=path.name), base_dir=tmp_path)
    assert [s.id for s in golden.samples] == ["q0", "q1", "q2"]
    assert golden.samples[0].reference_context_ids == ("refund-policy",)
    assert golden.samples[0].tags == ("billing",)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({k: v for k, v in ROW.items() if k != "question"}, "row 2: missing column 'question'"),
        (dict(ROW, question=""), "row 2: column 'question' is empty"),
        (dict(ROW, question=["a"]), "row 2: column 'question' must be text"),
        (
            dict(ROW, severity="critical"),
            "row 2: severity 'critical' is not one of low, medium, high",
        ),
        (dict(ROW, id="q0"), "row 2: duplicate id 'q0' (first at row 1)"),
        (dict(ROW, category="injection"), "row 2: an injection sample needs a canary string"),
        (
            dict(ROW, reference_doc_ids=[1, 2]),
            "row 2: column 'reference_doc_ids' must be a list of strings",
        ),
    ],
)
def test_bad_rows_name_the_row_and_field(tmp_path: Path, row: dict, message: str) -> None:
    path = write_jsonl(tmp_path / "g.jsonl", [dict(ROW, id="q0"), row])
    with pytest.raises(DatasetError) as info:
        load_golden(DatasetSpec(path="g.jsonl"), base_dir=tmp_path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_invalid_json_line_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "g.jsonl").write_text(json.dumps(ROW) + "\n{not json\n")
    with pytest.raises(DatasetError, match="line 2: invalid JSON"):
        load_golden(DatasetSpec(path="g.jsonl"), base_dir=tmp_path)
    with pytest.raises(DatasetError, match="did you mean 'g.jsonl'"):
        load_golden(DatasetSpec(path="g.jsnl"), base_dir=tmp_path)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DatasetError, match="no rows"):
        load_golden(DatasetSpec(path="empty.jsonl"), base_dir=tmp_path)


def test_column_mapping(tmp_path: Path) -> None:
    row = {"qid": "a", "q": "Why?", "gold": "Because.", "docs": []}
    write_jsonl(tmp_path / "g.jsonl", [row])
    cols = ColumnMap(id="qid", question="q", reference="gold", reference_context_ids="docs")
    golden = load_golden(DatasetSpec(path="g.jsonl", columns=cols), base_dir=tmp_path)
    assert golden.samples[0].question == "Why?" and golden.samples[0].severity == "medium"


def test_stratified_sample_keeps_every_category_and_is_seeded() -> None:
    golden = load_golden(
        DatasetSpec(path=str(EXPERIMENTS / "datasets" / "acme_golden.jsonl")), base_dir=Path(".")
    )
    a = stratified_sample(golden.samples, 20, seed=0)
    b = stratified_sample(golden.samples, 20, seed=0)
    c = stratified_sample(golden.samples, 20, seed=1)
    assert len(a) == 20 and a == b and a != c
    assert {s.category for s in a} == {s.category for s in golden.samples}
    full = Counter(s.category for s in golden.samples)
    got = Counter(s.category for s in a)
    for category, n in full.items():  # proportional within one sample of rounding
        assert abs(got[category] - 20 * n / len(golden)) <= 1.5


def test_digest_tracks_content(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "g.jsonl", [ROW])
    first = load_golden(DatasetSpec(path="g.jsonl"), base_dir=tmp_path).digest
    write_jsonl(tmp_path / "g.jsonl", [dict(ROW, reference_answer="15 days.")])
    assert load_golden(DatasetSpec(path="g.jsonl"), base_dir=tmp_path).digest != first


def test_split_words_windows() -> None:
    text = " ".join(str(i) for i in range(10))
    assert split_words(text, 0, 0) == [text]
    assert split_words(text, 4, 1) == ["0 1 2 3", "3 4 5 6", "6 7 8 9"]
    assert split_words(text, 20, 5) == [text]
