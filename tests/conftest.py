"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

# Tests must not pick up a developer's tracking server or CI variables.
for _var in ("MLFLOW_TRACKING_URI", "CI_JOB_ID", "GITHUB_RUN_ID"):
    os.environ.pop(_var, None)


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
