from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from mlgate.config import config_from_dict
from mlgate.registry.peek import alias_version, aliases_and_tags, baseline_marker, marker_unchanged, registered_marker


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
    assert marker_unchanged(marker, tmp_path / 'elsewhere')  # an absolute store stays itself
    con = sqlite3.connect(db)
    con.execute("UPDATE registered_model_aliases SET version = 4")
    con.commit()
    con.close()
    assert not marker_unchanged(marker, tmp_path)


def test_a_store_inside_the_project_is_named_relative_so_it_survives_a_move(tmp_path: Path,
                                                                          monkeypatch) -> None:
    """A CI job gets the store as an artifact in another checkout folder: same marker there."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first, second = tmp_path / "job1", tmp_path / "job2"
    (first / ".mlgate").mkdir(parents=True)
    _store(first / ".mlgate" / "mlflow.db")
    raw = {"project": "churn", "data": {"train": "data/train.csv", "target": "y"}}
    marker = baseline_marker(config_from_dict(raw, first))
    assert marker is not None and marker["store"] == ".mlgate/mlflow.db" and marker["version"] == "3"
    shutil.copytree(first, second)
    assert baseline_marker(config_from_dict(raw, second)) == marker
    assert marker_unchanged(marker, second)


def test_monitor_inputs_on_disk_are_rechecked_without_loading_anything(tmp_path: Path) -> None:
    """The no-op replay re-lists monitor's local inputs: unchanged until a file changes or arrives."""
    from mlgate.monitor.stage import input_marker

    batches = tmp_path / "data" / "batches"
    batches.mkdir(parents=True)
    (batches / "day1.csv").write_text("x\n1\n")
    raw = {"project": "churn", "data": {"train": "data/train.csv", "target": "y"},
           "monitor": {"current": "data/batches"}}
    marker = input_marker(config_from_dict(raw, tmp_path))
    assert marker is not None and marker["local"] == {"current": str(batches)}
    assert marker_unchanged(marker, tmp_path)
    (batches / "day2.csv").write_text("x\n2\n")  # a new batch arrives
    assert not marker_unchanged(marker, tmp_path)
    marker = input_marker(config_from_dict(raw, tmp_path))
    assert marker is not None and marker_unchanged(marker, tmp_path)
    (batches / "day1.csv").write_text("x\n1\n3\n")  # a batch grows
    assert not marker_unchanged(marker, tmp_path)
    assert not marker_unchanged({"monitor": marker["monitor"]}, tmp_path)  # objects or DVC: never


def test_aliases_and_tags_read_both_tables_or_none(tmp_path: Path) -> None:
    """What an --env server re-reads every converge interval: every alias and model tag, read-only."""
    db = _store(tmp_path / "mlflow.db")
    assert aliases_and_tags(db, "churn") is None  # no tags table yet: unreadable, not half an answer
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE registered_model_tags (key TEXT, value TEXT, name TEXT)")
    con.execute("INSERT INTO registered_model_tags VALUES ('mlgate.canary_weight', '10', 'churn')")
    con.commit()
    con.close()
    assert aliases_and_tags(db, "churn") == ({"production": "3"}, {"mlgate.canary_weight": "10"})
    assert aliases_and_tags(db, "other") == ({}, {})
    assert aliases_and_tags(tmp_path / "missing.db", "churn") is None
    before = db.stat().st_mtime_ns
    alias_version(db, "churn", "production")
    assert db.stat().st_mtime_ns == before and not (tmp_path / "mlflow.db-journal").exists()


def test_registered_marker_follows_registry_alias(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / ".mlgate").mkdir()
    _store(tmp_path / ".mlgate" / "mlflow.db")
    raw = {"project": "churn", "data": {"train": "data/train.csv", "target": "y"}}
    assert registered_marker(config_from_dict({**raw, "registry": {"alias": "production"}}, tmp_path)) == {
        "store": ".mlgate/mlflow.db", "name": "churn", "alias": "production", "version": "3"}
    assert registered_marker(config_from_dict(raw, tmp_path))["version"] is None  # staging: not set yet
