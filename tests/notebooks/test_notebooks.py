"""The notebooks run top to bottom on the real local models (a small sample), in order,
against a fresh MLflow store; they are committed without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_are_committed_without_outputs() -> None:
    assert len(NOTEBOOKS) >= 3
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        dirty = [
            i
            for i, c in enumerate(cells)
            if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
        ]
        assert not dirty, f"{path.name}: cells {dirty} have outputs (run nbstripout)"


@pytest.mark.notebook
@pytest.mark.slow
def test_notebooks_execute_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_NOTEBOOK_SAMPLE", "4")
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        client = NotebookClient(
            book,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
        errors = [
            o
            for c in book.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.output_type == "error"
        ]
        assert not errors, f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
        # plotly figures render as plotly mime bundles
        mimes = {
            k
            for c in book.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            for k in o.get("data", {})
        }
        assert "application/vnd.plotly.v1+json" in mimes, path.name
        nbformat.write(book, tmp_path / path.name)  # executed copies, for a human to look at
