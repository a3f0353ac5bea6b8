"""The data checks: one small class per check, registered in ``DATA_CHECKS`` by its stable name
(plug-ins add theirs through the entry point group ``mlgate.data_checks``, see docs/extending.md).

Each check is configured under ``gates.validate.checks.<name>`` (``severity``, ``enabled`` and
its own parameters) and returns report ``Check`` entries that read "observed versus expected".
Checks with a ``dimension`` count their failing cells in the quality score.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import Field

from mlgate.data.base import DataCheck, Dimension
from mlgate.data.distribution import FeatureDistribution, TargetDistribution, decision_check
from mlgate.data.rowmatch import repetition_is_natural
from mlgate.data.table import TableView
from mlgate.plugins import PluginTable
from mlgate.reports.model import Check, Severity
from mlgate.stats import compare_proportions, decide, default_rule

__all__ = ["DATA_CHECKS", "DataCheck", "Dimension"]


class MissingColumns(DataCheck):
    """Every schema column is present."""

    name: ClassVar[str] = "missing_columns"
    dimension: ClassVar[Dimension | None] = "validity"

    def run(self, view: TableView) -> list[Check]:
        missing = [c for c in view.schema.columns if c not in view.columns]
        out = [self.result(view, False, f"column {c!r} is missing", column=c, observed="absent",
                           expected="present", bad_cells=view.rows) for c in missing]
        return out or [self.result(view, True, f"all {len(view.schema.columns)} schema columns present",
                                   observed=0, expected=0)]


class UnexpectedColumns(DataCheck):
    """No column outside the schema."""

    name: ClassVar[str] = "unexpected_columns"
    default_severity: ClassVar[Severity] = "warning"

    def run(self, view: TableView) -> list[Check]:
        extra = [c for c in view.columns if c not in view.schema.columns]
        out = [self.result(view, False, f"column {c!r} is not in the schema", column=c,
                           observed="present", expected="absent") for c in extra]
        return out or [self.result(view, True, "no column outside the schema", observed=0, expected=0)]


class DtypeMismatch(DataCheck):
    """Each column's type is the schema's (ints are accepted as floats, integral floats as ints)."""

    name: ClassVar[str] = "dtype_mismatch"
    dimension: ClassVar[Dimension | None] = "validity"

    def run(self, view: TableView) -> list[Check]:
        out = []
        for col in view.present():
            expected, actual = view.schema.columns[col].dtype, view.kind(col)
            if view.kind_ok(col):
                out.append(self.result(view, True, f"{col!r} is {actual}", column=col,
                                       observed=actual, expected=expected))
                continue
            n, bad = view.misfits(col, expected)
            example = f" (e.g. {bad['values'][0]!r} in row {bad['rows'][0]})" if bad["rows"] else ""
            verb = "does" if n == 1 else "do"
            out.append(self.result(view, False, f"{col!r}: expected {expected}, found {actual}{example}; "
                                   f"{_count(n, 'value')} {verb} not fit", column=col, observed=actual,
                                   expected=expected, bad_cells=n, count=n, **bad))
        return out


class NullsInNonNullable(DataCheck):
    """A column the schema marks ``nullable: false`` has no missing value (target: see target_missing)."""

    name: ClassVar[str] = "nulls_in_non_nullable"

    def run(self, view: TableView) -> list[Check]:
        out = []
        for col in view.present():
            if view.schema.columns[col].nullable or col == view.target:
                continue
            n = view.nulls(col)
            extra = view.null_samples(col) if n else {}
            row = self.result(view, n == 0, f"{col!r}: {_count(n, 'missing value')} (allowed 0)",
                              column=col, observed=n, expected=0, **extra)
            if view.schema.columns[col].on_null == "warning":
                row.severity = "warning"  # inferred: the reference merely had none
            out.append(row)
        return out


class NullRatio(DataCheck):
    """A column's share of missing values stays under a limit: the check's own ``max_share`` for
    every column (nullable or not: the user's explicit rule), else a nullable column's schema
    ``max_null_share``."""

    name: ClassVar[str] = "null_ratio"
    default_severity: ClassVar[Severity] = "warning"
    max_share: float | None = Field(None, ge=0, le=1, description="a limit for every column; overrides the "
                                    "schema's max_null_share")

    def run(self, view: TableView) -> list[Check]:
        out = []
        for col in view.present():
            spec = view.schema.columns[col]
            limit = self.max_share if self.max_share is not None else spec.max_null_share
            if view.rows == 0 or limit is None or (self.max_share is None and not spec.nullable):
                continue
            share = view.nulls(col) / view.rows
            out.append(self.result(view, share <= limit, f"{col!r}: {share:.2%} missing (limit {limit:.2%})",
                                   column=col, observed=round(share, 6), expected=limit))
        return out


EXACT_UP_TO = 20_000  # rows in both tables up to which null_share uses Fisher's exact test (then the z-test)


class NullShare(DataCheck):
    """Each column's missing share in test is the reference's: Fisher's exact test on the two
    shares (the pooled two-proportion z-test above 20,000 rows in all, where the two agree and
    Fisher's costs seconds a column), Holm across the columns, flagged when significant AND
    material (a rise or fall of at least ``material``), the ``missing`` rule of ``mlgate.stats``.
    A few stray nulls in a column that had none pass here (and warn in nulls_in_non_nullable); a
    40% hole fails."""

    name: ClassVar[str] = "null_share"
    pair: ClassVar[bool] = True
    alpha: float | None = Field(None, gt=0, lt=1, description="significance level after Holm (default 0.005)")
    material: float | None = Field(None, ge=0, le=1, description="smallest change of the missing share "
                                   "that counts (default 0.05)")
    min_n: int | None = Field(None, ge=1, description="rows needed on each side before deciding")

    def run_pair(self, train: TableView, test: TableView) -> list[Check]:
        columns = [c for c in test.content_columns() if c in train.columns and c != train.target]
        if not columns or not train.rows or not test.rows:
            return []
        exact = train.rows + test.rows <= EXACT_UP_TO
        rule = default_rule("missing").replace(alpha=self.alpha, material=self.material, min_n=self.min_n,
                                               method=None if exact else "ztest")
        comparisons = {c: compare_proportions(train.nulls(c), train.rows, test.nulls(c), test.rows, rule.method)
                       for c in columns}
        decisions = decide(comparisons, dict.fromkeys(columns, rule))
        out = []
        for col, d in decisions.items():
            shares = {"reference_share": round(train.nulls(col) / train.rows, 6),
                      "share": round(test.nulls(col) / test.rows, 6)}
            row = decision_check(self, test, d, reference=train.label, **shares)
            row.message = row.message.replace(
                f"{col!r}:", f"{col!r}: {shares['share']:.2%} missing vs {shares['reference_share']:.2%} "
                f"in {train.label};", 1)
            out.append(row)
        return out


class OutOfRange(DataCheck):
    """Numeric values lie within the schema's ``min``/``max`` (an error past them); a value past
    ``warn_min``/``warn_max`` but inside ``min``/``max`` is a warning (just past the usual range)."""

    name: ClassVar[str] = "out_of_range"
    dimension: ClassVar[Dimension | None] = "validity"

    def run(self, view: TableView) -> list[Check]:
        out = []
        for col in view.present():
            spec = view.schema.columns[col]
            if all(b is None for b in (spec.min, spec.max, spec.warn_min, spec.warn_max)) \
                    or view.kind(col) not in ("int", "float") or not view.kind_ok(col):
                continue
            lo, hi = view.min_max(col)
            hard = [spec.min, spec.max]
            soft = [_first(spec.warn_min, spec.min), _first(spec.warn_max, spec.max)]
            if not (_past(lo, hi, *soft)):
                out.append(self.result(view, True, f"{col!r}: values in [{lo}, {hi}] within {soft}",
                                       column=col, observed=[lo, hi], expected=soft))
                continue
            out += self._failures(view, col, lo, hi, hard, soft)
        return out

    def _failures(self, view: TableView, col: str, lo: float | None, hi: float | None,
                  hard: list[Any], soft: list[Any]) -> list[Check]:
        (n_far, far), (n_near, near) = view.range_misses(col, hard, soft)
        out = []
        if n_far:
            n = n_far
            out.append(self.result(view, False, f"{col!r}: {_count(n, 'value')} outside {hard} "
                                   f"(observed range [{lo}, {hi}])", column=col, observed=[lo, hi],
                                   expected=hard, bad_cells=n, count=n, **far))
        if n_near:
            n = n_near
            row = self.result(view, False, f"{col!r}: {_count(n, 'value')} just past the usual range {soft} "
                              f"(observed range [{lo}, {hi}]; an error only outside {hard})", column=col,
                              observed=[lo, hi], expected=soft, count=n, **near)
            row.severity = "warning"  # plausible fresh values: shown, not blocking, not in the score
            out.append(row)
        return out


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _past(lo: float | None, hi: float | None, low: Any, high: Any) -> bool:
    return (lo is not None and low is not None and lo < low) or (hi is not None and high is not None and hi > high)


def _constrained(view: TableView, attr: str) -> Iterator[tuple[str, Any]]:
    """Each present column whose schema sets ``attr`` (and whose values are of the schema's kind), with it."""
    for col in view.present():
        value = getattr(view.schema.columns[col], attr)
        if value is not None and view.kind_ok(col):
            yield col, value


class UnseenCategories(DataCheck):
    """A categorical column holds only the schema's categories."""

    name: ClassVar[str] = "unseen_categories"
    dimension: ClassVar[Dimension | None] = "validity"

    def run(self, view: TableView) -> list[Check]:
        out = []
        for col, allowed in _constrained(view, "categories"):
            seen = {str(u) for u in view.uniques(col)}
            unseen = sorted(seen - set(allowed))
            if not unseen:
                out.append(self.result(view, True, f"{col!r}: {len(seen)} categories, all known",
                                       column=col, observed=sorted(seen)[:50], expected=allowed))
                continue
            n, bad = view.unseen(col, allowed)
            shown = ", ".join(map(repr, unseen[:5])) + (", ..." if len(unseen) > 5 else "")
            soft = view.schema.columns[col].on_unseen == "warning"
            note = " (a long-tailed column: new levels are expected)" if soft else ""
            row = self.result(view, False, f"{col!r}: {len(unseen)} unseen categor"
                              f"{'y' if len(unseen) == 1 else 'ies'} {shown} in {_count(n, 'row')}{note}",
                              column=col, observed=unseen[:50], expected=allowed, count=n,
                              **({} if soft else {"bad_cells": n}), **bad)
            if soft:
                row.severity = "warning"
            out.append(row)
        return out


class PatternMismatch(DataCheck):
    """A text column's values fully match the schema's ``pattern``."""

    name: ClassVar[str] = "pattern_mismatch"
    dimension: ClassVar[Dimension | None] = "validity"

    def run(self, view: TableView) -> list[Check]:
        out = []
        for col, pattern in _constrained(view, "pattern"):
            n, bad = view.pattern_misses(col, pattern)
            extra = {"bad_cells": n, "count": n, **bad} if n else {}
            verb = "does" if n == 1 else "do"
            out.append(self.result(view, n == 0, f"{col!r}: {_count(n, 'value')} {verb} not match /{pattern}/",
                                   column=col, observed=n, expected=0, **extra))
        return out


class DuplicateRows(DataCheck):
    """Share of rows that repeat an earlier row (key columns ignored) stays under ``max_share``."""

    name: ClassVar[str] = "duplicate_rows"
    default_severity: ClassVar[Severity] = "warning"
    dimension: ClassVar[Dimension | None] = "uniqueness"
    max_share: float = Field(0.0, ge=0, le=1)

    def run(self, view: TableView) -> list[Check]:
        columns = view.content_columns()
        n, bad = view.duplicates(columns)
        share = n / view.rows if view.rows else 0.0
        if n and repetition_is_natural(view, columns):
            # discrete columns only: rows repeat by chance, so repetition is reported, not counted
            return [self.result(view, True, f"{_count(n, 'duplicate row')} ({share:.2%}); every column is "
                                "discrete, so rows repeat naturally: not counted", observed=n,
                                expected=self.max_share, explained=True, **bad)]
        extra = {"bad_cells": n * len(view.columns), **bad} if n else {}
        return [self.result(view, share <= self.max_share, f"{_count(n, 'duplicate row')} ({share:.2%}, "
                            f"limit {self.max_share:.2%})", observed=n, expected=0, **extra)]


class DuplicateKeys(DataCheck):
    """The key columns (``data.id_columns`` or the schema's ``keys``) identify each row once."""

    name: ClassVar[str] = "duplicate_keys"
    default_severity: ClassVar[Severity] = "warning"

    def run(self, view: TableView) -> list[Check]:
        keys = [k for k in view.keys if k in view.columns]
        if not keys:
            return []
        label = ", ".join(keys)
        n, bad = view.key_duplicates(keys)
        extra = bad if n else {}
        verb = "repeats" if n == 1 else "repeat"
        return [self.result(view, n == 0, f"{label!r}: {_count(n, 'row')} {verb} a key", column=label,
                            observed=n, expected=0, **extra)]


class ConstantColumns(DataCheck):
    """A column holds at least two distinct non-null values."""

    name: ClassVar[str] = "constant_columns"
    default_severity: ClassVar[Severity] = "warning"

    def run(self, view: TableView) -> list[Check]:
        out = []
        for col in view.present():
            distinct = _at_most_one_value(view, col)
            out.append(self.result(view, not distinct, f"{col!r} is constant" if distinct
                                   else f"{col!r} varies", column=col,
                                   observed="constant" if distinct else "varies", expected="varies"))
        return out


def _at_most_one_value(view: TableView, col: str) -> bool:
    if view.kind(col) in ("int", "float"):
        lo, hi = view.min_max(col)
        return lo is None or lo == hi
    if view.schema.columns[col].categories is not None:
        return len(view.uniques(col)) <= 1  # already computed by unseen_categories
    return view.single_valued(col)


class TargetMissing(DataCheck):
    """The target column has no missing values."""

    name: ClassVar[str] = "target_missing"

    def run(self, view: TableView) -> list[Check]:
        t = view.target
        if t is None or t not in view.columns:
            return []
        n = view.nulls(t)
        extra = view.null_samples(t) if n else {}
        return [self.result(view, n == 0, f"target {t!r}: {_count(n, 'missing value')} (allowed 0)",
                            column=t, observed=n, expected=0, **extra)]


class TargetSingleClass(DataCheck):
    """The target has at least two distinct values."""

    name: ClassVar[str] = "target_single_class"
    min_rows: int = Field(20, ge=1, description="rows below which one class is a warning, not an error")

    def run(self, view: TableView) -> list[Check]:
        t = view.target
        if t is None or t not in view.columns:
            return []
        n, shown = view.distinct_values(t)
        row = self.result(view, n >= 2, f"target {t!r}: {n} distinct value{'s' if n != 1 else ''} "
                          f"{shown} (need at least 2)", column=t, observed=n, expected=">= 2")
        if n < 2 and view.rows < self.min_rows:
            row.severity = "warning"  # a handful of rows may well hold one class: not judged
            row.message += f"; only {view.rows} rows, at least {self.min_rows} needed to judge"
        return [row]


class ClassImbalance(DataCheck):
    """Majority class count over minority class count stays under ``max_ratio``."""

    name: ClassVar[str] = "class_imbalance"
    default_severity: ClassVar[Severity] = "warning"
    max_ratio: float = Field(10.0, ge=1)

    def run(self, view: TableView) -> list[Check]:
        t = view.target
        if view.target_task() != "classification" or t is None:
            return []
        counts = view.value_counts(t)
        if len(counts) < 2:
            return []
        ratio = float(counts.iloc[0] / counts.iloc[-1])
        shares = {str(k): round(float(v) / view.rows, 4) for k, v in counts.items()}
        return [self.result(view, ratio <= self.max_ratio, f"target {t!r}: majority/minority ratio "
                            f"{ratio:.1f} (limit {self.max_ratio:g})", column=t, observed=round(ratio, 3),
                            expected=self.max_ratio, class_shares=shares)]


class RowCount(DataCheck):
    """Row count within bounds: this check's ``min``/``max``, else the schema's ``rows``."""

    name: ClassVar[str] = "row_count"
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    def run(self, view: TableView) -> list[Check]:
        lo = self.min if self.min is not None else view.schema.rows.min
        hi = self.max if self.max is not None else view.schema.rows.max
        ok = (lo is None or view.rows >= lo) and (hi is None or view.rows <= hi)
        return [self.result(view, ok, f"{view.rows} rows (bounds [{lo}, {hi}])", observed=view.rows,
                            expected=[lo, hi])]


class TrainTestLeakage(DataCheck):
    """No test row is identical to a training row (key columns ignored), beyond what the table's own
    repetition explains.

    In a table with a near-continuous column, identical rows do not happen by chance: every match is
    leakage. In a table of discrete columns (integer-coded answers, categories), rows repeat naturally:
    the share of train rows that equal another train row predicts the share of test rows that equal a
    train row, and only an excess is leakage: more than ``max_rows`` rows above the prediction AND
    Fisher's exact test of the two shares below ``alpha``.
    """

    name: ClassVar[str] = "train_test_leakage"
    pair: ClassVar[bool] = True
    dimension: ClassVar[Dimension | None] = "uniqueness"
    max_rows: int = Field(0, ge=0, description="leaked rows tolerated above the expected number")
    alpha: float = Field(0.001, gt=0, lt=1, description="significance of the excess (discrete tables)")

    def run_pair(self, train: TableView, test: TableView) -> list[Check]:
        cols = tuple(c for c in test.content_columns() if c in train.columns)
        if not cols:
            return []
        n, shown, matches = test.leaked_from(train, cols)
        expected, p_value, leaked = 0.0, None, n
        if n and repetition_is_natural(train, cols):
            repeated = train.repeated(cols)
            expected = test.rows * repeated / max(train.rows, 1)
            cmp = compare_proportions(repeated, train.rows, n, test.rows)
            p_value = cmp.p_value
            significant = cmp.effect > 0 and p_value is not None and p_value < self.alpha
            leaked = max(0, round(n - expected)) if significant else 0
        passed = leaked <= self.max_rows
        extra: dict[str, Any] = {"identical_rows": n, "expected_rows": round(expected, 2), "p_value": p_value}
        if n:
            extra.update(shown)
            extra["train_rows"] = matches
        if not passed:
            extra["bad_cells"] = leaked * len(cols)  # only the excess counts in the quality score
        why = (f" (train repeats itself: {expected:.1f} expected, p {p_value:.2g}, alpha {self.alpha:g})"
               if p_value is not None else "")
        return [self.result(test, passed, f"{_count(n, 'row')} identical to a row of {train.label}{why}; "
                            f"{leaked} counted as leaked (limit {self.max_rows}, compared on {len(cols)} columns)",
                            observed=leaked, expected=self.max_rows, **extra)]


def _count(n: int, noun: str) -> str:
    """``1 row``, ``2 rows``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


DATA_CHECKS: PluginTable[DataCheck] = PluginTable("mlgate.data_checks", DataCheck, (
    MissingColumns, UnexpectedColumns, DtypeMismatch, NullsInNonNullable, NullRatio, NullShare, OutOfRange,
    UnseenCategories, PatternMismatch, DuplicateRows, DuplicateKeys, ConstantColumns,
    TargetMissing, TargetSingleClass, ClassImbalance, RowCount, TrainTestLeakage,
    TargetDistribution, FeatureDistribution,
))
