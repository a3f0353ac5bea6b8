"""A small churn model folder shared by the serving unit tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import shared_model  # noqa: E402


@pytest.fixture(scope="session")
def lr_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_model(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def served(lr_model_dir: Path):  # type: ignore[no-untyped-def]
    from mlgate.serve.model import ServedModel

    return ServedModel.load(lr_model_dir, version="7")
