"""Evaluation plots for report.html: ROC, precision-recall, confusion matrix, calibration, residuals."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlgate.reports.figures import new_figure, to_figure

if TYPE_CHECKING:
    import numpy as np

    from mlgate.metrics import Predictions
    from mlgate.reports.model import Figure


def evaluation_figures(p: Predictions) -> list[Figure]:
    """The plots that fit the task and the model's outputs."""
    if not p.is_classification:
        return [residuals(p), predicted_vs_actual(p)]
    figures = []
    if p.proba is not None:
        figures += [roc(p), precision_recall(p)]
    figures.append(confusion(p))
    if p.proba is not None and len(p.classes) == 2:
        figures.append(calibration(p))
    return figures


def _curves(p: Predictions) -> list[tuple[str, int]]:
    """Which classes get a curve: the positive class for binary, each class otherwise."""
    if len(p.classes) == 2:
        return [(str(p.classes[1]), 1)]
    return [(str(c), k) for k, c in enumerate(p.classes)][:10]


def _class_curves(p: Predictions, draw: Callable[[Any, np.ndarray, np.ndarray, str], None]) -> tuple[Any, Any]:
    """A figure with ``draw(ax, truth, score, label)`` called for each class that gets a curve."""
    assert p.proba is not None
    fig = new_figure()
    ax = fig.add_subplot()
    for label, k in _curves(p):
        draw(ax, p.y == k, p.proba[:, k], label)
    return fig, ax


def roc(p: Predictions) -> Figure:
    from sklearn.metrics import auc, roc_curve

    def draw(ax: Any, truth: np.ndarray, score: np.ndarray, label: str) -> None:
        fpr, tpr, _ = roc_curve(truth, score)
        ax.plot(fpr, tpr, label=f"class {label} (AUC {auc(fpr, tpr):.3f})")

    fig, ax = _class_curves(p, draw)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate")
    ax.legend(loc="lower right", fontsize=8)
    return to_figure(fig, "ROC curve")


def precision_recall(p: Predictions) -> Figure:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    def draw(ax: Any, truth: np.ndarray, score: np.ndarray, label: str) -> None:
        precision, recall, _ = precision_recall_curve(truth, score)
        ap = average_precision_score(truth, score)
        ax.step(recall, precision, where="post", label=f"class {label} (AP {ap:.3f})")
        ax.axhline(float(truth.mean()), ls="--", color="grey", lw=0.8)

    fig, ax = _class_curves(p, draw)
    ax.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=8)
    return to_figure(fig, "Precision-recall curve", "dashed: the share of positives")


def confusion(p: Predictions) -> Figure:
    import numpy as np

    k = len(p.classes)
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (p.y, p.pred), 1)
    fig = new_figure(4.2 + 0.2 * k, 3.6 + 0.2 * k)
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    labels = [str(c) for c in p.classes]
    ax.set(xticks=range(k), yticks=range(k), xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="actual")
    high = matrix.max() / 2
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > high else "black", fontsize=8)
    return to_figure(fig, "Confusion matrix", f"{p.n} test rows")


def calibration(p: Predictions, bins: int = 10) -> Figure:
    from sklearn.calibration import calibration_curve

    assert p.proba is not None
    observed, predicted = calibration_curve(p.y == 1, p.proba[:, 1], n_bins=bins, strategy="quantile")
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot(predicted, observed, marker="o", label="model")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8, label="perfectly calibrated")
    ax.set(xlabel="mean predicted probability", ylabel="observed share of positives")
    ax.legend(loc="upper left", fontsize=8)
    return to_figure(fig, "Calibration", f"{bins} bins of equal size")


def residuals(p: Predictions) -> Figure:
    fig = new_figure()
    ax = fig.add_subplot()
    ax.scatter(p.pred, p.y - p.pred, s=4, alpha=0.4)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="predicted", ylabel="actual - predicted")
    return to_figure(fig, "Residuals")


def predicted_vs_actual(p: Predictions) -> Figure:
    fig = new_figure()
    ax = fig.add_subplot()
    ax.scatter(p.y, p.pred, s=4, alpha=0.4)
    low, high = float(min(p.y.min(), p.pred.min())), float(max(p.y.max(), p.pred.max()))
    ax.plot([low, high], [low, high], ls="--", color="grey", lw=0.8)
    ax.set(xlabel="actual", ylabel="predicted")
    return to_figure(fig, "Predicted versus actual")
