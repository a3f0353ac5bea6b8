"""Train/test distribution checks through ``mlgate.stats``: significant (Holm) AND material.

Both checks run at alpha 0.005 by default, so together they raise a false alarm on at most 1% of
clean i.i.d. splits, whatever the table's size and width (measured in benchmarks/false_alarms.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from mlgate.data.base import DataCheck
from mlgate.data.table import TableView, jsonable
from mlgate.reports.model import Check
from mlgate.stats import Decision, decide, default_rule
from mlgate.stats.frames import SAMPLE_LIMIT, compare_columns, compare_series
from mlgate.stats.settings import MethodName, ShiftSettings, renamed_keys

if TYPE_CHECKING:
    import pandas as pd

VALIDATE_ALPHA = 0.005


def decision_check(check: DataCheck, view: TableView, d: Decision, **details: Any) -> Check:
    """A report row for one column's decision: differs fails, same passes, undecided warns."""
    cmp = d.comparison
    extra = {"comparison": cmp.to_dict() if cmp else None, "adjusted_p": d.to_dict()["adjusted_p"],
             "outcome": d.outcome, **details}
    material = d.rule.material if d.rule else None
    observed = round(abs(cmp.effect), 6) if cmp is not None and cmp.effect == cmp.effect else None
    if d.outcome == "undecided":
        row = check.result(view, False, f"skipped: {d.reason}", column=d.column, observed=observed,
                           expected=material, **extra)
        row.severity = "warning"
        return row
    return check.result(view, d.outcome == "same", d.reason, column=d.column, observed=observed,
                        expected=material, **extra)


class TargetDistribution(DataCheck):
    """The target of test is distributed as in train: chi-square on the class counts (effect: the
    class-share distance) or KS on a regression target; flagged when significant AND material."""

    name: ClassVar[str] = "target_distribution"
    pair: ClassVar[bool] = True
    alpha: float = Field(VALIDATE_ALPHA, gt=0, lt=1, description="significance level")
    material: float = Field(0.05, ge=0, le=1, description="smallest class-share distance (or KS D) that counts")
    min_n: int = Field(20, ge=1, description="target values needed on each side")
    method: MethodName = Field(None, description="default chi2 (classes) or ks (regression)")

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, raw: Any) -> Any:
        new = "use 'material' (smallest distance that counts, default 0.05) and 'alpha' (default 0.005)"
        return renamed_keys(raw, {"max_distance": new, "max_ks": new})

    def run_pair(self, train: TableView, test: TableView) -> list[Check]:
        t = train.target
        if t is None or t not in train.columns or t not in test.columns:
            return []
        classes = train.target_task() == "classification"
        kind = "categorical" if classes else "numeric"
        rule = default_rule("target" if classes else "numeric").replace(
            method=self.method, alpha=self.alpha, material=self.material, min_n=self.min_n)
        cmp = compare_series(train.spread(SAMPLE_LIMIT)[t], test.spread(SAMPLE_LIMIT)[t], kind, rule)
        d = decide({t: cmp}, {t: rule})[t]
        details: dict[str, Any] = {}
        if classes:
            details = _class_shares(train, test, t)
        row = decision_check(self, test, d, **details)
        row.message = row.message.replace(f"{t!r}:", f"target {t!r} vs {train.label}:", 1)
        if details.get("new_classes"):
            row.message += f"; classes not in {train.label}: {details['new_classes'][:5]}"
        return [row]


class FeatureDistribution(DataCheck, ShiftSettings):
    """Each feature of test is distributed as in train: KS (numeric) or chi-square (categorical),
    Holm across the columns; a column is flagged when significant AND material."""

    name: ClassVar[str] = "feature_distribution"
    pair: ClassVar[bool] = True
    default_alpha: ClassVar[float | None] = VALIDATE_ALPHA

    def run_pair(self, train: TableView, test: TableView) -> list[Check]:
        skip = {train.target, *train.keys}
        columns = [c for c in test.content_columns() if c not in skip and c in train.columns
                   and test.kind(c) != "datetime"]
        if not columns:
            return []
        decisions = compare_columns(train.spread(SAMPLE_LIMIT), test.spread(SAMPLE_LIMIT), columns, self)
        return [decision_check(self, test, d, reference=train.label) for d in decisions.values()]


def _class_shares(train: TableView, test: TableView, t: str) -> dict[str, Any]:
    p, q = _shares(train.value_counts(t)), _shares(test.value_counts(t))
    new = sorted(set(q.index[q > 0]) - set(p.index[p > 0]))
    return {"train_shares": {k: round(float(v), 4) for k, v in p.items()},
            "test_shares": {k: round(float(v), 4) for k, v in q.items()}, "new_classes": new}


def _shares(counts: pd.Series) -> pd.Series:
    """Class shares (from the class counts) keyed by the class as text (so 1 and 1.0 and '1' meet across files)."""
    shares = counts / counts.sum()
    shares.index = [_class_key(k) for k in shares.index]
    return shares.groupby(level=0).sum()


def _class_key(value: Any) -> str:
    value = jsonable(value)
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
