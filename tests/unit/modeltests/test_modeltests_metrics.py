"""The performance metrics equal scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from mlgate.modeltests import metrics as M


@pytest.mark.parametrize("k", [2, 3, 5])
def test_label_metrics_equal_sklearn(k: int) -> None:
    rng = np.random.default_rng(k)
    classes = np.arange(k)
    y = rng.integers(0, k, 500)
    # a class the model never predicts exercises scikit-learn's zero_division
    pred = np.where(rng.random(500) < 0.7, y, rng.integers(0, max(k - 1, 1), 500))
    got = M.label_metrics(M.confusion(y, pred, classes))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    for avg, suffix in (("weighted", ""), ("macro", "_macro")):
        assert got[f"precision{suffix}"] == pytest.approx(
            skm.precision_score(y, pred, average=avg, zero_division=0))
        assert got[f"recall{suffix}"] == pytest.approx(
            skm.recall_score(y, pred, average=avg, zero_division=0))
        assert got[f"f1{suffix}"] == pytest.approx(skm.f1_score(y, pred, average=avg, zero_division=0))


def test_string_labels_and_probability_metrics_equal_sklearn() -> None:
    rng = np.random.default_rng(0)
    classes = np.array(["no", "yes"])
    y = rng.choice(classes, 400)
    p1 = np.clip((y == "yes") * 0.3 + rng.random(400) * 0.7, 0.01, 0.99)
    proba = np.column_stack([1 - p1, p1])
    pred = classes[(p1 > 0.5).astype(int)]
    got = M.classification_metrics(y, pred, proba, classes)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y == "yes", p1))
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y == "yes", p1))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=classes))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, average="weighted"))


def test_multiclass_auc_equals_sklearn_ovr_macro() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    proba = rng.dirichlet([1, 1, 1], 300)
    proba[np.arange(300), y] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    got = M.classification_metrics(y, proba.argmax(axis=1), proba, np.arange(3))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))


def test_regression_metrics_equal_sklearn() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(10, 3, 200)
    pred = y + rng.normal(0, 1, 200)
    got = M.regression_metrics(y, pred)
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred))


def test_encode_marks_unknown_labels() -> None:
    assert M.encode(np.array(["b", "z", "a"]), np.array(["a", "b"])).tolist() == [1, -1, 0]
