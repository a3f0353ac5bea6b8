"""The plug-in tables: built-in classes plus the ones other packages declare as entry points.

Each table (``DATA_CHECKS``, ``MODEL_CHECKS``, ``METHODS``, ``STRATEGIES``) is a ``PluginTable``,
the only list of its names: config validation, ``--help``, the docs tables and the tests read it.
A package adds to a table with an entry point in its ``pyproject.toml``::

    [project.entry-points."mlgate.model_checks"]
    calibration = "my_checks.calibration:Calibration"

The entry points are read on the table's first use (never at start-up), once per process. A
plug-in that fails to import, is not a subclass of the table's base, or takes a name already in
the table is a ``PluginError`` naming the entry point and its distribution (exit 2).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Generic, TypeVar

from mlgate.errors import ConfigError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

T = TypeVar("T")

# kind -> (entry point group, "module:TABLE" of the built-in table); the module is imported only
# when that kind's names are needed (help text, a config check), never at start-up
TABLES: dict[str, tuple[str, str]] = {
    "data_checks": ("mlgate.data_checks", "mlgate.data.checks:DATA_CHECKS"),
    "model_checks": ("mlgate.model_checks", "mlgate.modeltests.checks:MODEL_CHECKS"),
    "methods": ("mlgate.methods", "mlgate.stats.methods:METHODS"),
    "strategies": ("mlgate.strategies", "mlgate.deploy.strategies:STRATEGIES"),
}


class PluginError(ConfigError):
    """A plug-in declared through an entry point could not be added to its table (exit 2)."""


class PluginTable(Mapping[str, type[T]], Generic[T]):
    """``{name: class}`` of the built-in classes, then the entry points of ``group``.

    Every class has a ``name`` class attribute (the key in YAML and reports). The entry points are
    loaded on first access (lookup, iteration, ``len``), so importing the table costs nothing.
    """

    def __init__(self, group: str, base: type[T], builtin: Iterable[type[T]]) -> None:
        self.group = group
        self.base = base
        self.builtin: dict[str, type[T]] = {}
        for cls in builtin:
            if cls.name in self.builtin:  # type: ignore[attr-defined]
                raise ValueError(f"{group}: two built-in classes named {cls.name!r}")  # type: ignore[attr-defined]
            self.builtin[cls.name] = cls  # type: ignore[attr-defined]
        self._all: dict[str, type[T]] | None = None
        self._loading = False
        self.origin: dict[str, str] = {}  # name -> "entry point X of distribution Y" for plug-ins

    def _table(self) -> dict[str, type[T]]:
        if self._all is not None:
            return self._all
        if self._loading:  # a plug-in's module reads the table while it is imported: the built-ins
            return self.builtin
        # importlib.metadata (~20 ms) only when a table is used: mlgate.config imports this module
        from importlib.metadata import entry_points

        self._loading = True
        try:
            table = dict(self.builtin)
            for ep in sorted(entry_points(group=self.group), key=lambda e: e.name):
                cls = self._load(ep)
                name = cls.name  # type: ignore[attr-defined]
                if name in table:
                    owner = self.origin.get(name, "mlgate itself")
                    raise PluginError(f"plug-in {_where(ep)} adds the name {name!r} to {self.group}, which "
                                      f"{owner} already uses; rename one of them (or uninstall one package)")
                table[name] = cls
                self.origin[name] = _where(ep)
        finally:
            self._loading = False
        self._all = table
        return self._all

    def _load(self, ep: EntryPoint) -> type[T]:
        try:
            cls = ep.load()
        except Exception as exc:  # a third-party module may raise anything on import
            raise PluginError(f"plug-in {_where(ep)} failed to load ({ep.value}): "
                              f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(cls, type) or not issubclass(cls, self.base):
            raise PluginError(f"plug-in {_where(ep)} ({ep.value}) is not a subclass of "
                              f"{self.base.__module__}.{self.base.__qualname__}")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name.isidentifier() and not name.replace("-", "_").isidentifier():
            raise PluginError(f"plug-in {_where(ep)} ({ep.value}) needs a class attribute `name` "
                              f"(the key used in mlgate.yaml and reports), got {name!r}")
        return cls

    def __getitem__(self, name: str) -> type[T]:
        return self._table()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __repr__(self) -> str:
        return f"PluginTable({self.group!r}, {list(self._table())})"

    def unknown(self, name: object, what: str) -> str:
        """``unknown <what> 'x' (did you mean 'y'?); choose from a, b, c``."""
        close = difflib.get_close_matches(str(name), list(self), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown {what} {name!r}{hint}; choose from {', '.join(self)}"


def _where(ep: EntryPoint) -> str:
    dist = ep.dist
    source = f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"
    return f"'{ep.name}' (entry point group {ep.group}, distribution {source})"


def table(kind: str) -> PluginTable[object]:
    """The table of one kind (``data_checks``, ``model_checks``, ``methods``, ``strategies``)."""
    group_and_target = TABLES.get(kind)
    if group_and_target is None:
        raise ValueError(f"unknown plug-in kind {kind!r} (choose from {', '.join(TABLES)})")
    module, attr = group_and_target[1].split(":")
    found: PluginTable[object] = getattr(import_module(module), attr)
    return found


def names(kind: str) -> list[str]:
    """Every name of one kind's table, built-ins first, then plug-ins by entry point name."""
    return list(table(kind))
