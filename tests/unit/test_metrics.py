"""One metric table and one engine: every caller's figures equal scikit-learn's under one meaning per name."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from mlgate.config import config_from_dict
from mlgate.errors import ConfigError
from mlgate.metrics import HEADLINE, METRICS, compute, encode, headline_metric, outputs, scorer, scores
from mlgate.thresholds import MaxBound, MinBound, parse_thresholds


def _data(k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 3))
    y = np.digitize(X[:, 0] + rng.normal(size=300) * 0.7, np.linspace(-1, 1, k - 1))
    return X, np.array(["abcd"[v] for v in y], dtype=object)


@pytest.mark.parametrize("model", [LogisticRegression(max_iter=300), DecisionTreeClassifier(max_depth=3)],
                         ids=lambda m: type(m).__name__)
def test_train_scores_equal_sklearn_with_f1_the_positive_class(model) -> None:  # type: ignore[no-untyped-def]
    X, y = _data(2)
    model.fit(X[:180], y[:180])
    Xv, yv = X[180:], y[180:]
    pred, proba = model.predict(Xv), model.predict_proba(Xv)
    got = scores(model, Xv, yv, "binary")
    positive = model.classes_[1]
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(yv, pred))
    assert got["f1"] == pytest.approx(skm.f1_score(yv, pred, pos_label=positive))
    assert got["precision"] == pytest.approx(skm.precision_score(yv, pred, pos_label=positive))
    assert got["f1_weighted"] == pytest.approx(skm.f1_score(yv, pred, average="weighted"))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(yv, pred, average="macro"))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(yv == positive, proba[:, 1]))
    # a tree's 0/1 probabilities: the engine clips as scikit-learn does
    assert got["log_loss"] == pytest.approx(skm.log_loss(yv, proba, labels=model.classes_))


@pytest.mark.parametrize("k", [3, 4])
def test_multiclass_scores_equal_sklearn(k: int) -> None:
    X, y = _data(k)
    model = LogisticRegression(max_iter=500).fit(X[:180], y[:180])
    proba, pred = model.predict_proba(X[180:]), model.predict(X[180:])
    got = scores(model, X[180:], y[180:], "multiclass")
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y[180:], proba, multi_class="ovr", labels=model.classes_))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y[180:], pred, average="macro", zero_division=0))
    assert "f1" not in got  # the positive class's F1 has no meaning for several classes


def test_regression_scores_equal_sklearn() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, 2))
    y = X @ [2.0, -1.0] + rng.normal(size=100) + 1e5
    model = LinearRegression().fit(X[:60], y[:60])
    got, pred = scores(model, X[60:], y[60:], "regression"), model.predict(X[60:])
    assert got == pytest.approx({"rmse": skm.root_mean_squared_error(y[60:], pred),
                                 "mae": skm.mean_absolute_error(y[60:], pred), "r2": skm.r2_score(y[60:], pred)})


def test_one_headline_per_task_with_a_fallback_without_probabilities() -> None:
    assert [headline_metric(t) for t in ("binary", "multiclass", "regression")] == ["roc_auc", "f1_macro", "rmse"]
    assert headline_metric("binary", has_proba=False) == "accuracy"
    assert set(HEADLINE.values()) <= set(METRICS)


def test_scorer_negates_a_loss_and_reads_labels_through_classes() -> None:
    X, y = _data(2)
    model = LogisticRegression().fit(X, y)
    assert scorer("binary", "accuracy", model.classes_)(model, X, y) == pytest.approx(
        skm.accuracy_score(y, model.predict(X)))
    assert scorer("binary", "log_loss", model.classes_)(model, X, y) == pytest.approx(
        -skm.log_loss(y, model.predict_proba(X)))


def test_outputs_with_string_labels_equal_sklearn() -> None:
    rng = np.random.default_rng(0)
    classes = np.array(["no", "yes"])
    y = rng.choice(classes, 400)
    p1 = np.clip((y == "yes") * 0.3 + rng.random(400) * 0.7, 0.01, 0.99)
    got = compute(outputs("binary", y, None, np.column_stack([1 - p1, p1]), classes))
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y == "yes", p1))
    assert got["recall"] == pytest.approx(skm.recall_score(y, classes[(p1 > 0.5).astype(int)], pos_label="yes"))


def test_encode_marks_unknown_labels() -> None:
    assert encode(np.array(["b", "z", "a"]), np.array(["a", "b"])).tolist() == [1, -1, 0]


def test_a_plain_threshold_is_a_minimum_for_a_score_and_a_maximum_for_a_loss() -> None:
    bounds = parse_thresholds({"roc_auc": 0.7, "rmse": 5, "log_loss": {"min": 0.1}}, ["roc_auc", "rmse", "log_loss"])
    assert [(type(b), b.metric) for b in bounds] == [(MinBound, "roc_auc"), (MaxBound, "rmse"), (MinBound, "log_loss")]
    assert bounds[1].holds(4.0) and not bounds[1].holds(6.0)


def _config(gates: dict) -> None:  # type: ignore[type-arg]
    from pathlib import Path

    config_from_dict({"data": {"train": "t.csv"}, "gates": gates}, Path("."))


@pytest.mark.parametrize(("name", "new"), [("f1", "f1_weighted"), ("precision", "precision_weighted"),
                                           ("recall", "recall_weighted")])
def test_an_old_test_threshold_name_whose_meaning_changed_names_the_new_key(name: str, new: str) -> None:
    with pytest.raises(ConfigError, match=rf"performance: {name}: .*write '{new}' for the old meaning"):
        _config({"test": {"performance": {name: 0.8}}})


@pytest.mark.parametrize("gate", ["compare", "evaluate"])
def test_too_few_bootstrap_resamples_is_a_config_error_naming_the_minimum(gate: str) -> None:
    with pytest.raises(ConfigError, match=rf"{gate} -> bootstrap.*at least 200 resamples"):
        _config({gate: {"bootstrap": 1}})
    _config({"evaluate": {"bootstrap": 0}})  # 0 keeps meaning "no intervals" in evaluate
    with pytest.raises(ConfigError, match="at least 200"):
        _config({"compare": {"bootstrap": 0}})
