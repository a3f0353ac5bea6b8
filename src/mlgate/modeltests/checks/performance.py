"""Performance: the task's metrics (``mlgate.metrics``, one meaning per name) against thresholds."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from mlgate.metrics import METRICS, compute, metric_names, outputs, renamed_message, usable_metrics
from mlgate.modeltests.base import ModelCheck, Outcome, Subject
from mlgate.thresholds import parse_thresholds

# The seed's defaults, under the names that kept their meaning (the support-weighted
# averages); a `performance:` mapping in the config replaces them as a whole.
DEFAULT_THRESHOLDS: dict[str, dict[str, float | dict[str, float]]] = {
    "binary": {"accuracy": 0.85, "precision_weighted": 0.80, "recall_weighted": 0.80, "f1_weighted": 0.80},
    "multiclass": {"accuracy": 0.85, "precision_weighted": 0.80, "recall_weighted": 0.80, "f1_weighted": 0.80},
    "regression": {"r2": 0.0},
}
_KEY = "gates -> test -> performance"


class Performance(ModelCheck):
    """Accuracy, precision, recall, F1, ROC-AUC, PR-AUC, log-loss (or RMSE, MAE, R2) vs thresholds."""

    name: ClassVar[str] = "performance"
    thresholds: dict[str, float | dict[str, float]] | None = Field(
        None, description="metric -> minimum for a score, maximum for a loss (log_loss, rmse, ...), or "
                          "{min: , max: }; None: the defaults of docs/test.md")

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, raw: Any) -> Any:
        # in mlgate.yaml `performance: {accuracy: 0.8}` is the thresholds mapping itself
        if isinstance(raw, dict) and raw and "thresholds" not in raw:
            return {"thresholds": raw}
        return raw

    @field_validator("thresholds")
    @classmethod
    def _known(cls, value: dict[str, float | dict[str, float]] | None) -> dict[str, float | dict[str, float]] | None:
        for name in value or {}:
            moved = renamed_message(name)
            if moved:
                raise ValueError(moved)
        unknown = sorted(set(value or {}) - set(METRICS))
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown} (known: {', '.join(METRICS)})")
        return value

    def run(self, subject: Subject) -> Outcome:
        preds = outputs(subject.task, subject.y, subject.predict(), subject.proba(), subject.classes)
        values = compute(preds)
        limits = self.thresholds if self.thresholds is not None else DEFAULT_THRESHOLDS[subject.task]
        bounds = parse_thresholds(limits, usable_metrics(preds) + _missing_proba(preds.task, preds.proba), _KEY)
        short = []
        for bound in bounds:
            value = values.get(bound.metric)
            if value is None or value != value:  # NaN: undefined on these rows
                short.append(f"{bound.metric} not computable (no predict_proba or one class only)")
            elif not bound.holds(value):
                word = "minimum" if bound.name == "min" else "maximum"
                side = "below" if bound.name == "min" else "above"
                short.append(f"{bound.metric} {value:.4f} {side} the {word} {bound.limit:g}")
        shown = ", ".join(f"{k} {values[k]:.4f}" for k in limits if k in values)
        message = "; ".join(short) if short else f"all {len(bounds)} thresholds met ({shown})"
        row = self.result(not short, message, observed={k: round(v, 6) for k, v in values.items()},
                          expected=limits)
        return Outcome(checks=[row], metrics=values)


def _missing_proba(task: str, proba: object) -> list[str]:
    """Probability metrics of the task, when the model has none: named as not computable, not unknown."""
    if proba is not None:
        return []
    return sorted(set(metric_names(task)) - set(metric_names(task, has_proba=False)))
