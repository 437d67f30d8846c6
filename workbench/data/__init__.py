"""Golden datasets and corpora."""

from workbench.data._corpus import Chunk, Corpus, Document, load_corpus, split_words
from workbench.data._golden import (
    SEVERITIES,
    GoldenSet,
    Sample,
    Severity,
    load_golden,
    stratified_sample,
)

__all__ = [
    "SEVERITIES",
    "Chunk",
    "Corpus",
    "Document",
    "GoldenSet",
    "Sample",
    "Severity",
    "load_corpus",
    "load_golden",
    "split_words",
    "stratified_sample",
]
