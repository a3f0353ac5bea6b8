"""A model registered by hand can be deployed: its input example is real rows (from --data or the
config's training data), the self-test says where its example came from, a model whose features
come in another order is taken (list rows reordered) and one whose features differ is refused, naming them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest

from _support.lifecycle import TARGET, churn
from mlgate.errors import ModelLoadError
from mlgate.registration.register import wrap_pickle
from mlgate.serve.deployment import self_test
from mlgate.serve.model import ServedModel

pytestmark = pytest.mark.integration


def _strict(frame: pd.DataFrame, columns: list[str]) -> Any:
    """A pipeline whose encoder refuses unknown categories (an empty string among them)."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    categorical = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in columns if c not in categorical]
    pre = make_column_transformer((OneHotEncoder(handle_unknown="error"), categorical), ("passthrough", numeric))
    rows = frame.dropna(subset=columns)
    return make_pipeline(pre, LogisticRegression(max_iter=500)).fit(rows[columns], rows[TARGET])


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    frame = churn(800)
    path = tmp_path_factory.mktemp("data") / "train.csv"
    frame.to_csv(path, index=False)
    return path, frame


def _served(tmp_path: Path, estimator: Any, name: str, example_from: tuple[Path, str] | None) -> ServedModel:
    joblib.dump(estimator, tmp_path / f"{name}.joblib")
    folder, info = wrap_pickle(tmp_path / f"{name}.joblib", tmp_path / name, trust=True, example_from=example_from)
    return ServedModel.load(folder, version=name)


def test_example_from_data_passes_the_self_test(tmp_path: Path, table: tuple[Path, pd.DataFrame]) -> None:
    path, frame = table
    columns = ["contract", "gender", "tenure_months", "monthly_charges"]
    model = _served(tmp_path, _strict(frame, columns), "1", (path, f"--data {path.name}"))
    assert model.info["input_example_source"] == "--data train.csv"
    assert model.example and model.example["contract"] in set(frame["contract"])
    self_test(model, None)  # no error: real rows, in the model's column order


def test_without_data_the_self_test_says_where_the_example_came_from(tmp_path: Path,
                                                                       table: tuple[Path, pd.DataFrame]) -> None:
    _, frame = table
    model = _served(tmp_path, _strict(frame, ["contract", "gender", "tenure_months"]), "1", None)
    with pytest.raises(ModelLoadError, match=r"cannot predict any row of its own input example \(the model has "
                                             r"no input example, so a row of zeros and empty strings was tried; "
                                             r"register it with --data"):
        self_test(model, None)


def test_another_order_is_taken_and_other_features_are_named(tmp_path: Path,
                                                              table: tuple[Path, pd.DataFrame]) -> None:
    path, frame = table
    columns = ["contract", "gender", "tenure_months"]
    stable = _served(tmp_path, _strict(frame, columns), "1", (path, "--data"))
    reordered = _served(tmp_path, _strict(frame, columns[::-1]), "2", (path, "--data"))
    self_test(reordered, stable)  # the same features: list rows keep the served order
    assert reordered.schema.list_names == columns and reordered.schema.names == columns[::-1]
    row = {"contract": frame["contract"].iloc[0], "gender": frame["gender"].iloc[0], "tenure_months": 7}
    listed = reordered.predict(reordered.schema.columns([[row[c] for c in columns]], "features", False, 1))
    named = reordered.predict(reordered.schema.columns([row], "features", False, 1))
    assert listed.probabilities == named.probabilities
    other = _served(tmp_path, _strict(frame, ["contract", "gender", "monthly_charges"]), "3", (path, "--data"))
    with pytest.raises(ModelLoadError, match=r"missing \['tenure_months'\], extra \['monthly_charges'\]"):
        self_test(other, stable)
