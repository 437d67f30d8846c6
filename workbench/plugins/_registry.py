"""One lazy registry for every kind of plugin: providers, scorers, retrievers.

Where a name comes from, highest priority first:

1. ``register(name, target)`` in this process (a plugin module, a test, a notebook);
2. the built-in entries, declared as ``"module:attr"`` strings;
3. installed packages' entry points in the registry's group (``workbench.providers``, ...),
   which only add new names: an installed package cannot silently replace a built-in.

A ``"module:attr"`` string or an entry point is imported on first use of its name, so
knowing the names (``names()``, ``in``) imports nothing but the plugin modules named in
``$WORKBENCH_PLUGINS`` / ``workbench.toml`` (see :mod:`workbench.plugins._modules`).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from typing import Generic, TypeVar, cast

from workbench.errors import ConfigError, WorkbenchError, did_you_mean
from workbench.plugins._modules import load_plugins

T = TypeVar("T")


class Installed:
    """An installed package's entry point, as the registry holds it.

    Wrapped rather than tested with ``isinstance(x, importlib.metadata.EntryPoint)``:
    the entry points a process sees may come from another ``EntryPoint`` class (the
    ``importlib_metadata`` backport, which some libraries install in its place)."""

    __slots__ = ("entry_point",)

    def __init__(self, entry_point: metadata.EntryPoint) -> None:
        self.entry_point = entry_point

    @property
    def value(self) -> str:
        return str(self.entry_point.value)

    def load(self) -> object:
        return self.entry_point.load()


Target = str | Installed | object
"""What a name points at: a ``"module:attr"`` string, an entry point, or the object itself."""


def import_target(target: str) -> object:
    """The object a ``"package.module:attr"`` string names (``attr`` may be dotted)."""
    module, _, attr = target.partition(":")
    obj: object = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def check_target(target: str, kind: str) -> str:
    module, sep, attr = target.partition(":")
    if not (sep and module and attr):
        raise ConfigError(
            f"{kind} target '{target}' must look like 'package.module:attr'",
            hint="or register the object itself",
        )
    return target


class Registry(Generic[T]):
    """Named plugins of one kind, loaded lazily; unknown names answer "did you mean"."""

    def __init__(
        self,
        kind: str,
        group: str,
        builtins: Mapping[str, str],
        *,
        convert: Callable[[str, object], T] | None = None,
    ) -> None:
        """``kind`` names the plugins in messages (``model provider``); ``group`` is the
        entry-point group; ``convert`` turns a loaded object into a ``T`` (or raises)."""
        self.kind = kind
        self.group = group
        self._builtins = {name: check_target(t, kind) for name, t in builtins.items()}
        self._convert = convert
        self._registered: dict[str, Target] = {}
        self._discovered: dict[str, Installed] | None = None
        self._loaded: dict[str, T] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ registering
    def register(self, name: str, target: str | T) -> None:
        """Make ``name`` mean ``target`` in this process (a ``"module:attr"`` string is
        imported on first use); replaces a built-in or an entry point of that name."""
        if isinstance(target, str):
            check_target(target, self.kind)
        with self._lock:
            self._registered[name] = target
            self._loaded.pop(name, None)

    def unregister(self, name: str) -> None:
        """Forget an in-process registration (a built-in of that name comes back)."""
        with self._lock:
            self._registered.pop(name, None)
            self._loaded.pop(name, None)

    def refresh(self) -> None:
        """Read the installed entry points again (after installing a package at run time)."""
        with self._lock:
            self._discovered = None
            self._loaded = {n: v for n, v in self._loaded.items() if n in self._registered}

    # ------------------------------------------------------------------ looking up
    def names(self) -> list[str]:
        """Every known name, sorted; imports no plugin target."""
        return sorted(self._targets())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._targets()

    def __iter__(self) -> Iterator[str]:
        return iter(self._targets())

    def is_loaded(self, name: str) -> bool:
        return name in self._loaded

    def get(self, name: str) -> T:
        """The object ``name`` stands for, imported now if it was not yet."""
        targets = self._targets()
        if name in self._loaded:
            return self._loaded[name]
        if name not in targets:
            raise self.unknown(name)
        value = self._load(name, targets[name])  # outside the lock: imports take their own
        with self._lock:
            if self._merged().get(name) is targets[name]:
                self._loaded[name] = value
                return value
        # importing it registered an object under this name (``@scorer`` does): use that one
        return self.get(name)

    def load_all(self) -> dict[str, T]:
        """Every entry, loaded: built-ins in their declared order, then the others."""
        return {name: self.get(name) for name in list(self._targets())}

    def unknown(self, name: str) -> ConfigError:
        """``unknown model provider 'opnai' (did you mean 'openai'?)`` as an error."""
        return ConfigError(f"unknown {self.kind} '{name}'", hint=self.hint(name))

    def hint(self, name: str) -> str:
        """``did you mean 'x'?`` for a near name, else the list of known names."""
        names = self.names()
        return did_you_mean(name, names) or f"known: {', '.join(names)}"

    # ------------------------------------------------------------------ internals
    def _targets(self) -> dict[str, Target]:
        load_plugins()  # $WORKBENCH_PLUGINS / [plugins]: modules that call register()
        with self._lock:
            return self._merged()

    def _merged(self) -> dict[str, Target]:
        """Registered over built-in over installed (call with the lock held)."""
        if self._discovered is None:
            self._discovered = {
                ep.name: Installed(ep) for ep in metadata.entry_points(group=self.group)
            }
        merged: dict[str, Target] = dict(self._builtins)
        for name, ep in self._discovered.items():
            merged.setdefault(name, ep)
        merged.update(self._registered)
        return merged

    def _load(self, name: str, target: Target) -> T:
        try:
            if isinstance(target, str):
                obj = import_target(target)
            elif isinstance(target, Installed):
                obj = target.load()
            else:
                obj = target
        except WorkbenchError:
            raise
        except Exception as exc:  # a missing module or attribute, or one failing on import
            where = target.value if isinstance(target, Installed) else target
            raise ConfigError(
                f"cannot load {self.kind} '{name}' from '{where}' ({type(exc).__name__}: {exc})",
                hint="install the package that provides it, or fix its entry point",
            ) from exc
        return self._convert(name, obj) if self._convert else cast(T, obj)
