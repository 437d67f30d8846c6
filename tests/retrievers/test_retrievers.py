"""Retrievers on a constructed corpus: none, bm25, dense, hybrid (RRF) and chunking."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pytest

from workbench.data import Corpus
from workbench.data._corpus import Document, split_words
from workbench.errors import RetrieverError
from workbench.retrievers import (
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    NoRetriever,
    _impl,
    build_retriever,
    cached_index,
    index_key,
)
from workbench.retrievers._base import to_passages
from workbench.spec import RetrieverSpec

DOCS = {
    "password": ("Password reset", "Reset your password from the login page. The reset link expires after one hour."),
    "vpn": ("VPN access", "Connect to the VPN with the Acme client before opening internal dashboards."),
    "billing": ("Billing", "Invoices are sent on the first day of each month. Refunds take five business days."),
    "laptops": ("Laptops", "Request a new laptop from the IT portal; laptops are replaced every three years."),
}  # fmt: skip


def corpus_of(docs: dict[str, tuple[str, str]], digest: str = "test-digest") -> Corpus:
    documents = tuple(Document(id=i, title=title, text=text) for i, (title, text) in docs.items())
    return Corpus(name="acme-mini", documents=documents, digest=digest, source="<test>")


def spec(kind: str, **options: Any) -> RetrieverSpec:
    return RetrieverSpec(type=kind, **options)


def ids(passages: Sequence[Any]) -> list[str]:
    return [p.chunk_id for p in passages]


# --- none --------------------------------------------------------------------------------------


def test_none_retrieves_nothing_and_needs_no_corpus() -> None:
    retriever = build_retriever(spec("none"), None)
    assert isinstance(retriever, NoRetriever)
    assert retriever.retrieve("reset my password", k=3) == []
    assert retriever.retrieve_many(["a", "b"], k=3) == [[], []]


def test_a_retriever_over_documents_without_a_corpus_is_an_error() -> None:
    with pytest.raises(RetrieverError, match="retriever 'bm25' needs a corpus"):
        build_retriever(spec("bm25"), None)


# --- bm25 --------------------------------------------------------------------------------------


def test_bm25_ranks_the_matching_document_first_with_ranks_from_one() -> None:
    retriever = build_retriever(spec("bm25"), corpus_of(DOCS))
    assert isinstance(retriever, BM25Retriever)
    hits = retriever.retrieve("How do I reset my password?", k=3)
    assert ids(hits) == ["password#0"]  # no other document shares a word with the query
    assert hits[0].rank == 1 and hits[0].doc_id == "password" and hits[0].title == "Password reset"
    assert hits[0].score > 0


def test_bm25_returns_only_documents_that_match_best_first_and_at_most_k() -> None:
    docs = {
        "a": ("Alpha", "laptop laptop laptop portal"),
        "b": ("Beta", "laptop portal request form"),
        "c": ("Gamma", "invoices refunds months"),
        "d": ("Delta", "portal"),
    }
    retriever = BM25Retriever(spec("bm25"), corpus_of(docs))
    hits = retriever.retrieve("laptop portal", k=10)
    # a: laptop x3 + portal; b: laptop + portal; d: portal only; c: nothing in common
    assert ids(hits) == ["a#0", "b#0", "d#0"]
    assert [p.rank for p in hits] == [1, 2, 3]
    assert hits[0].score > hits[1].score > hits[2].score > 0
    assert ids(retriever.retrieve("laptop portal", k=2)) == ["a#0", "b#0"]


def test_bm25_scores_match_the_lucene_formula_by_hand() -> None:
    """bm25s' default (Lucene): idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
    score = idf * tf / (tf + k1 * (1 - b + b * dl / avgdl)), k1 = 1.5, b = 0.75.
    Titles are indexed with the text; stopwords are removed."""
    docs = {
        "a": ("Zebra", "apple apple banana"),  # tokens: zebra apple apple banana (dl 4)
        "b": ("Yak", "banana cherry"),  # tokens: yak banana cherry (dl 3)
        "c": ("Xerus", "cherry"),  # tokens: xerus cherry (dl 2)
    }
    retriever = BM25Retriever(spec("bm25"), corpus_of(docs))
    n, avgdl, k1, b = 3, 3.0, 1.5, 0.75

    def term(tf: int, df: int, dl: int) -> float:
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))

    scores = retriever.scores("apple banana")
    assert scores[0] == pytest.approx(term(2, 1, 4) + term(1, 2, 4), rel=1e-5)
    assert scores[1] == pytest.approx(term(1, 2, 3), rel=1e-5)
    assert scores[2] == 0.0


@pytest.mark.parametrize("query", ["", "the and of", "quantum entanglement"])
def test_bm25_finds_nothing_for_stopwords_or_unknown_words(query: str) -> None:
    retriever = BM25Retriever(spec("bm25"), corpus_of(DOCS))
    assert retriever.retrieve(query, k=3) == []


def test_bm25_searches_chunks_and_finds_the_window_that_matches() -> None:
    words = [f"filler{i}" for i in range(12)]
    text = " ".join([*words[:6], "kerberos", "ticket", *words[6:]])
    retriever = BM25Retriever(
        spec("bm25", chunk_size=4, chunk_overlap=1), corpus_of({"auth": ("Auth", text)})
    )
    # windows of 4 words, step 3: #0 filler0-3, #1 filler3-5 kerberos, #2 kerberos ticket filler6-7
    assert [c.id for c in retriever.chunks][:3] == ["auth#0", "auth#1", "auth#2"]
    hits = retriever.retrieve("kerberos ticket", k=2)
    assert ids(hits) == ["auth#2", "auth#1"]
    assert all(p.doc_id == "auth" for p in hits)


# --- chunking ----------------------------------------------------------------------------------


def test_chunk_size_zero_keeps_documents_whole() -> None:
    chunks = corpus_of(DOCS).chunks(0, 0)
    assert [c.id for c in chunks] == ["password#0", "vpn#0", "billing#0", "laptops#0"]
    assert chunks[2].text == DOCS["billing"][1]


def test_windows_of_words_overlap_as_asked() -> None:
    words = [f"w{i}" for i in range(10)]
    assert split_words(" ".join(words), 4, 1) == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9"]
    assert split_words(" ".join(words), 4, 0) == ["w0 w1 w2 w3", "w4 w5 w6 w7", "w8 w9"]
    assert split_words("short text", 4, 1) == ["short text"]


@pytest.mark.parametrize("n_words", range(1, 30))
@pytest.mark.parametrize(("size", "overlap"), [(3, 0), (4, 1), (5, 4), (7, 3)])
def test_windows_cover_every_word_in_order_and_overlap_exactly(
    n_words: int, size: int, overlap: int
) -> None:
    words = [f"w{i}" for i in range(n_words)]
    windows = [w.split() for w in split_words(" ".join(words), size, overlap)]
    assert all(1 <= len(w) <= size for w in windows)
    rebuilt = windows[0] + [word for w in windows[1:] for word in w[overlap:]]
    assert rebuilt == words  # every word once, in order, nothing invented
    for before, after in itertools.pairwise(windows):
        assert before[len(before) - overlap :] == after[:overlap]
        assert len(after) > overlap  # no window lies wholly inside the one before


# --- the index cache ---------------------------------------------------------------------------


def test_an_index_is_built_once_per_key_and_reused() -> None:
    built: list[str] = []

    def build(folder: Any) -> None:
        built.append(folder.name)
        (folder / "data.txt").write_text("index")

    first = cached_index("bm25-test", build)
    second = cached_index("bm25-test", build)
    assert first == second and len(built) == 1
    assert (first / "data.txt").read_text() == "index" and (first / "DONE").is_file()
    assert not [p for p in first.parent.iterdir() if ".tmp-" in p.name]


def test_the_index_key_follows_corpus_chunking_and_kind() -> None:
    corpus = corpus_of(DOCS)
    key = index_key(spec("bm25"), corpus, "bm25")
    assert key == index_key(spec("bm25", k=10), corpus, "bm25")  # k does not change the index
    assert key.startswith("bm25-")
    others = {
        index_key(spec("bm25", chunk_size=50), corpus, "bm25"),
        index_key(spec("bm25", chunk_size=50, chunk_overlap=5), corpus, "bm25"),
        index_key(spec("bm25"), corpus_of(DOCS, digest="other"), "bm25"),
        index_key(spec("bm25"), corpus, "dense"),
    }
    assert key not in others and len(others) == 4


def test_a_cached_bm25_index_serves_a_second_retriever(monkeypatch: pytest.MonkeyPatch) -> None:
    import bm25s

    corpus = corpus_of(DOCS)
    BM25Retriever(spec("bm25"), corpus)

    def no_second_build(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the index was built again")

    monkeypatch.setattr(bm25s.BM25, "index", no_second_build)
    again = BM25Retriever(spec("bm25", k=5), corpus)
    assert ids(again.retrieve("VPN client", k=1)) == ["vpn#0"]


# --- dense, on a stand-in embedder (the real MiniLM below) -------------------------------------

VOCAB = ["password", "reset", "vpn", "client", "invoices", "refunds", "laptop", "portal"]


def bag_of_words(texts: Sequence[str]) -> Any:
    """Unit vectors of word counts over VOCAB: cosine similarity is known by hand."""
    rows = []
    for text in texts:
        lowered = text.lower()
        vector = np.array([lowered.count(w) for w in VOCAB], dtype="float32") + 1e-3
        rows.append(vector / np.linalg.norm(vector))
    return np.stack(rows) if rows else np.zeros((0, len(VOCAB)), dtype="float32")


@pytest.fixture
def fake_embed(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    from workbench.models import embeddings

    seen: list[list[str]] = []

    def embed(texts: Sequence[str], **_: Any) -> Any:
        seen.append(list(texts))
        return bag_of_words(texts)

    monkeypatch.setattr(embeddings, "embed", embed)
    return seen


def test_dense_ranks_by_cosine_similarity_and_returns_k(fake_embed: list[list[str]]) -> None:
    retriever = DenseRetriever(spec("dense"), corpus_of(DOCS))
    hits = retriever.retrieve("vpn client", k=2)
    assert ids(hits)[0] == "vpn#0" and len(hits) == 2
    assert hits[0].score == pytest.approx(float(bag_of_words(["vpn client"])[0] @ bag_of_words([
        "VPN access\n" + DOCS["vpn"][1]])[0]), rel=1e-5)  # fmt: skip
    assert hits[0].score > hits[1].score
    # dense always returns k passages (cosine is never "no match")
    assert len(retriever.retrieve("quantum", k=4)) == 4


def test_dense_embeds_the_corpus_once_then_reuses_the_index(fake_embed: list[list[str]]) -> None:
    corpus = corpus_of(DOCS)
    DenseRetriever(spec("dense"), corpus)
    DenseRetriever(spec("dense"), corpus).retrieve_many(["vpn", "refunds"], k=1)
    corpus_batches = [batch for batch in fake_embed if len(batch) == len(DOCS)]
    assert len(corpus_batches) == 1
    assert corpus_batches[0][0] == "Password reset\n" + DOCS["password"][1]


# --- hybrid: reciprocal-rank fusion, checked by hand -------------------------------------------


class FixedRanking:
    """A stand-in for bm25 / dense that ranks the chunks in a fixed order."""

    order: ClassVar[list[str]] = []

    def __init__(self, spec: RetrieverSpec, corpus: Corpus):
        self.chunks = corpus.chunks(spec.chunk_size, spec.chunk_overlap)

    def retrieve(self, query: str, *, k: int) -> list[Any]:
        index = {c.id: i for i, c in enumerate(self.chunks)}
        return to_passages(self.chunks, [(index[c], 1.0) for c in self.order[:k]])

    def retrieve_many(self, queries: Sequence[str], *, k: int) -> list[list[Any]]:
        return [self.retrieve(q, k=k) for q in queries]


def hybrid_with(
    monkeypatch: pytest.MonkeyPatch, bm25: list[str], dense: list[str], rrf_k: int
) -> HybridRetriever:
    bm25_cls = type("Bm25Order", (FixedRanking,), {"order": bm25})
    dense_cls = type("DenseOrder", (FixedRanking,), {"order": dense})
    monkeypatch.setattr(_impl, "BM25Retriever", bm25_cls)
    monkeypatch.setattr(_impl, "DenseRetriever", dense_cls)
    return HybridRetriever(spec("hybrid", rrf_k=rrf_k), corpus_of(DOCS))


def test_hybrid_fuses_both_rankings_by_reciprocal_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    """bm25: password, vpn; dense: billing, vpn, password, laptops; rrf_k = 60:
    password 1/61 + 1/63 = 0.032266, vpn 1/62 + 1/62 = 0.032258, billing 1/61, laptops 1/64."""
    retriever = hybrid_with(
        monkeypatch,
        bm25=["password#0", "vpn#0"],
        dense=["billing#0", "vpn#0", "password#0", "laptops#0"],
        rrf_k=60,
    )
    hits = retriever.retrieve("anything", k=4)
    assert ids(hits) == ["password#0", "vpn#0", "billing#0", "laptops#0"]
    assert [p.score for p in hits] == pytest.approx([1 / 61 + 1 / 63, 2 / 62, 1 / 61, 1 / 64])
    assert [p.rank for p in hits] == [1, 2, 3, 4]
    assert ids(retriever.retrieve("anything", k=2)) == ["password#0", "vpn#0"]


def test_hybrid_rrf_constant_changes_the_fused_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """rrf_k = 1 weighs the top ranks heavily: vpn 1/3 + 1/2 = 0.833 (2nd and 1st) beats
    password 1/2 + 1/4 = 0.75 (1st and 3rd); billing 1/3 (dense 2nd only)."""
    retriever = hybrid_with(
        monkeypatch,
        bm25=["password#0", "vpn#0"],
        dense=["vpn#0", "billing#0", "password#0"],
        rrf_k=1,
    )
    hits = retriever.retrieve("anything", k=3)
    assert ids(hits) == ["vpn#0", "password#0", "billing#0"]
    assert [p.score for p in hits] == pytest.approx([1 / 3 + 1 / 2, 1 / 2 + 1 / 4, 1 / 3])


def test_hybrid_ties_keep_corpus_order(monkeypatch: pytest.MonkeyPatch) -> None:
    retriever = hybrid_with(monkeypatch, bm25=["laptops#0"], dense=["vpn#0"], rrf_k=60)
    # equal fused scores (1/61 each): the chunk earlier in the corpus comes first
    assert ids(retriever.retrieve("anything", k=5)) == ["vpn#0", "laptops#0"]


@pytest.mark.slow
def test_dense_with_the_packaged_minilm_finds_paraphrases() -> None:
    """The real MiniLM: a paraphrase with no word in common still finds its document."""
    retriever = build_retriever(spec("dense"), corpus_of(DOCS))
    assert isinstance(retriever, DenseRetriever)
    hits = retriever.retrieve_many(
        ["I forgot my login credentials", "When will my money come back?"], k=2
    )
    assert [p[0].doc_id for p in hits] == ["password", "billing"]
    assert all(len(p) == 2 and p[0].score > p[1].score for p in hits)
    assert all(-1.0 <= p.score <= 1.0 for ranked in hits for p in ranked)
