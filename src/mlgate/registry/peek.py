"""Read which version an alias points at straight from a local MLflow SQLite store.

The pipeline's cache needs this on every run (the compare stage depends on the model behind
the `production` alias, which lives outside the project's files), and ``import mlflow``
costs 1.6 s: a read-only SQL query costs a millisecond. A store behind a tracking server
cannot be read this way; then the alias is not part of the cache key (see docs/pipeline.md).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mlgate._paths import file_stats

TYPE_CHECKING = False  # typing stays out of the no-op run's imports
if TYPE_CHECKING:
    from typing import Any

    from mlgate.config import Config


def _query(db: Path, *queries: tuple[str, tuple[str, ...]]) -> list[list[tuple[Any, ...]]] | None:
    """The rows of each ``(sql, parameters)`` on the SQLite store ``db`` opened read-only; None when
    there is no such file, no registry tables yet, or a schema these queries do not know."""
    if not db.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
        try:
            return [con.execute(sql, params).fetchall() for sql, params in queries]
        finally:
            con.close()
    except sqlite3.Error:
        return None


def alias_version(db: Path, name: str, alias: str) -> str | None:
    """The version behind ``name@alias`` in the SQLite store ``db``, or None."""
    found = _query(db, ("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", (name, alias)))
    return str(found[0][0][0]) if found and found[0] else None


def baseline_marker(config: Config) -> dict[str, Any] | None:
    """What the compare stage compares against: store, model, alias and its version."""
    return alias_marker(config, config.gates.compare.baseline_alias)


def registered_marker(config: Config) -> dict[str, Any] | None:
    """The alias the register stage sets (``registry.alias``) and its version, read after the
    stage ran: when someone moves that alias, the stage's cached verdict no longer holds."""
    alias = config.registry.alias
    return alias_marker(config, alias) if alias else None


def alias_marker(config: Config, alias: str) -> dict[str, Any] | None:
    """Store, model, ``alias`` and the version behind it; None for a store behind a tracking
    server (not readable this way)."""
    from mlgate.tracking import tracking_uri

    uri = tracking_uri(config)
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    db = Path(uri[len(prefix):])
    name = config.model_name
    version = alias_version(db, name, alias)
    # relative to the project, so a store that moved with it (a CI job's artifacts in another
    # checkout folder) keeps the compare stage's cache key
    store = db.relative_to(config.root) if db.is_relative_to(config.root) else db
    return {"store": str(store), "name": name, "alias": alias, "version": version}


def marker_unchanged(marker: dict[str, Any], root: Path) -> bool:
    """True while an external marker still holds: the alias of :func:`alias_marker` points
    where it did, or the local files of monitor's inputs (``mlgate.monitor.stage.input_marker``)
    have the same names, sizes and times. Any other marker (objects, DVC-tracked inputs) is never
    taken as unchanged here: the fast no-op replay then steps aside and the pipeline checks every
    stage's key itself.
    """
    if "monitor" in marker:
        local = marker.get("local")
        return isinstance(local, dict) and set(local) == set(marker["monitor"]) and all(
            file_stats(Path(path)) == marker["monitor"][key] for key, path in local.items())
    if not {"store", "name", "alias", "version"} <= set(marker):
        return False
    store = root / marker["store"]  # an absolute store stays itself
    return alias_version(store, marker["name"], marker["alias"]) == marker["version"]


def aliases_and_tags(db: Path, name: str) -> tuple[dict[str, str], dict[str, str]] | None:
    """Every alias (to its version) and registered-model tag of ``name``; None when unreadable.

    The model server reads this every ``serve.converge_interval_s`` to notice a change of
    its environment's aliases: a millisecond here against a tenth of a second through MLflow.
    """
    found = _query(db, ("SELECT alias, version FROM registered_model_aliases WHERE name = ?", (name,)),
                   ("SELECT key, value FROM registered_model_tags WHERE name = ?", (name,)))
    if found is None:
        return None
    aliases, tags = found
    return {str(a): str(v) for a, v in aliases}, {str(k): str(v) for k, v in tags}
