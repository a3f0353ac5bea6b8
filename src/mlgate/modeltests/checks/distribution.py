"""Data distribution: test rows against the training reference (missing values and shift).

Every comparison goes through ``mlgate.stats`` and is decided in one Holm family per run: each
feature's shift (KS for numbers, chi-square for categories) and each column's rise in missing share
(Fisher's exact test). A column is flagged only when significant AND material.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
from pydantic import Field, model_validator

from mlgate.modeltests.base import ModelCheck, Outcome, Subject
from mlgate.stats import METHODS, Comparison, Decision, Rule, compare_proportions, decide, default_rule
from mlgate.stats.frames import column_comparisons
from mlgate.stats.settings import ShiftSettings, renamed_keys

_MISSING = " (missing share)"


class DataDistribution(ModelCheck, ShiftSettings):
    """Per-feature shift and rise in missing share against the reference: significant after Holm
    across all of them AND material. Without a reference, only the overall missing share is judged."""

    name: ClassVar[str] = "data_distribution"
    max_missing_share: float = Field(0.05, ge=0, le=1, description="overall missing share (without a "
                                     "reference, or when set explicitly)")
    max_missing_increase: float = Field(0.05, ge=0, le=1, description="material rise of a column's "
                                        "missing share vs the reference (tested with Fisher's exact test)")

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, raw: Any) -> Any:
        return renamed_keys(raw, {
            "max_ks": "use 'numeric: {material: ...}' (smallest KS distance that counts, default 0.05)",
            "max_tvd": "use 'categorical: {material: ...}' (smallest share distance that counts, default 0.05)"})

    def run(self, subject: Subject) -> Outcome:
        X, ref = subject.X, subject.reference
        overall = float(X.isna().to_numpy().mean()) if X.size else 0.0
        problems: list[str] = []
        if (ref is None or "max_missing_share" in self.model_fields_set) and overall > self.max_missing_share:
            problems.append(f"{overall:.1%} of test cells missing (limit {self.max_missing_share:.0%})")
        columns: dict[str, dict[str, Any]] = {c: {"missing": float(X[c].isna().mean())} for c in X.columns}
        decisions: dict[str, Decision] = {}
        if ref is None:
            subject.notes.append("data_distribution: no reference data, shift not measured")
        else:
            for c in X.columns:
                if c in ref.columns:
                    columns[c]["reference_missing"] = float(ref[c].isna().mean())
            decisions = self._decide(X, ref)
            problems += self._record(decisions, columns)
        shifted = sorted({d.column.removesuffix(_MISSING) for d in decisions.values() if d.outcome == "differs"})
        undecided = [d.reason for d in decisions.values() if d.outcome == "undecided"]
        if undecided:
            subject.notes.append(f"data_distribution: {len(undecided)} comparisons undecided: {undecided[0]}")
        message = "; ".join(problems) if problems else (
            f"{overall:.1%} cells missing; " + ("no reference given, shift not measured" if ref is None
                                                else f"no feature shifted (significant after "
                                                     f"{self.correction} and material) over {len(decisions)} "
                                                     "comparisons"))
        row = self.result(not problems, message, observed={"missing_share": overall, "shifted": shifted},
                          expected={"max_missing_share": self.max_missing_share, "alpha": self._alpha(),
                                    "correction": self.correction})
        rows = [row]
        if undecided:  # visible, never a silent pass nor a failure
            skipped = self.result(False, f"skipped {len(undecided)} of {len(decisions)} comparisons: {undecided[0]}",
                                  observed=len(undecided), expected=0, details={"undecided": undecided})
            skipped.severity = "warning"
            rows.append(skipped)
        return Outcome(checks=rows, details={"columns": columns, "has_reference": ref is not None,
                                              "decisions": {k: d.to_dict() for k, d in decisions.items()}},
                       metrics={"missing_share": overall})

    def _alpha(self) -> float:
        return self.alpha if self.alpha is not None else default_rule("numeric").alpha

    def _decide(self, X: pd.DataFrame, ref: pd.DataFrame) -> dict[str, Decision]:
        shared = [c for c in X.columns if c in ref.columns]
        comparisons, rules = column_comparisons(ref, X, shared, self)
        missing_rule = Rule("fisher", alpha=self._alpha(), material=self.max_missing_increase,
                            min_n=default_rule("proportion").min_n)
        for col in shared:
            own = self.columns.get(col)
            if (own is not None and not own.enabled) or not (ref[col].isna().any() or X[col].isna().any()):
                continue  # nothing missing on either side: no test, and a smaller Holm family
            comparisons[col + _MISSING] = _missing(ref[col], X[col])
            rules[col + _MISSING] = missing_rule
        return decide(comparisons, rules, self.correction)

    def _record(self, decisions: dict[str, Decision], columns: dict[str, dict[str, Any]]) -> list[str]:
        problems = []
        for key, d in decisions.items():
            col = key.removesuffix(_MISSING)
            entry = columns[col]
            cmp = d.comparison
            if cmp is not None and not key.endswith(_MISSING):
                entry.update(kind="numeric" if "samples" in METHODS[cmp.method].reads else "categorical",
                             method=cmp.method, effect=_round(cmp.effect), p_value=_round(cmp.p_value),
                             adjusted_p=_round(d.adjusted_p), outcome=d.outcome)
            if d.outcome == "differs" and not (key.endswith(_MISSING) and cmp is not None and cmp.effect < 0):
                entry["shifted"] = True
                problems.append(d.reason)
        return problems


def _missing(ref: pd.Series, cur: pd.Series) -> Comparison:
    return compare_proportions(int(ref.isna().sum()), len(ref), int(cur.isna().sum()), len(cur))


def _round(value: float | None) -> float | None:
    if value is None or value != value:
        return None
    return round(float(value), 6)

