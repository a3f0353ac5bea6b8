"""Preprocessing from dtypes and task inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlgate.errors import DataError
from mlgate.train.preprocess import build_pipeline, feature_set


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 200
    return pd.DataFrame({
        "id": [f"c{i}" for i in range(n)],
        "num": rng.normal(size=n),
        "cnt": rng.integers(0, 5, n),
        "cat": pd.Series(rng.choice(["a", "b", None], n)),
        "flag": rng.random(n) < 0.5,
        "when": pd.date_range("2024-01-01", periods=n),
        "empty": [np.nan] * n,
        "target": rng.integers(0, 2, n),
    })


def test_columns_sorted_by_kind_and_ids_never_features() -> None:
    fs = feature_set(_frame(), "target", ["id"])
    assert fs.numeric == ["num", "cnt"]
    assert fs.categorical == ["cat"]
    assert fs.boolean == ["flag"]
    assert set(fs.ignored) == {"id", "when", "empty"}
    assert "target" not in fs.columns and "id" not in fs.columns


def test_pipeline_takes_raw_rows_with_missing_and_unseen_values() -> None:
    frame = _frame()
    fs = feature_set(frame, "target", ["id"])
    model = build_pipeline(fs, LogisticRegression()).fit(frame[fs.columns], frame["target"])
    new = pd.DataFrame({"num": [np.nan, 1.0], "cnt": [2, None], "cat": ["zzz", None],
                        "flag": pd.Series([None, True], dtype=object)})
    proba = model.predict_proba(new)
    assert proba.shape == (2, 2) and np.isfinite(proba).all()


def test_object_column_of_booleans_with_missing_is_boolean() -> None:
    frame = pd.DataFrame({"b": pd.Series([True, None, False], dtype=object), "t": [0, 1, 0]})
    assert feature_set(frame, "t").boolean == ["b"]


def test_no_usable_feature_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no usable feature columns"):
        feature_set(pd.DataFrame({"id": [1, 2], "t": [0, 1]}), "t", ["id"])
