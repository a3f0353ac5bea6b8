"""Helpers shared by the model-check tests (imported by name: tests are not packages)."""

from __future__ import annotations

from typing import Any

from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

# Small sizes keep the whole suite fast; the defaults are exercised in the integration test.
FAST = {
    "consistency": {"n_rows": 200, "single_rows": 5},
    "robustness": {"n_rows": 400},
    "feature_importance": {"n_bootstrap": 3, "n_rows": 300},
    "inference": {"single_calls": 20, "warmup": 2, "batch_size": 200, "batches": 2},
    "reproducibility": {"n_rows": 300},
}


def pipeline_for(estimator: Any) -> Pipeline:
    cats = make_column_selector(dtype_include=[object, "string", bool])
    pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), cats)],
                            remainder="passthrough")
    return Pipeline([("pre", pre), ("model", estimator)])
