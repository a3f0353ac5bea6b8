"""The model zoo: every type builds, fits and predicts; bad names and values are exit-2 errors."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from mlgate.errors import ConfigError, MissingDependency
from mlgate.train import zoo
from mlgate.train.zoo import MODEL_TYPES, ModelType, build_estimator, get_model_type


def _xy(task: str, n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    if task == "regression":
        return X, X[:, 0] * 2 + rng.normal(size=n)
    k = 2 if task == "binary" else 3
    return X, (np.argsort(np.argsort(X[:, 0])) * k // n).astype(int)


def _installed(t: ModelType) -> bool:
    return t.package is None or importlib.util.find_spec(t.package) is not None


CASES = [(t, task) for t in MODEL_TYPES.values() if t.name != "custom" for task in t.tasks]


@pytest.mark.parametrize(("mtype", "task"), CASES, ids=[f"{t.name}-{task}" for t, task in CASES])
def test_every_type_builds_fits_and_predicts(mtype: ModelType, task: str) -> None:
    if not _installed(mtype):
        with pytest.raises(MissingDependency, match=rf"pip install 'mlgate\[{mtype.package}\]'"):
            build_estimator(mtype.name, task, {}, 0)
        return
    est = build_estimator(mtype.name, task, {}, seed=3)
    X, y = _xy(task)
    with threadpool_limits(1):  # OpenMP on busy shared cores is many times slower
        est.fit(X, y)
    assert est.predict(X).shape == (len(y),)
    if "random_state" in est.get_params():
        assert est.get_params()["random_state"] == 3
    # The default search space names only parameters the estimator accepts.
    assert set(mtype.search_space(task)) <= set(mtype.accepted(task))


def test_every_type_class_is_in_the_table() -> None:
    classes = {c for c in vars(zoo).values()
               if isinstance(c, type) and issubclass(c, ModelType) and c is not ModelType}
    assert {type(t) for t in MODEL_TYPES.values()} == classes
    assert all(name == t.name for name, t in MODEL_TYPES.items())


def test_classifier_or_regressor_follows_the_task() -> None:
    assert type(build_estimator("random-forest", "binary", {}, 0)).__name__ == "RandomForestClassifier"
    assert type(build_estimator("gradient-boosting", "regression", {}, 0)).__name__ == \
        "HistGradientBoostingRegressor"
    assert type(build_estimator("neural-network", "multiclass", {}, 0)).__name__ == "MLPClassifier"


def test_unknown_type_lists_the_types() -> None:
    with pytest.raises(ConfigError, match=r"unknown model type 'random-fores' \(did you mean "
                                          r"'random-forest'\?\); types: logistic-regression"):
        get_model_type("random-fores")


def test_unknown_hyper_parameter_names_model_parameter_and_accepted() -> None:
    with pytest.raises(ConfigError, match=r"model 'rf' \(RandomForestClassifier\) has no "
                                          r"hyper-parameter 'n_trees'.*accepted: .*n_estimators"):
        build_estimator("random-forest", "binary", {"n_trees": 5}, 0, label="rf")


def test_invalid_value_fails_before_training() -> None:
    with pytest.raises(ConfigError, match=r"model 'random-forest' \(RandomForestClassifier\).*n_estimators"):
        build_estimator("random-forest", "binary", {"n_estimators": -1}, 0)


def test_classifier_only_type_refuses_regression() -> None:
    with pytest.raises(ConfigError, match="cannot do regression"):
        build_estimator("logistic-regression", "regression", {}, 0)


def test_mlp_layer_sizes_from_yaml_or_optuna() -> None:
    assert build_estimator("neural-network", "binary", {"hidden_layer_sizes": "64-32"}, 0) \
        .hidden_layer_sizes == (64, 32)
    assert build_estimator("neural-network", "binary", {"hidden_layer_sizes": [16]}, 0) \
        .hidden_layer_sizes == (16,)


def make_tree(task: str):  # a factory for the custom type, imported by "module:function"
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    return DecisionTreeRegressor() if task == "regression" else DecisionTreeClassifier()


def test_custom_factory_gets_task_params_and_seed() -> None:
    est = build_estimator("custom", "binary", {"factory": f"{__name__}:make_tree", "max_depth": 3}, 9)
    assert type(est).__name__ == "DecisionTreeClassifier"
    assert (est.max_depth, est.random_state) == (3, 9)
    with pytest.raises(ConfigError, match=r"has no hyper-parameter 'depth'.*max_depth"):
        build_estimator("custom", "binary", {"factory": f"{__name__}:make_tree", "depth": 3}, 9)


@pytest.mark.parametrize("factory", [None, "no_colon", "nonexistent_mod_xyz:f", f"{__name__}:nope"])
def test_custom_factory_errors_name_the_factory(factory: str | None) -> None:
    params = {} if factory is None else {"factory": factory}
    with pytest.raises(ConfigError, match="factory"):
        build_estimator("custom", "binary", params, 0)


def test_frame_input_works_for_defaults() -> None:
    X, y = _xy("binary")
    est = build_estimator("gradient-boosting", "binary", {"max_iter": 20}, 0)
    with threadpool_limits(1):
        est.fit(pd.DataFrame(X, columns=list("abcd")), y)
