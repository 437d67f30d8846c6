"""The architecture's rules that import-linter does not see (docs/architecture.md).

import-linter (`make lint`, `.importlinter`) checks the layers inside ``workbench``; these
tests read the sources of the surfaces around it: the app and the notebooks use the
package's public names only, never MLflow directly, and no module grows past 400 lines.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400


def _imports(source: str, where: str) -> Iterator[tuple[str, str]]:
    """(where, dotted name) for every module or name imported in ``source``."""
    for node in ast.walk(ast.parse(source, filename=where)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield where, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield where, f"{node.module}.{alias.name}"


def _surface_imports() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in sorted((ROOT / "apps").rglob("*.py")):
        found += _imports(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            code = "".join(cell["source"])
            code = "\n".join(line for line in code.splitlines() if line.lstrip()[:1] not in "%!")
            found += _imports(code, f"{path.relative_to(ROOT)} cell {i}")
    return found


def private_workbench_names(imports: list[tuple[str, str]]) -> list[str]:
    """Imports of a ``workbench`` name with a private (``_``) part, e.g. ``workbench._paths``."""
    return [
        f"{where}: {name}"
        for where, name in imports
        if name.split(".")[0] == "workbench"
        and any(part.startswith("_") for part in name.split(".")[1:])
    ]


def test_the_rule_catches_a_private_import() -> None:
    code = "from workbench import _paths\nfrom workbench.runner._execute import render\nimport workbench.analysis"
    assert private_workbench_names(list(_imports(code, "x.py"))) == [
        "x.py: workbench._paths",
        "x.py: workbench.runner._execute.render",
    ]


def test_apps_and_notebooks_use_public_names_only() -> None:
    imports = _surface_imports()
    assert any(name.startswith("workbench") for _, name in imports), "no surface imports read"
    assert private_workbench_names(imports) == []


def test_apps_and_notebooks_never_import_mlflow() -> None:
    direct = [f"{w}: {n}" for w, n in _surface_imports() if n.split(".")[0] == "mlflow"]
    assert direct == []


@pytest.mark.parametrize("package", ["workbench", "apps"])
def test_no_module_over_400_lines(package: str) -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in (ROOT / package).rglob("*.py")
    }
    assert sizes, f"no modules found under {package}/"
    assert {path: n for path, n in sizes.items() if n > MAX_LINES} == {}
