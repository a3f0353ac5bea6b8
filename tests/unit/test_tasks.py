"""Task inference, in one place: from a target's values and from a fitted model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from mlgate.errors import DataError
from mlgate.tasks import task_of_model, task_of_target


@pytest.mark.parametrize(("values", "task"), [
    ([0, 1, 1, 0], "binary"),
    (["yes", "no", "no"], "binary"),
    (["a", "b", "c", "a"], "multiclass"),
    ([0, 1, 2, 3, 2, 1], "multiclass"),
    ([0.0, 1.0, 2.0, 2.0], "multiclass"),
    (list(np.linspace(0, 1, 50)), "regression"),
    (list(range(100)), "regression"),
])
def test_task_of_target(values: list, task: str) -> None:
    assert task_of_target(pd.Series(values)) == task


def test_constant_target_is_a_data_error() -> None:
    with pytest.raises(DataError, match="target column 'y' has 1 distinct"):
        task_of_target(pd.Series([1, 1, 1]), "y")


def test_a_data_check_may_ask_about_a_constant_target_without_an_error() -> None:
    assert task_of_target(pd.Series([1, 1, 1]), strict=False) == "binary"


def test_task_of_model_reads_metadata_then_classes() -> None:
    X, y = np.arange(12.0).reshape(6, 2), np.array([0, 1, 2, 0, 1, 2])
    assert task_of_model(LogisticRegression().fit(X, y)) == "multiclass"
    assert task_of_model(LogisticRegression().fit(X, y % 2)) == "binary"
    assert task_of_model(LinearRegression().fit(X, y)) == "regression"
    assert task_of_model(LinearRegression(), {"task": "binary"}) == "binary"
    assert task_of_model(None, None, classes=["a", "b"]) == "binary"
    assert task_of_model() is None
