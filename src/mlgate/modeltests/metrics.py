"""The model tests' metrics, computed by ``mlgate.metrics`` under the model tests' names.

Here "precision", "recall" and "f1" are the support-weighted averages (the seed's naming),
accuracy and the label metrics come from a single ``bincount`` confusion matrix, and all
equal scikit-learn's with ``zero_division=0``. Names, the tracked metric and each metric's
direction are ``mlgate.metrics``'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlgate import metrics as _m
from mlgate.metrics import confusion, encode

__all__ = ["CLASSIFICATION_METRICS", "LOWER_IS_BETTER", "REGRESSION_METRICS", "classification_metrics",
           "compute", "confusion", "default_metric", "encode", "label_metrics", "regression_metrics",
           "scorer"]

CLASSIFICATION_METRICS = _m.TEST_METRICS["classification"]
REGRESSION_METRICS = _m.TEST_METRICS["regression"]
LOWER_IS_BETTER = frozenset(m for m in CLASSIFICATION_METRICS + REGRESSION_METRICS if not _m.greater_is_better(m))


def label_metrics(cm: np.ndarray) -> dict[str, float]:
    """Accuracy and weighted (unsuffixed names) and macro precision, recall and F1 of a confusion matrix."""
    return {name.removesuffix("_weighted"): value for name, value in _m.label_metrics(cm).items()}


def classification_metrics(y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None,
                           classes: np.ndarray) -> dict[str, float]:
    """The classification metrics of the performance check."""
    out = label_metrics(confusion(y, pred, classes))
    if proba is not None:
        out.update(_m.probability_metrics(encode(y, classes), proba))
    return out


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R2 (0.0 for a constant target)."""
    return _m.regression_metrics(y, pred)


def compute(task: str, y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None,
            classes: np.ndarray | None) -> dict[str, float]:
    """All metrics of a task."""
    if task == "regression":
        return regression_metrics(y, pred)
    assert classes is not None  # a classifier always has classes (set by the runner)
    return classification_metrics(y, pred, proba, classes)


def default_metric(task: str) -> str:
    """The metric perturbation checks track: accuracy, or R2 for regression."""
    return _m.tracked_metric(task)


def scorer(task: str, metric: str, classes: np.ndarray | None) -> Any:
    """``score(estimator, X, y) -> float`` where higher is better (lower-is-better negated)."""
    sign = 1.0 if _m.greater_is_better(metric) else -1.0
    needs_proba = metric in _m.METRICS and _m.METRICS[metric].needs_proba

    def score(estimator: Any, X: Any, y: np.ndarray) -> float:
        proba = None
        if needs_proba:
            assert classes is not None  # probability metrics exist for classifiers only
            proba = np.asarray(estimator.predict_proba(X))
            pred = classes[np.argmax(proba, axis=1)]
        else:
            pred = estimator.predict(X)
        if task == "regression":
            return sign * regression_metrics(y, pred)[metric]
        if metric in ("accuracy",):
            return float(np.mean(pred == y))
        return sign * classification_metrics(y, pred, proba, classes)[metric]  # type: ignore[arg-type]

    return score
