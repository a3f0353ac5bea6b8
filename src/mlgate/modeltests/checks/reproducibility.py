"""Reproducibility: retrain from the same data, params and seed; compare the predictions."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from mlgate.modeltests.base import ModelCheck, Outcome, Subject
from mlgate.reports.model import Check


class Reproducibility(ModelCheck):
    """``clone(estimator).fit(train)`` must predict what the loaded model predicts."""

    name: ClassVar[str] = "reproducibility"
    max_mismatch_share: float = Field(0.0, ge=0, le=1, description="share of differing labels")
    tolerance: float = Field(1e-6, ge=0, description="largest probability/value difference")
    n_rows: int = Field(5000, ge=10, description="test rows compared (a seeded subsample)")

    def run(self, subject: Subject) -> Outcome:
        rows = subject.training_rows()
        if rows is None:
            return self.skip("no training data to retrain on (give --reference train.csv)")
        X_train, y_train = rows
        try:
            from sklearn.base import clone

            fresh = clone(subject.estimator)
        except Exception as exc:  # not a scikit-learn estimator (an MLflow pyfunc, say)
            return self.skip(f"the model cannot be cloned for retraining ({type(exc).__name__})")
        unseeded = _unseeded(subject.estimator)
        fresh.fit(X_train, y_train)
        X = subject.X.iloc[subject.sample(self.n_rows, salt=5)]
        old, new = _outputs(subject.estimator, X, subject), _outputs(fresh, X, subject)
        if subject.task == "regression":  # values, not labels: equal within the tolerance (a forest fitted
            # on several threads sums its trees in another order each call: differences of 1e-13)
            mismatch = float(np.mean(np.abs(old[1] - new[1]) > self.tolerance)) if len(X) else 0.0
        else:
            mismatch = float(np.mean(old[0] != new[0])) if len(X) else 0.0
        diff = float(np.abs(old[1] - new[1]).max()) if old[1].size else 0.0
        problems = []
        unknown = subject.fit_unknown if subject.fit_X is None else None
        if mismatch > self.max_mismatch_share:
            problems.append(f"retrained model predicts differently on {mismatch:.2%} of {len(X)} rows")
        if diff > self.tolerance:
            problems.append(f"largest output difference {diff:.3g} (tolerance {self.tolerance:g})")
        if problems and unseeded:
            problems.append(f"unseeded parameter(s) {', '.join(unseeded)}: set random_state")
        if problems and unknown:  # other rows explain a difference as well as nondeterminism does
            message = (f"cannot decide: {unknown}; a refit on the {len(X_train)} reference rows differs "
                       f"({'; '.join(problems)}), which other training rows explain as well as "
                       "nondeterminism. Test the model with the train table it was fitted on, or as the "
                       "pipeline's own test stage")
            row = Check(name=self.name, passed=True, severity="warning", message=message,
                        observed={"mismatch_share": mismatch, "max_output_difference": diff,
                                  "unseeded": unseeded})
            return Outcome(checks=[row], details={"undecided": unknown, "train_rows": len(X_train),
                                                  "compared_rows": len(X), "mismatch_share": mismatch,
                                                  "max_output_difference": diff, "unseeded": unseeded})
        message = "; ".join(problems) if problems else (
            f"retrained on {len(X_train)} rows: identical predictions on {len(X)} rows "
            f"(largest output difference {diff:.3g})")
        observed = {"mismatch_share": mismatch, "max_output_difference": diff, "unseeded": unseeded}
        row = self.result(not problems, message, observed=observed,
                          expected={"max_mismatch_share": self.max_mismatch_share,
                                    "tolerance": self.tolerance})
        return Outcome(checks=[row], details={**observed, "train_rows": len(X_train), "compared_rows": len(X),
                                              "fit_rows": "the model's record" if subject.fit_X is not None
                                              else "the reference"})


def _outputs(est: Any, X: Any, subject: Subject) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(est.predict(X))
    if subject.is_classifier and hasattr(est, "predict_proba"):
        return pred, np.asarray(est.predict_proba(X), dtype=float)
    return pred, pred.astype(float) if subject.task == "regression" else np.zeros(0)


def _unseeded(estimator: Any) -> list[str]:
    """Parameters named ``random_state`` left at None, which make refits differ."""
    try:
        params = estimator.get_params(deep=True)
    except Exception:  # not a scikit-learn estimator
        return []
    return sorted(k for k, v in params.items() if k.endswith("random_state") and v is None)
