"""Small churn models and projects for the evaluate, compare and register tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mlgate.config import Config, config_from_dict

TARGET = "target"
WEAK = ["gender", "region", "age"]  # features with no effect on churn: a clearly worse model


def churn(n_rows: int = 2000, seed: int = 7) -> pd.DataFrame:
    from mlgate.examples.churn import generate

    return generate(n_rows, seed=seed)


def fit(frame: pd.DataFrame, features: list[str] | None = None, *, c: float = 1.0,
        rows: slice | None = None, regression_target: str | None = None) -> Any:
    """A preprocessing + logistic (or ridge) Pipeline on raw churn rows."""
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    data = frame.iloc[rows] if rows is not None else frame
    target = regression_target or TARGET
    x = data.drop(columns=[TARGET, "customer_id", *([regression_target] if regression_target else [])])
    if features:
        x = x[features]
    pre = make_column_transformer(
        (make_pipeline(SimpleImputer(), StandardScaler()), make_column_selector(dtype_include="number")),
        (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")))
    model = Ridge(alpha=c) if regression_target else LogisticRegression(C=c, max_iter=1000)
    return make_pipeline(pre, model).fit(x, data[target])


def save(estimator: Any, folder: Path, frame: pd.DataFrame, task: str = "binary", **info: Any) -> Path:
    from mlgate.models import save_model

    features = [str(c) for c in estimator.feature_names_in_]
    meta = {"name": "churn", "model_type": "logistic-regression", "task": task, "target": TARGET,
            "features": features, **info}
    return save_model(estimator, folder, meta, frame[features].head(3))


def project(root: Path, frame: pd.DataFrame, **overrides: Any) -> Config:
    """A project folder with data/train.csv and data/test.csv (half each) and its config."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    half = len(frame) // 2
    frame.iloc[:half].to_csv(data / "train.csv", index=False)
    frame.iloc[half:].to_csv(data / "test.csv", index=False)
    raw: dict[str, Any] = {"project": "churn", "task": "binary",
                           "data": {"train": "data/train.csv", "test": "data/test.csv", "target": TARGET,
                                    "id_columns": ["customer_id"]},
                           "registry": {"model_name": "churn"}}
    for key, value in overrides.items():
        raw[key] = value
    (root / "mlgate.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    return config_from_dict(raw, root)
