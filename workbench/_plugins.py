"""Plugins: modules that register providers or scorers when imported.

Named in ``$WORKBENCH_PLUGINS`` (comma-separated) or in the project file:

    [plugins]
    modules = ["my_company.workbench_models"]
"""

from __future__ import annotations

import importlib
import os
import tomllib

from workbench import _paths
from workbench.errors import ConfigError

_LOADED: set[str] = set()


def plugin_modules() -> list[str]:
    names = [m.strip() for m in os.environ.get("WORKBENCH_PLUGINS", "").split(",") if m.strip()]
    path = _paths.project_root() / _paths.PROJECT_FILE
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"invalid TOML: {exc}", where=path) from None
        names += list((data.get("plugins") or {}).get("modules", []))
    return list(dict.fromkeys(names))


def load_plugins() -> list[str]:
    """Import every plugin module once; a missing one is a ConfigError that names it."""
    for name in plugin_modules():
        if name in _LOADED:
            continue
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"plugin module '{name}' cannot be imported ({exc})",
                hint="check WORKBENCH_PLUGINS / [plugins] in workbench.toml",
            ) from None
        _LOADED.add(name)
    return sorted(_LOADED)
