"""Prediction consistency: the same rows give the same answers, however they are batched."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from mlgate.metrics import encode
from mlgate.modeltests.base import ModelCheck, Outcome, Subject


class Consistency(ModelCheck):
    """Repeated, reordered and row-by-row predictions must equal the batch predictions."""

    name: ClassVar[str] = "consistency"
    n_rows: int = Field(1000, ge=1, description="rows predicted repeatedly (a seeded subsample)")
    repeats: int = Field(3, ge=2)
    single_rows: int = Field(50, ge=0, description="rows also predicted one at a time")
    max_probability_variance: float = Field(0.001, ge=0, description="max variance across repeats")
    tolerance: float = Field(1e-6, ge=0, description="allowed output difference across batchings")

    def run(self, subject: Subject) -> Outcome:
        X = subject.X.iloc[subject.sample(self.n_rows, salt=1)]
        output = _output_fn(subject)
        runs = [output(X) for _ in range(self.repeats)]
        stacked = np.stack(runs)
        variance = float(stacked.var(axis=0).max()) if stacked.dtype.kind in "fc" else 0.0
        repeat_diff = _max_diff(stacked[0], stacked[1:])
        order = np.random.default_rng(subject.seed).permutation(len(X))
        shuffled = output(X.iloc[order])
        order_diff = _max_diff(runs[0][order], shuffled[None])
        m = min(self.single_rows, len(X))
        with subject.few_threads():
            singles = np.concatenate([output(X.iloc[i:i + 1]) for i in range(m)]) if m else runs[0][:0]
        single_diff = _max_diff(runs[0][:m], singles[None])
        found = {"max_repeat_difference": repeat_diff, "max_probability_variance": variance,
                 "max_row_order_difference": order_diff, "max_single_row_difference": single_diff}
        problems = [f"{k.replace('_', ' ')} {v:.3g}" for k, v in found.items()
                    if v > (self.max_probability_variance if "variance" in k else self.tolerance)]
        what = "probabilities" if subject.proba() is not None else "predictions"
        message = ("; ".join(problems) + f" (tolerance {self.tolerance:g}, variance bound "
                   f"{self.max_probability_variance:g})") if problems else (
            f"{what} identical across {self.repeats} repeats, a shuffled row order and {m} "
            f"single-row calls on {len(X)} rows (max difference {max(repeat_diff, order_diff, single_diff):.3g})")
        expected = {"tolerance": self.tolerance, "max_probability_variance": self.max_probability_variance}
        return Outcome(checks=[self.result(not problems, message, observed=found, expected=expected)],
                       details={**found, "rows": len(X)})


def _output_fn(subject: Subject) -> Any:
    """Probabilities when the model has them (finer than labels), else predictions as floats."""
    est = subject.estimator
    if subject.is_classifier and hasattr(est, "predict_proba"):
        return lambda X: np.asarray(est.predict_proba(X), dtype=float)
    if subject.is_classifier:
        return lambda X: _codes(np.asarray(est.predict(X)), subject.classes)
    return lambda X: np.asarray(est.predict(X), dtype=float)


def _codes(pred: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
    return encode(pred, classes).astype(float) if classes is not None else pred.astype(float)


def _max_diff(first: np.ndarray, others: np.ndarray) -> float:
    if first.size == 0:
        return 0.0
    a, b = first.astype(float)[None], others.astype(float)
    diff = np.where(np.isnan(a) & np.isnan(b), 0.0, np.abs(b - a))
    return float(np.nan_to_num(diff, nan=np.inf).max())
