"""Plugin modules named in ``$WORKBENCH_PLUGINS`` (comma-separated) or in the project file:

    [plugins]
    modules = ["my_company.workbench_models"]

Such a module calls ``register`` (or defines ``@scorer`` functions) when imported. Every
registry imports them before its first lookup, so what they register is known to every
entry point, the ``workbench`` command and subprocesses included. Installed packages need
none of this: their entry points are found by :class:`~workbench.plugins.Registry`.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
import tomllib
from pathlib import Path

from workbench import _paths
from workbench.errors import ConfigError

PLUGINS_ENV = "WORKBENCH_PLUGINS"
_LOADED: set[str] = set()
_LOCK = threading.RLock()


def plugin_modules() -> list[str]:
    """The module names from ``$WORKBENCH_PLUGINS`` then ``[plugins] modules``, deduplicated."""
    names = [m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()]
    path = _paths.project_root() / _paths.PROJECT_FILE
    if _paths.is_file(path):
        names += _project_modules(path, path.stat().st_mtime_ns)
    return list(dict.fromkeys(names))


@functools.lru_cache(maxsize=8)
def _project_modules(path: Path, stamp: int) -> tuple[str, ...]:
    """``[plugins] modules`` of ``path`` (read again only when the file changes)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", where=path) from None
    return tuple(str(m) for m in (data.get("plugins") or {}).get("modules", []))


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
