from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlgate.config import config_from_dict
from mlgate.tracking import lineage_tags, resolve_sqlite_uri, setup_mlflow, tracking_uri


def _config(root: Path):
    return config_from_dict({"data": {"train": "a.csv"}, "project": "p"}, root)


def test_each_project_keeps_its_own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first, second = _config(tmp_path / "a"), _config(tmp_path / "b")
    setup_mlflow(first)
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert tracking_uri(second) == f"sqlite:///{tmp_path / 'b' / '.mlgate' / 'mlflow.db'}"


def test_user_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(_config(tmp_path)) == "http://127.0.0.1:5000"


def test_relative_sqlite_uri_resolves_against_the_project(tmp_path: Path) -> None:
    assert resolve_sqlite_uri("sqlite:///.mlgate/x.db", tmp_path) == f"sqlite:///{tmp_path}/.mlgate/x.db"
    assert resolve_sqlite_uri("sqlite:////abs/x.db", tmp_path) == "sqlite:////abs/x.db"
    assert resolve_sqlite_uri("http://server:5000", tmp_path) == "http://server:5000"


def test_lineage_tags_read_ci_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    monkeypatch.delenv("CI_JOB_ID", raising=False)
    tags = lineage_tags(tmp_path)
    assert tags["mlgate.ci_job_id"] == "77.2"
    assert tags["ci.github_run_id"] == "77"
