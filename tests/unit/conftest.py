"""A small churn model folder shared by the serving and smoke unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from _support.serve import shared_model


@pytest.fixture(scope="session")
def lr_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_model(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def served(lr_model_dir: Path):  # type: ignore[no-untyped-def]
    from mlgate.serve.model import ServedModel

    return ServedModel.load(lr_model_dir, version="7")
