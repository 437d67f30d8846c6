"""The one jsonl reader of golden sets and corpora: an error names the file and the line.

Hand-rolled on purpose: ``datasets.load_dataset("json")`` costs seconds of imports and an
Arrow cache, and reports a bad line without its number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.errors import DatasetError


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a UTF-8 jsonl file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8 text ({exc.reason})", where=path) from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"line {number}: invalid JSON ({exc.msg})", where=path) from None
        if not isinstance(row, dict):
            raise DatasetError(f"line {number}: expected a JSON object", where=path)
        yield number, row
