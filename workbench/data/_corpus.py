"""Corpora: the documents retrievers search, and their chunks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from workbench import _paths
from workbench.data._jsonl import read_jsonl
from workbench.errors import DatasetError

_TEXT_SUFFIXES = {".md", ".txt", ".markdown"}


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document; ``id`` is ``<doc_id>#<n>``."""

    id: str
    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class Corpus:
    name: str
    documents: tuple[Document, ...]
    digest: str
    source: str

    def __len__(self) -> int:
        return len(self.documents)

    @property
    def ids(self) -> set[str]:
        return {d.id for d in self.documents}

    def chunks(self, chunk_size: int = 0, chunk_overlap: int = 0) -> list[Chunk]:
        """Whole documents (``chunk_size=0``) or windows of ``chunk_size`` words."""
        out: list[Chunk] = []
        for doc in self.documents:
            for n, text in enumerate(split_words(doc.text, chunk_size, chunk_overlap)):
                out.append(Chunk(id=f"{doc.id}#{n}", doc_id=doc.id, title=doc.title, text=text))
        return out


def split_words(text: str, size: int, overlap: int) -> list[str]:
    """Split into windows of ``size`` words that overlap by ``overlap`` words."""
    if size <= 0:
        return [text]
    words = text.split()
    if len(words) <= size:
        return [text]
    step = size - overlap
    return [" ".join(words[i : i + size]) for i in range(0, len(words) - overlap, step)]


def load_corpus(path: Path, *, name: str | None = None) -> Corpus:
    """A folder of .md/.txt files (id = file stem, title = first ``# `` line) or a jsonl."""
    if _paths.is_dir(path):
        documents = [
            _read_text_doc(p) for p in sorted(path.iterdir()) if p.suffix in _TEXT_SUFFIXES
        ]
    elif _paths.is_file(path) and path.suffix == ".jsonl":
        documents = _read_jsonl_docs(path)
    else:
        raise DatasetError(
            "corpus not found", where=path, hint="corpus.path is a folder of .md files or a .jsonl"
        )
    if not documents:
        raise DatasetError("the corpus has no documents", where=path, hint="add .md or .txt files")
    seen: set[str] = set()
    for doc in documents:
        if doc.id in seen:
            raise DatasetError(f"duplicate document id '{doc.id}'", where=path)
        seen.add(doc.id)
    payload = json.dumps([[d.id, d.title, d.text] for d in documents], ensure_ascii=False)
    return Corpus(
        name=name or path.stem,
        documents=tuple(documents),
        digest=hashlib.sha256(payload.encode()).hexdigest()[:16],
        source=str(path),
    )


def _read_text_doc(path: Path) -> Document:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise DatasetError("not UTF-8 text", where=path) from None
    first, _, rest = text.partition("\n")
    if first.startswith("# "):
        return Document(id=path.stem, title=first[2:].strip(), text=rest.strip() or first[2:])
    return Document(id=path.stem, title=path.stem.replace("-", " "), text=text)


def _read_jsonl_docs(path: Path) -> list[Document]:
    documents = []
    for number, row in read_jsonl(path):
        try:
            doc = Document(
                id=str(row["id"]), title=str(row.get("title", row["id"])), text=str(row["text"])
            )
            for value in (doc.id, doc.title, doc.text):
                value.encode("utf-8")  # a lone surrogate ("\udc80") cannot be stored or hashed
        except (KeyError, UnicodeEncodeError) as exc:
            raise DatasetError(
                f"line {number}: bad document ({type(exc).__name__}: {exc})",
                where=path,
                hint="each line needs id and text",
            ) from None
        documents.append(doc)
    return documents
