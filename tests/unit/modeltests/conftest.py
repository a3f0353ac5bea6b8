"""Small fitted models on small data for the model-check tests (built once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from _support.modeltests import pipeline_for


@pytest.fixture(autouse=True, scope="module")
def _one_native_thread():  # type: ignore[no-untyped-def]
    """OpenMP models on a busy 2-core machine can take 10x longer with 2 threads than with 1."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@dataclass
class Case:
    task: str
    model: Any
    train: pd.DataFrame
    test: pd.DataFrame
    target: str = "target"


@pytest.fixture(scope="session")
def binary_case() -> Case:
    from mlgate.data.io import split_frame
    from mlgate.examples.churn import generate

    frame = generate(2000, seed=3).drop(columns=["customer_id"])
    train, test = split_frame(frame, "target", 0.3, 42)
    model = pipeline_for(HistGradientBoostingClassifier(max_iter=40, random_state=0))
    model.fit(train.drop(columns=["target"]), train["target"])
    return Case("binary", model, train, test)


def _synthetic(n: int, seed: int, task: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], n)
    group = rng.choice(["a", "b"], n)
    signal = 1.5 * x1 - x2 + (color == "red") * 1.0 + rng.normal(0, 0.5, n)
    if task == "multiclass":
        y: Any = np.digitize(signal, [-0.8, 0.8])
    else:
        y = signal * 10 + 50
    return pd.DataFrame({"x1": x1, "x2": x2, "color": color, "group": group, "target": y})


@pytest.fixture(scope="session")
def multiclass_case() -> Case:
    train, test = _synthetic(1200, 1, "multiclass"), _synthetic(600, 2, "multiclass")
    pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["color", "group"]),
                             ("num", StandardScaler(), ["x1", "x2"])])
    model = make_pipeline(pre, LogisticRegression(max_iter=500))
    model.fit(train.drop(columns=["target"]), train["target"])
    return Case("multiclass", model, train, test)


@pytest.fixture(scope="session")
def regression_case() -> Case:
    train, test = _synthetic(1200, 3, "regression"), _synthetic(600, 4, "regression")
    model = pipeline_for(HistGradientBoostingRegressor(max_iter=40, random_state=0))
    model.fit(train.drop(columns=["target"]), train["target"])
    return Case("regression", model, train, test)


@pytest.fixture(params=["binary", "multiclass", "regression"])
def any_case(request: pytest.FixtureRequest) -> Case:
    return request.getfixturevalue(f"{request.param}_case")  # type: ignore[no-any-return]
