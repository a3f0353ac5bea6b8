"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests must not pick up a developer's tracking server or CI variables.
_STORE_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
for _var in (*_STORE_VARIABLES, "CI_JOB_ID", "GITHUB_RUN_ID"):
    os.environ.pop(_var, None)


@pytest.fixture(autouse=True)
def _no_leaked_store() -> Iterator[None]:
    """A test that calls ``mlflow.set_tracking_uri`` exports MLFLOW_TRACKING_URI, which would
    point every later project in this process at that test's store: drop it after each test."""
    yield
    for var in _STORE_VARIABLES:
        os.environ.pop(var, None)


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty MLflow SQLite store: copying it skips seconds of migrations per test."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlgate_bin() -> list[str]:
    """The console script installed next to this interpreter (or ``python -m mlgate``)."""
    script = Path(sys.executable).with_name("mlgate")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlgate"]


@pytest.fixture(scope="session")
def _small_churn_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlgate.examples.churn import write_example

    folder = tmp_path_factory.mktemp("churn-template")
    write_example(folder, n_rows=3000)
    return folder


@pytest.fixture
def churn_project(_small_churn_template: Path, tmp_path: Path) -> Path:
    """A fresh project folder with the churn example (3,000 rows) and its mlgate.yaml."""
    target = tmp_path / "project"
    shutil.copytree(_small_churn_template, target)
    return target
