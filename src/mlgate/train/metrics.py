"""Validation metrics per task, and the one metric that picks the best candidate."""

from __future__ import annotations

import contextlib
from typing import Any

# task -> (selection metric, greater is better)
PRIMARY: dict[str, tuple[str, bool]] = {
    "binary": ("roc_auc", True),
    "multiclass": ("f1_macro", True),
    "regression": ("rmse", False),
}


def primary_metric(task: str) -> tuple[str, bool]:
    """The metric that picks the best candidate and guides tuning, and its direction."""
    return PRIMARY[task]


def score(task: str, model: Any, X: Any, y: Any) -> dict[str, float]:
    """Every validation metric of the task for a fitted model."""
    import numpy as np
    from sklearn import metrics

    pred = model.predict(X)
    if task == "regression":
        return {"rmse": float(np.sqrt(metrics.mean_squared_error(y, pred))),
                "mae": float(metrics.mean_absolute_error(y, pred)),
                "r2": float(metrics.r2_score(y, pred))}
    out = {"accuracy": float(metrics.accuracy_score(y, pred)),
           "f1_macro": float(metrics.f1_score(y, pred, average="macro"))}
    scores = _class_scores(model, X)
    if task == "binary":
        if scores is not None:
            positive = scores[:, 1] if scores.ndim == 2 else scores
            out["roc_auc"] = float(metrics.roc_auc_score(y == model.classes_[1], positive))
        out["f1"] = float(metrics.f1_score(y, pred, pos_label=model.classes_[1]))
    elif scores is not None and scores.ndim == 2:
        with contextlib.suppress(ValueError):  # a class absent from the validation rows
            out["roc_auc_ovr"] = float(metrics.roc_auc_score(y, scores, multi_class="ovr",
                                                             labels=model.classes_))
    if scores is not None and scores.ndim == 2 and hasattr(model, "predict_proba"):
        out["log_loss"] = float(metrics.log_loss(y, scores, labels=model.classes_))
    return out


def _class_scores(model: Any, X: Any) -> Any:
    if hasattr(model, "predict_proba"):
        try:
            return model.predict_proba(X)
        except AttributeError:  # e.g. an SVC built without probability=True
            pass
    if hasattr(model, "decision_function"):
        return model.decision_function(X)
    return None


def cv_score(task: str, model: Any, X: Any, y: Any) -> float:
    """The primary metric alone (what a tuning trial optimizes)."""
    name, _ = primary_metric(task)
    return score(task, model, X, y)[name]
