"""Performance: the task's metrics against per-metric thresholds."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from mlgate.modeltests import metrics as M
from mlgate.modeltests.base import ModelCheck, Outcome, Subject

# The seed's defaults; a `performance:` mapping in the config replaces them as a whole.
DEFAULT_THRESHOLDS = {
    "binary": {"accuracy": 0.85, "precision": 0.80, "recall": 0.80, "f1": 0.80},
    "multiclass": {"accuracy": 0.85, "precision": 0.80, "recall": 0.80, "f1": 0.80},
    "regression": {"r2": 0.0},
}


class Performance(ModelCheck):
    """Accuracy, precision, recall, F1, ROC-AUC, PR-AUC, log-loss (or RMSE, MAE, R2) vs thresholds."""

    name: ClassVar[str] = "performance"
    thresholds: dict[str, float] | None = Field(None, description="metric -> minimum (maximum for "
                                                "log_loss, rmse, mae); None: the seed's defaults")

    @field_validator("thresholds")
    @classmethod
    def _known(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        unknown = sorted(set(value or {}) - set(M.CLASSIFICATION_METRICS) - set(M.REGRESSION_METRICS))
        if unknown:
            known = ", ".join(M.CLASSIFICATION_METRICS + M.REGRESSION_METRICS)
            raise ValueError(f"unknown metric(s) {unknown} (known: {known})")
        return value

    def run(self, subject: Subject) -> Outcome:
        values = M.compute(subject.task, subject.y, subject.predict(), subject.proba(), subject.classes)
        limits = self.thresholds if self.thresholds is not None else DEFAULT_THRESHOLDS[subject.task]
        known = M.REGRESSION_METRICS if subject.task == "regression" else M.CLASSIFICATION_METRICS
        unknown = sorted(set(limits) - set(known))
        if unknown:
            from mlgate.errors import ConfigError

            raise ConfigError(f"gates -> test -> performance: unknown metric(s) {unknown} for a "
                              f"{subject.task} model (known: {', '.join(known)})")
        short = []
        for metric, limit in limits.items():
            value = values.get(metric)
            if value is None:
                short.append(f"{metric} not computable (no predict_proba or one class only)")
            elif metric in M.LOWER_IS_BETTER and value > limit:
                short.append(f"{metric} {value:.4f} above the maximum {limit}")
            elif metric not in M.LOWER_IS_BETTER and value < limit:
                short.append(f"{metric} {value:.4f} below the minimum {limit}")
        shown = ", ".join(f"{k} {values[k]:.4f}" for k in limits if k in values)
        message = "; ".join(short) if short else f"all {len(limits)} thresholds met ({shown})"
        row = self.result(not short, message, observed={k: round(v, 6) for k, v in values.items()},
                          expected=limits)
        return Outcome(checks=[row], metrics=values)
