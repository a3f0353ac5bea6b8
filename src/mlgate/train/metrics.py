"""Validation metrics per task, computed by ``mlgate.metrics`` with scikit-learn's conventions.

The metric that picks the best candidate (and its direction) is ``mlgate.metrics.SELECTION``.
"""

from __future__ import annotations

from typing import Any

from mlgate.metrics import SELECTION, selection_metric

# task -> (selection metric, greater is better), from mlgate.metrics.SELECTION
PRIMARY: dict[str, tuple[str, bool]] = {task: selection_metric(task) for task in SELECTION}


def primary_metric(task: str) -> tuple[str, bool]:
    """The metric that picks the best candidate and guides tuning, and its direction."""
    return selection_metric(task)


def score(task: str, model: Any, X: Any, y: Any) -> dict[str, float]:
    """Every validation metric of the task for a fitted model."""
    import numpy as np

    from mlgate import metrics as m

    pred = np.asarray(model.predict(X))
    y = np.asarray(y)
    if task == "regression":
        _finite(pred)
        return m.regression_metrics(y, pred, exact_constant_r2=1.0)  # r2_score's convention
    # scikit-learn averages over the labels present in the truth or the predictions
    labels = np.unique(np.concatenate([y, pred]))
    cm = m.confusion(y, pred, labels)
    values = m.label_metrics(cm)
    out = {"accuracy": values["accuracy"], "f1_macro": values["f1_macro"]}
    scores = _class_scores(model, X)
    classes = model.classes_
    if task == "binary":
        if scores is not None:
            positive = _finite(scores[:, 1] if scores.ndim == 2 else scores)
            out["roc_auc"] = m.roc_auc(y == classes[1], positive)
        out["f1"] = _binary_f1(cm, labels, classes[1])
    elif scores is not None and scores.ndim == 2 and _ovr_defined(y, scores, classes):
        codes = m.encode(y, np.asarray(classes))
        out["roc_auc_ovr"] = float(np.mean([m.roc_auc(codes == k, scores[:, k]) for k in range(len(classes))]))
    if scores is not None and scores.ndim == 2 and hasattr(model, "predict_proba"):
        unknown = np.setdiff1d(y, classes)
        if len(unknown):
            raise ValueError(f"y_true contains values {set(unknown.tolist())} not belonging to the passed "
                             f"labels {classes}.")
        out["log_loss"] = m.probability_metrics(m.encode(y, np.asarray(classes)), np.asarray(scores),
                                                log_loss_only=True)["log_loss"]
    return out


def _binary_f1(cm: Any, labels: Any, positive: Any) -> float:
    """F1 of the positive class; a ValueError where scikit-learn's ``f1_score`` raises one."""
    from mlgate.metrics import class_scores, confusion_counts

    present = labels.tolist()
    if len(present) > 2:
        raise ValueError("Target is multiclass but average='binary'. Please choose another average setting, "
                         "one of [None, 'micro', 'macro', 'weighted'].")
    if positive not in present:
        if len(present) == 2:
            raise ValueError(f"pos_label={positive} is not a valid label. It should be one of {present}")
        return 0.0
    return float(class_scores("f1", *confusion_counts(cm))[present.index(positive)])


def _finite(values: Any) -> Any:
    """``values``, or the ValueError scikit-learn's metrics raise on NaN or infinity."""
    import numpy as np

    if not np.isfinite(np.asarray(values, dtype=float)).all():
        raise ValueError("Input contains NaN or infinity.")
    return values


def _ovr_defined(y: Any, scores: Any, classes: Any) -> bool:
    """Whether scikit-learn's one-vs-rest ROC-AUC accepts these (else the metric is left out)."""
    import numpy as np

    return bool(np.allclose(1, scores.sum(axis=1))) and not len(np.setdiff1d(y, classes))


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
