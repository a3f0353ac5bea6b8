"""The train stage's validation metrics (computed by mlgate.metrics) equal scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from mlgate.train.metrics import primary_metric, score


def _data(k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 3))
    y = np.digitize(X[:, 0] + rng.normal(size=200) * 0.7, np.linspace(-1, 1, k - 1))
    return X, np.array(["abcd"[v] for v in y], dtype=object)


@pytest.mark.parametrize("model", [LogisticRegression(max_iter=300), DecisionTreeClassifier(max_depth=3), LinearSVC()],
                         ids=lambda m: type(m).__name__)
def test_binary_scores_equal_sklearn(model) -> None:
    X, y = _data(2)
    model.fit(X[:120], y[:120])
    Xv, yv = X[120:], y[120:]
    pred = model.predict(Xv)
    got = score("binary", model, Xv, yv)
    positive = model.predict_proba(Xv)[:, 1] if hasattr(model, "predict_proba") else model.decision_function(Xv)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(yv, pred))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(yv, pred, average="macro"))
    assert got["f1"] == pytest.approx(skm.f1_score(yv, pred, pos_label=model.classes_[1]))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(yv == model.classes_[1], positive))
    if hasattr(model, "predict_proba"):  # a tree's 0/1 probabilities: scikit-learn's clipping
        assert got["log_loss"] == pytest.approx(skm.log_loss(yv, model.predict_proba(Xv), labels=model.classes_))
    else:
        assert "log_loss" not in got


def test_multiclass_scores_equal_sklearn_and_ovr_left_out_without_probabilities() -> None:
    X, y = _data(3)
    model = LogisticRegression(max_iter=300).fit(X[:120], y[:120])
    proba = model.predict_proba(X[120:])
    got = score("multiclass", model, X[120:], y[120:])
    assert got["roc_auc_ovr"] == pytest.approx(skm.roc_auc_score(y[120:], proba, multi_class="ovr",
                                                                  labels=model.classes_))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y[120:], proba, labels=model.classes_))
    assert "roc_auc_ovr" not in score("multiclass", LinearSVC().fit(X[:120], y[:120]), X[120:], y[120:])


def test_binary_f1_raises_like_sklearn_on_a_third_label() -> None:
    X, y = _data(2)
    model = LogisticRegression().fit(X[:120], y[:120])
    with pytest.raises(ValueError, match="multiclass"):
        score("binary", model, X[120:], np.where(np.arange(80) == 0, "z", y[120:]).astype(object))


def test_regression_scores_and_selection_metrics() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, 2))
    y = X @ [2.0, -1.0] + rng.normal(size=100) + 1e5
    model = LinearRegression().fit(X[:60], y[:60])
    got, pred = score("regression", model, X[60:], y[60:]), model.predict(X[60:])
    assert got == pytest.approx({"rmse": skm.root_mean_squared_error(y[60:], pred),
                                 "mae": skm.mean_absolute_error(y[60:], pred), "r2": skm.r2_score(y[60:], pred)})
    assert [primary_metric(t) for t in ("binary", "multiclass", "regression")] == [
        ("roc_auc", True), ("f1_macro", True), ("rmse", False)]
