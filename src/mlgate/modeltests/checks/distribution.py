"""Data distribution: test rows against the training reference (missing values and shift)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from mlgate.modeltests import columns as C
from mlgate.modeltests.base import ModelCheck, Outcome, Subject


class DataDistribution(ModelCheck):
    """Missing share per column and per-feature shift: KS distance (numeric), total variation
    distance (categorical). Distances, not p-values: at large n every test rejects."""

    name: ClassVar[str] = "data_distribution"
    max_missing_share: float = Field(0.05, ge=0, le=1, description="overall missing share")
    max_missing_increase: float = Field(0.05, ge=0, le=1, description="per column, vs reference")
    max_ks: float = Field(0.1, ge=0, le=1, description="numeric: two-sample KS statistic")
    max_tvd: float = Field(0.1, ge=0, le=1, description="categorical: total variation distance")

    def run(self, subject: Subject) -> Outcome:
        X, ref = subject.X, subject.reference
        missing = X.isna().mean()
        overall = float(X.isna().to_numpy().mean()) if X.size else 0.0
        problems = []
        if overall > self.max_missing_share:
            problems.append(f"{overall:.1%} of test cells missing (limit {self.max_missing_share:.0%})")
        columns: dict[str, dict[str, Any]] = {c: {"missing": float(missing[c])} for c in X.columns}
        if ref is None:
            subject.notes.append("data_distribution: no reference data, shift not measured")
        else:
            problems += self._shift(X, ref, columns)
        shifted = sorted(c for c, v in columns.items() if v.get("shifted"))
        message = "; ".join(problems) if problems else (
            f"{overall:.1%} cells missing; " + ("no reference given, shift not measured" if ref is None
                                                else f"no feature shifted beyond KS {self.max_ks} / "
                                                     f"TVD {self.max_tvd}"))
        row = self.result(not problems, message,
                          observed={"missing_share": overall, "shifted": shifted},
                          expected={"max_missing_share": self.max_missing_share,
                                    "max_ks": self.max_ks, "max_tvd": self.max_tvd})
        return Outcome(checks=[row], details={"columns": columns, "has_reference": ref is not None},
                       metrics={"missing_share": overall})

    def _shift(self, X: pd.DataFrame, ref: pd.DataFrame, columns: dict[str, dict[str, Any]]) -> list[str]:
        problems = []
        numeric = set(C.numeric_columns(X))
        for col in X.columns:
            if col not in ref.columns:
                continue
            entry = columns[col]
            entry["reference_missing"] = float(ref[col].isna().mean())
            increase = entry["missing"] - entry["reference_missing"]
            if increase > self.max_missing_increase:
                entry["shifted"] = True
                problems.append(f"{col!r}: missing share {entry['missing']:.1%} vs "
                                f"{entry['reference_missing']:.1%} in the reference")
            if col in numeric and pd.api.types.is_numeric_dtype(ref[col]):
                stat = _ks(X[col].to_numpy(float, na_value=np.nan), ref[col].to_numpy(float, na_value=np.nan))
                entry.update(kind="numeric", ks=stat)
                if stat > self.max_ks:
                    entry["shifted"] = True
                    problems.append(f"{col!r}: KS distance {stat:.3f} (limit {self.max_ks})")
            else:
                tvd, unseen = _tvd(X[col], ref[col])
                entry.update(kind="categorical", tvd=tvd, unseen=unseen[:10])
                if tvd > self.max_tvd:
                    entry["shifted"] = True
                    extra = f", unseen {unseen[:3]}" if unseen else ""
                    problems.append(f"{col!r}: total variation distance {tvd:.3f} "
                                    f"(limit {self.max_tvd}){extra}")
        return problems


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic over the non-missing values (0 when one is empty)."""
    a, b = np.sort(a[~np.isnan(a)]), np.sort(b[~np.isnan(b)])
    if not len(a) or not len(b):
        return 0.0
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


def _tvd(test: pd.Series, ref: pd.Series) -> tuple[float, list[Any]]:
    """Total variation distance of the category shares, and categories the reference lacks."""
    p = test.astype(str).value_counts(normalize=True)
    q = ref.astype(str).value_counts(normalize=True)
    both = p.index.union(q.index)
    tvd = 0.5 * float(np.abs(p.reindex(both, fill_value=0) - q.reindex(both, fill_value=0)).sum())
    return tvd, sorted(set(p.index) - set(q.index))
