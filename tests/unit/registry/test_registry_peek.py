from __future__ import annotations

import sqlite3
from pathlib import Path

from mlgate.registry.peek import alias_version, marker_unchanged


def _store(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE registered_model_aliases (alias TEXT, version INTEGER, name TEXT, workspace TEXT)")
    con.execute("INSERT INTO registered_model_aliases VALUES ('production', 3, 'churn', 'default')")
    con.commit()
    con.close()
    return path


def test_alias_version_reads_the_store(tmp_path: Path) -> None:
    db = _store(tmp_path / "mlflow.db")
    assert alias_version(db, "churn", "production") == "3"
    assert alias_version(db, "churn", "staging") is None
    assert alias_version(tmp_path / "missing.db", "churn", "production") is None


def test_a_store_without_registry_tables_has_no_alias(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()
    assert alias_version(db, "churn", "production") is None


def test_marker_notices_a_moved_alias(tmp_path: Path) -> None:
    db = _store(tmp_path / "mlflow.db")
    marker = {"store": str(db), "name": "churn", "alias": "production", "version": "3"}
    assert marker_unchanged(marker)
    con = sqlite3.connect(db)
    con.execute("UPDATE registered_model_aliases SET version = 4")
    con.commit()
    con.close()
    assert not marker_unchanged(marker)
