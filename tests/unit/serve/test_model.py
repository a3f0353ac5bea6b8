"""Loading a model folder for serving without MLflow; schema, nullability, example row."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate.errors import ModelLoadError
from mlgate.serve.loading import load_estimator, resolve_model


def test_schema_comes_from_mlgate_json(served) -> None:  # type: ignore[no-untyped-def]
    kinds = {f.name: f.kind for f in served.schema.features}
    assert kinds["age"] == "integer" and kinds["gender"] == "string"
    assert kinds["senior_citizen"] == "boolean" and kinds["monthly_charges"] == "number"
    assert served.classes == [0, 1] and served.task == "binary"


def test_nullable_features_are_probed(served) -> None:  # type: ignore[no-untyped-def]
    nullable = {f.name for f in served.schema.features if f.nullable}
    # the pipeline imputes numeric columns; a string column is not probed (a one-hot encoder
    # that ignores unknown values takes None without having seen missing values)
    assert {"satisfaction_score", "total_charges", "last_login_days"} <= nullable
    assert "gender" not in nullable


def test_probe_keeps_null_out_where_the_model_cannot_take_it(tmp_path: Path) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from mlgate.models import save_model
    from mlgate.serve.model import ServedModel

    X = np.random.default_rng(0).normal(size=(50, 2))
    model = LogisticRegression().fit(X, X[:, 0] > 0)
    info = {"features": ["a", "b"], "dtypes": {"a": "float64", "b": "float64"}, "task": "binary"}
    served = ServedModel.load(save_model(model, tmp_path / "m", info), version="1")
    assert not any(f.nullable for f in served.schema.features)
    assert not served.frame_input and served.describe()["input_example"] == {"a": 0.0, "b": 0.0}


def test_declared_nullable_wins(tmp_path: Path) -> None:
    from _support.serve import build_model
    from mlgate.serve.model import ServedModel

    folder = build_model(tmp_path / "m", nullable=["total_charges"])
    model = ServedModel.load(folder, version="1")
    assert [f.name for f in model.schema.features if f.nullable] == ["total_charges"]


def test_model_info_has_an_example_that_predicts(served) -> None:  # type: ignore[no-untyped-def]
    info = served.describe()
    assert info["version"] == "7" and info["name"] == "churn"
    assert info["features"] == list(info["input_example"])
    assert info["git_commit"] == "0123abc" and info["metrics"] == {"roc_auc": 0.84}
    json.dumps(info, allow_nan=False)
    cols = served.schema.columns([info["input_example"]], "features", False, 1)
    out = served.predict(cols)
    assert out.labels[0] in (0, 1) and math.isclose(sum(out.probabilities[0]), 1.0, rel_tol=1e-5)


def test_batch_prediction_matches_the_pipeline(served, lr_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    example = json.loads((lr_model_dir / "input_example.json").read_text())
    frame = pd.DataFrame(example["data"], columns=example["columns"])
    rows = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in frame.to_dict("records")]
    out = served.predict(served.schema.columns(rows, "records", True, 10))
    expected = served.estimator.predict_proba(frame)
    assert np.allclose(out.probabilities, expected, atol=1e-6)


def test_loading_does_not_import_mlflow(lr_model_dir: Path) -> None:
    code = ("import sys; from mlgate.serve.model import ServedModel; "
            f"ServedModel.load({str(lr_model_dir)!r}, version='1'); "
            "print('mlflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_folder_version(lr_model_dir: Path) -> None:
    assert resolve_model(str(lr_model_dir)).version == "local"
    assert resolve_model(str(lr_model_dir), version="9").version == "9"


@pytest.mark.parametrize("make", ["missing", "no-mlmodel", "bad-suffix"])
def test_load_errors(tmp_path: Path, make: str) -> None:
    target = tmp_path / "x"
    if make == "no-mlmodel":
        target.mkdir()
    elif make == "bad-suffix":
        target = tmp_path / "model.txt"
        target.write_text("x")
    with pytest.raises(ModelLoadError):
        if make == "missing":
            resolve_model(str(target))
        else:
            load_estimator(target)


def test_fast_path_is_used_and_agrees_with_the_pipeline(served) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    assert served.fast_path
    rows = [served.example, {**served.example, "total_charges": None, "age": 90},
            {**served.example, "gender": "unseen-category"}]
    cols = served.schema.columns(rows, "records", True, 10)
    fast = served.predict(cols)
    slow = served.estimator.predict_proba(pd.DataFrame(cols))
    assert np.allclose(fast.probabilities, slow, atol=1e-6)


def test_fast_path_falls_back_when_it_fails(served) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    cols = served.schema.columns([served.example], "features", False, 1)
    broken = served._fast
    try:
        def boom(columns):  # type: ignore[no-untyped-def]
            raise RuntimeError("fast path broke")
        boom.final = broken.final  # type: ignore[attr-defined]
        served._fast = boom
        out = served.predict(cols)
    finally:
        served._fast = broken
    assert np.allclose(out.probabilities, served.predict(cols).probabilities)


@pytest.mark.parametrize("kind", ["gbm"])
def test_fast_path_for_gradient_boosting(tmp_path: Path, kind: str) -> None:
    from _support.serve import build_model
    from mlgate.serve.model import ServedModel

    model = ServedModel.load(build_model(tmp_path / "m", kind, n_rows=600), version="1")
    assert model.fast_path and model.describe()["model_type"] == "hist-gradient-boosting"


def test_fast_path_with_one_hot_booleans_and_constant_imputed_strings(tmp_path: Path) -> None:
    """The train stage's layout: booleans one-hot encoded, strings imputed with a constant."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlgate.examples.churn import generate
    from mlgate.models import save_model
    from mlgate.serve.model import ServedModel

    frame = generate(800)
    X = frame.drop(columns=["customer_id", "target"])
    boolean = ["senior_citizen", "has_partner", "paperless_billing"]
    strings = ["gender", "region", "contract", "internet_service", "payment_method"]
    numeric = [c for c in X.columns if c not in boolean + strings]
    pre = ColumnTransformer([
        ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric),
        ("categorical", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
                                  ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]), strings),
        ("boolean", OneHotEncoder(handle_unknown="ignore", sparse_output=False), boolean),
    ])
    pipe = Pipeline([("preprocess", pre), ("model", LogisticRegression(max_iter=300))]).fit(X, frame["target"])
    info = {"features": list(X.columns), "dtypes": {c: str(X[c].dtype) for c in X.columns}, "task": "binary"}
    model = ServedModel.load(save_model(pipe, tmp_path / "m", info, X.head(5)), version="1")
    assert model.fast_path
    assert not {"senior_citizen", "gender"} & {f.name for f in model.schema.features if f.nullable}
    rows = [model.example, {**model.example, "has_partner": not model.example["has_partner"]}]
    cols = model.schema.columns(rows, "records", True, 10)
    assert np.allclose(model.predict(cols).probabilities, pipe.predict_proba(pd.DataFrame(cols)), atol=1e-6)


def test_one_row_answers_as_it_would_in_a_batch(served) -> None:  # type: ignore[no-untyped-def]
    """A lone row's outputs (computed in Python) equal its row of a batch (numpy): the label,
    and the probabilities to the last rounded digit."""
    rows = [served.example, {**served.example, "total_charges": None, "age": 90},
            {**served.example, "gender": "unseen-category", "age": 18}]
    batch = served.predict(served.schema.columns(rows, "records", True, 10))
    for i, row in enumerate(rows):
        alone = served.predict(served.schema.columns([row], "records", True, 10))
        assert alone.labels == [batch.labels[i]]
        assert alone.probabilities == [batch.probabilities[i]]


def test_a_lone_non_finite_probability_is_refused(served) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    class Broken:
        def predict_proba(self, X):  # type: ignore[no-untyped-def]
            return np.array([[np.nan, 1.0]])

    with pytest.raises(ValueError, match="non-finite"):
        served._outputs(Broken(), None)
