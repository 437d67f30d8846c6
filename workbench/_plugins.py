"""Plugins: modules that register providers or scorers when imported.

Named in ``$WORKBENCH_PLUGINS`` (comma-separated) or in the project file:

    [plugins]
    modules = ["my_company.workbench_models"]

They are imported before the first provider or scorer lookup, so what they register is
known to every entry point, the ``workbench`` command included.
"""

from __future__ import annotations

import importlib
import os
import threading
import tomllib

from workbench import _paths
from workbench.errors import ConfigError

PLUGINS_ENV = "WORKBENCH_PLUGINS"
_LOADED: set[str] = set()
_LOCK = threading.RLock()


def plugin_modules() -> list[str]:
    names = [m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()]
    path = _paths.project_root() / _paths.PROJECT_FILE
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"invalid TOML: {exc}", where=path) from None
        names += [str(m) for m in (data.get("plugins") or {}).get("modules", [])]
    return list(dict.fromkeys(names))


def load_plugins() -> list[str]:
    """Import every plugin module once; one that cannot be imported is a ConfigError."""
    with _LOCK:
        for name in plugin_modules():
            if name in _LOADED:
                continue
            _LOADED.add(name)  # before the import: a plugin may itself look providers up
            try:
                importlib.import_module(name)
            except Exception as exc:  # a missing module, or one that fails on import
                _LOADED.discard(name)
                raise ConfigError(
                    f"cannot import plugin module '{name}' ({type(exc).__name__}: {exc})",
                    hint=f"fix {PLUGINS_ENV} / [plugins] in workbench.toml, or the PYTHONPATH",
                ) from None
        return sorted(_LOADED)
