"""Robustness: the headline metric under seeded Gaussian noise and category swaps, per level."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from mlgate.modeltests import columns as C
from mlgate.modeltests.base import ModelCheck, Outcome, Subject


class Robustness(ModelCheck):
    """Metric drop under noise of ``level`` x each numeric feature's std (and ``level`` swaps)."""

    name: ClassVar[str] = "robustness"
    noise_levels: list[float] = Field(default_factory=lambda: [0.01, 0.05, 0.1, 0.2])
    max_drop: float = Field(0.05, ge=0, description="largest allowed metric drop at a gated level (for a loss: "
                            "its relative increase)")
    gate_levels_up_to: float = Field(0.1, ge=0, description="levels above this are reported only")
    swap_categories: bool = True
    metric: str | None = Field(None, description="default: the task's headline metric (roc_auc, f1_macro, "
                               "rmse; accuracy without probabilities)")
    n_rows: int = Field(2000, ge=10)

    def run(self, subject: Subject) -> Outcome:
        from mlgate.metrics import greater_is_better, headline_metric, scorer

        metric = self.metric or headline_metric(subject.task, hasattr(subject.estimator, "predict_proba"))
        loss = not greater_is_better(metric)
        signed = scorer(subject.task, metric, subject.classes)  # a loss comes negated: higher is better

        def score(estimator: object, X_: object, y_: object) -> float:
            return -signed(estimator, X_, y_) if loss else signed(estimator, X_, y_)

        rows = subject.sample(self.n_rows, salt=2)
        X, y = subject.X.iloc[rows], subject.y[rows]
        basis = subject.reference if subject.reference is not None else subject.X
        numeric = [c for c in C.numeric_columns(X) if c in basis.columns]
        scale = {c: float(np.nan_to_num(basis[c].astype(float).std())) for c in numeric}
        levels = C.category_levels(basis, [c for c in C.categorical_columns(X) if c in basis.columns])
        base_pred = np.asarray(subject.estimator.predict(X))
        baseline = score(subject.estimator, X, y)
        curve = []
        for i, level in enumerate(sorted(self.noise_levels)):
            rng = np.random.default_rng(subject.seed + 100 + i)
            noisy = C.add_noise(X, scale, level, rng)
            if self.swap_categories:
                noisy = C.swap_categories(noisy, levels, level, rng)
            pred = np.asarray(subject.estimator.predict(noisy))
            value = score(subject.estimator, noisy, y)
            curve.append({"level": level, metric: value, "drop": _drop(baseline, value, loss),
                          "changed_predictions": float(np.mean(pred != base_pred))})
        gated = [p for p in curve if p["level"] <= self.gate_levels_up_to]
        bad = [p for p in gated if p["drop"] > self.max_drop]
        shown = ", ".join(f"{p['level']:g}: {p['drop']:+.4f}" for p in curve)
        if bad:
            worst = max(bad, key=lambda p: p["drop"])
            message = (f"{metric} drops by {worst['drop']:.4f} at noise level {worst['level']:g} "
                       f"(limit {self.max_drop}); drop per level {shown}")
        else:
            message = (f"largest {metric} drop {max((p['drop'] for p in gated), default=0):.4f} "
                       f"at levels <= {self.gate_levels_up_to:g} (limit {self.max_drop}); "
                       f"drop per level {shown}")
        details = {"metric": metric, "drop": "relative increase" if loss and baseline else "absolute",
                   "baseline": baseline, "curve": curve, "rows": len(X),
                   "numeric_columns": numeric, "categorical_columns": list(levels)}
        row = self.result(not bad, message, observed={p["level"]: round(p["drop"], 6) for p in curve},
                          expected={"max_drop": self.max_drop, "levels_up_to": self.gate_levels_up_to})
        figure = _curve_figure(curve, metric, baseline, self.max_drop)
        return Outcome(checks=[row], details=details, figures=[figure],
                       metrics={"robustness_max_drop": max((p["drop"] for p in gated), default=0.0)})


def _drop(baseline: float, value: float, loss: bool) -> float:
    """How much worse ``value`` is than ``baseline``: a score's fall, a loss's relative rise.

    A score (roc_auc 0.90 -> 0.86) drops by 0.04; a loss has the target's units, so its rise is
    read against its own size (rmse 10 -> 11 drops by 0.10), else one limit could not serve every
    target. A perfect baseline loss (0) falls back to the absolute rise.
    """
    if not loss:
        return baseline - value
    return (value - baseline) / baseline if baseline else value - baseline


def _curve_figure(curve: list[dict[str, float]], metric: str, baseline: float, max_drop: float):  # type: ignore[no-untyped-def]
    from mlgate.reports.figures import new_figure, to_figure

    fig = new_figure()
    ax = fig.add_subplot()
    levels = [0.0] + [p["level"] for p in curve]
    ax.plot(levels, [baseline] + [p[metric] for p in curve], marker="o")
    ax.axhline(baseline - max_drop, color="tab:red", linestyle="--", label=f"baseline - {max_drop}")
    ax.set_xlabel("noise level (x feature std; share of categories swapped)")
    ax.set_ylabel(metric)
    ax.legend(loc="lower left")
    return to_figure(fig, "Robustness curve", f"{metric} under increasing input noise")
