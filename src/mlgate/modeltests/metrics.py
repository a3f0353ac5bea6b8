"""Metrics from one confusion matrix (vectorized), plus scikit-learn's ranking metrics.

Accuracy, precision, recall and F1 (weighted as the seed computes them, and macro) come from
a single ``bincount``; they equal scikit-learn's with ``zero_division=0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "precision_macro",
                          "recall_macro", "f1_macro", "roc_auc", "pr_auc", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")


def encode(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Class positions of labels ``y`` in ``classes``; -1 for a label not among them."""
    order = np.argsort(classes)
    found = np.searchsorted(classes[order], y)
    found = np.clip(found, 0, len(classes) - 1)
    codes = order[found]
    return np.where(classes[codes] == y, codes, -1)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """k x k confusion counts (rows true, columns predicted) over ``classes``."""
    k = len(classes)
    t, p = encode(y_true, classes), encode(y_pred, classes)
    keep = (t >= 0) & (p >= 0)
    return np.bincount(t[keep] * k + p[keep], minlength=k * k).reshape(k, k)


def label_metrics(cm: np.ndarray) -> dict[str, float]:
    """Accuracy and weighted/macro precision, recall and F1 of a confusion matrix."""
    tp = np.diag(cm).astype(float)
    support, predicted = cm.sum(axis=1).astype(float), cm.sum(axis=0).astype(float)
    total = cm.sum()
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    # scikit-learn averages over the labels present in y_true or y_pred
    present = (support + predicted) > 0
    weights = support / total if total else support
    out = {"accuracy": float(tp.sum() / total) if total else 0.0}
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        out[name] = float((values * weights).sum())
        out[f"{name}_macro"] = float(values[present].mean()) if present.any() else 0.0
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def classification_metrics(y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None,
                           classes: np.ndarray) -> dict[str, float]:
    """The classification metrics of the performance check."""
    out = label_metrics(confusion(y, pred, classes))
    if proba is not None:
        out.update(_probability_metrics(y, proba, classes))
    return out


def _probability_metrics(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    codes = encode(y, classes)
    out: dict[str, float] = {"log_loss": float(log_loss(codes, proba, labels=range(len(classes))))}
    if len(np.unique(codes)) < 2:
        return out  # AUCs are undefined with a single class present
    if len(classes) == 2:
        out["roc_auc"] = float(roc_auc_score(codes, proba[:, 1]))
        out["pr_auc"] = float(average_precision_score(codes, proba[:, 1]))
    else:
        onehot = np.eye(len(classes))[codes]
        present = onehot.sum(axis=0) > 0
        out["roc_auc"] = float(roc_auc_score(onehot[:, present], proba[:, present], average="macro"))
        out["pr_auc"] = float(average_precision_score(onehot[:, present], proba[:, present],
                                                      average="macro"))
    return out


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R2."""
    err = np.asarray(pred, dtype=float) - np.asarray(y, dtype=float)
    ss_tot = float(((y - np.mean(y)) ** 2).sum())
    r2 = 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else 0.0
    return {"rmse": float(np.sqrt((err**2).mean())), "mae": float(np.abs(err).mean()), "r2": r2}


def compute(task: str, y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None,
            classes: np.ndarray | None) -> dict[str, float]:
    """All metrics of a task."""
    if task == "regression":
        return regression_metrics(y, pred)
    assert classes is not None  # a classifier always has classes (set by the runner)
    return classification_metrics(y, pred, proba, classes)


def default_metric(task: str) -> str:
    """The metric perturbation checks track: accuracy, or R2 for regression."""
    return "r2" if task == "regression" else "accuracy"


def scorer(task: str, metric: str, classes: np.ndarray | None) -> Any:
    """``score(estimator, X, y) -> float`` where higher is better (lower-is-better negated)."""
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    needs_proba = metric in ("roc_auc", "pr_auc", "log_loss")

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
