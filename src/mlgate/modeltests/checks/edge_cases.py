"""Edge cases: odd inputs must give a valid prediction or a clear error, never a crash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from mlgate.modeltests import columns as C
from mlgate.modeltests.base import ModelCheck, Outcome, Subject

UNSEEN = "__mlgate_unseen__"


class EdgeCases(ModelCheck):
    """Zero rows, extremes, NaN per column, unseen categories, empty batch, column order, one row.

    Each case ends as ``ok`` (valid output), ``rejected`` (an exception: a clear error) or
    ``invalid`` (output of the wrong shape, NaN, unknown labels, probabilities that do not sum
    to 1, or silently different answers for reordered columns). ``invalid`` always fails; a
    rejection fails for the kinds in ``must_predict``: ``nan_seen`` is NaN in a column that has
    missing values in the data, which the model will meet in production.
    """

    name: ClassVar[str] = "edge_cases"
    rows: int = Field(5, ge=1, description="test rows each case starts from")
    extreme_factor: float = Field(1e6, gt=1)
    must_predict: list[str] = Field(default_factory=lambda: ["single_row", "nan_seen", "unseen_category"])

    def run(self, subject: Subject) -> Outcome:
        base = subject.X.iloc[: self.rows]
        cases = list(_cases(base, self.extreme_factor, _columns_with_missing(subject)))
        with subject.few_threads():
            results = [self._try(subject, kind, label, frame, expect)
                       for kind, label, frame, expect in cases]
        failed = [r for r in results if r["outcome"] == "invalid"
                  or (r["outcome"] == "rejected" and r["kind"] in self.must_predict)]
        counts = {o: sum(r["outcome"] == o for r in results) for o in ("ok", "rejected", "invalid")}
        if failed:
            shown = "; ".join(f"{r['case']}: {r['outcome']} ({r['error']})" for r in failed[:4])
            more = f" and {len(failed) - 4} more" if len(failed) > 4 else ""
            message = f"{len(failed)} of {len(results)} edge cases failed: {shown}{more}"
        else:
            message = (f"{counts['ok']} of {len(results)} edge cases predicted, "
                       f"{counts['rejected']} rejected with a clear error")
        row = self.result(not failed, message, observed=counts,
                          expected={"invalid": 0, "must_predict": self.must_predict},
                          details={"failed": [r["case"] for r in failed]})
        return Outcome(checks=[row], details={"cases": results})

    def _try(self, subject: Subject, kind: str, label: str, frame: pd.DataFrame,
             expect: Callable[[np.ndarray], str | None] | None) -> dict[str, Any]:
        est = subject.estimator
        entry: dict[str, Any] = {"case": label, "kind": kind, "rows": len(frame), "error": ""}
        try:
            pred = np.asarray(est.predict(frame))
            proba = (np.asarray(est.predict_proba(frame))
                     if subject.is_classifier and hasattr(est, "predict_proba") else None)
        except Exception as exc:  # the model's own error is the finding, not a crash of mlgate
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            entry.update(outcome="rejected", error=f"{type(exc).__name__}: {first}")
            return entry
        problem = _validate(subject, frame, pred, proba) or (expect(pred) if expect else None)
        entry.update(outcome="invalid" if problem else "ok", error=problem or "")
        return entry


Case = tuple[str, str, pd.DataFrame, Callable[[np.ndarray], str | None] | None]


def _cases(base: pd.DataFrame, factor: float, seen_missing: set[str]) -> list[Case]:
    numeric = C.numeric_columns(base)
    out: list[Case] = [("single_row", "single_row", base.iloc[:1], None),
                       ("empty_batch", "empty_batch", base.iloc[:0], None)]
    zero = base.copy()
    for col in numeric:
        zero[col] = pd.Series(0, index=base.index, dtype=base[col].dtype)
    out.append(("all_zero", "all_zero", zero, None))
    for sign, name in ((1, "extreme_high"), (-1, "extreme_low")):
        frame = base.copy()
        for col in numeric:
            values = base[col].to_numpy(dtype=float, na_value=np.nan)
            size = float(np.nanmax(np.abs(values))) if not np.isnan(values).all() else 1.0
            frame[col] = sign * factor * max(1.0, size)  # far outside anything seen in training
        out.append(("extreme_values", name, frame, None))
    for col in base.columns:
        frame = base.copy()
        dtype = float if col in numeric else object
        frame[col] = pd.Series([np.nan] * len(frame), index=frame.index, dtype=dtype)
        kind = "nan_seen" if col in seen_missing else "nan"
        out.append((kind, f"nan[{col}]", frame, None))
    for col in C.categorical_columns(base):
        if pd.api.types.is_bool_dtype(base[col]):
            continue
        frame = base.copy()
        frame[col] = pd.Series([UNSEEN] * len(frame), index=frame.index, dtype=object)
        out.append(("unseen_category", f"unseen_category[{col}]", frame, None))
    reordered = base[list(base.columns)[::-1]]
    out.append(("wrong_column_order", "wrong_column_order", reordered, None))
    return out


def _columns_with_missing(subject: Subject) -> set[str]:
    frames = [subject.X] + ([subject.reference] if subject.reference is not None else [])
    return {c for f in frames for c in f.columns if f[c].isna().any()}


def _validate(subject: Subject, frame: pd.DataFrame, pred: np.ndarray, proba: np.ndarray | None) -> str | None:
    """Why an output is unusable, or None when it is fine."""
    n = len(frame)
    if pred.shape[:1] != (n,):
        return f"{pred.shape[0] if pred.ndim else 'scalar'} predictions for {n} rows"
    if subject.is_classifier:
        if subject.classes is not None and n and not np.isin(pred, subject.classes).all():
            return f"labels outside the classes: {sorted(set(pred.tolist()) - set(subject.classes.tolist()))[:3]}"
        if proba is not None and n:
            if not np.isfinite(proba).all():
                return "non-finite probabilities"
            if not np.allclose(proba.sum(axis=1), 1.0, atol=1e-6):
                return "probabilities do not sum to 1"
    elif n and not np.isfinite(pred.astype(float)).all():
        return "non-finite predictions"
    if list(frame.columns) != list(subject.X.columns) and n:
        reference = np.asarray(subject.estimator.predict(frame[list(subject.X.columns)]))
        if not _same_answers(reference, pred):
            return "reordered columns silently change the predictions"
    return None


def _same_answers(a: np.ndarray, b: np.ndarray) -> bool:
    """Labels equal; numbers equal to 1e-9 relative: a random forest on several threads sums its
    trees in another order on each call (1e-13 apart), which is no change of column order."""
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))
    return bool(np.array_equal(a, b))
