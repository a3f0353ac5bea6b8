"""One table under validation, with the per-column facts the checks share (computed once)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.data.rowmatch import duplicate_mask, hash_rows, leaked_rows, repeated_rows
from mlgate.data.schema import Schema, column_kind
from mlgate.tasks import task_of_target

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SAMPLE_ROWS = 5


@dataclass
class TableView:
    """A table, its label in messages (``test`` or a file name) and the schema it must meet."""

    frame: pd.DataFrame
    label: str
    schema: Schema
    target: str | None = None
    keys: list[str] = field(default_factory=list)
    task: str | None = None  # "classification", "regression" or None (inferred from the target)
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> list[str]:
        """The table's column names, in file order."""
        return [str(c) for c in self.frame.columns]

    def present(self) -> list[str]:
        """Schema columns the table has, in schema order."""
        names = set(self.columns)
        return [c for c in self.schema.columns if c in names]

    def kind(self, column: str) -> str:
        return self._memo(("kind", column), lambda: column_kind(self.frame[column]))

    def nulls(self, column: str) -> int:
        return self._memo(("nulls", column), lambda: int(self.frame[column].isna().sum()))

    def kind_ok(self, column: str) -> bool:
        """True when the column's dtype is what the schema says, or compatible with it."""
        return self._memo(("kind_ok", column), lambda: _compatible(
            self.schema.columns[column].dtype, self.kind(column), self.frame[column]))

    def min_max(self, column: str) -> tuple[float | None, float | None]:
        """Minimum and maximum of a numeric column, ignoring missing values."""
        def compute() -> tuple[float | None, float | None]:
            s = self.frame[column]
            if self.nulls(column) == len(s):
                return None, None
            return float(s.min()), float(s.max())
        return self._memo(("minmax", column), compute)

    def uniques(self, column: str) -> list[Any]:
        """The distinct non-null values of a column (from the categories when categorical)."""
        def compute() -> list[Any]:
            import pandas as pd

            s = self.frame[column]
            if isinstance(s.dtype, pd.CategoricalDtype):
                codes = s.cat.codes.unique()
                return list(s.cat.categories[codes[codes >= 0]])
            return [u for u in s.unique() if not pd.isna(u)]
        return self._memo(("uniques", column), compute)

    def row_hashes(self, columns: tuple[str, ...]) -> np.ndarray:
        """A 64-bit hash per row over ``columns``; numbers hash as float64, text as strings.

        The normalization makes a row hash the same in a CSV that loaded a column as int and
        in one that loaded it as float (because of a missing value elsewhere in the column).
        """
        return self._memo(("hash", columns), lambda: hash_rows(self.frame, columns))

    def content_columns(self) -> tuple[str, ...]:
        """The columns that say what a row is: all but the key columns."""
        return tuple(c for c in self.columns if c not in self.keys)

    def target_task(self) -> str | None:
        """``classification`` or ``regression`` for the target, None without a target."""
        if self.target is None or self.target not in self.columns:
            return None
        if self.task:
            return self.task

        task = task_of_target(self._target_values(), self.target, strict=False)
        return "regression" if task == "regression" else "classification"

    def _target_values(self) -> pd.Series:
        """The target column, or any series with its distinct values and dtype (all task_of_target reads)."""
        assert self.target is not None
        return self.frame[self.target]

    # ---- what the checks ask of a table: a count and the first failing rows ---------------------
    # Each returns (count, samples) where samples is ``samples()``'s dict; a streamed table
    # (mlgate.data.stream) answers the same questions from state merged over its batches.

    def null_samples(self, column: str) -> dict[str, Any]:
        """The first rows where ``column`` is missing."""
        return self.samples(self.frame[column].isna().to_numpy())

    def misfits(self, column: str, expected: str) -> tuple[int, dict[str, Any]]:
        """Values not of the ``expected`` kind (for numbers: that do not parse as one)."""
        mask = not_of_kind(self.frame[column], expected)
        return int(mask.sum()), self.samples(mask, column)

    def range_misses(self, column: str, hard: list[Any], soft: list[Any]) -> tuple[tuple[int, dict[str, Any]],
                                                                                   tuple[int, dict[str, Any]]]:
        """Values outside ``hard`` bounds, and values outside ``soft`` but inside ``hard``."""
        import numpy as np

        values = self.frame[column].to_numpy(dtype="float64", na_value=np.nan)
        far = outside(values, *hard)
        near = outside(values, *soft) & ~far
        return (int(far.sum()), self.samples(far, column)), (int(near.sum()), self.samples(near, column))

    def unseen(self, column: str, allowed: list[str]) -> tuple[int, dict[str, Any]]:
        """Non-null values whose text is not among ``allowed``."""
        s = self.frame[column]
        mask = (s.notna() & ~s.astype("str").isin(allowed)).to_numpy(dtype=bool)
        return int(mask.sum()), self.samples(mask, column)

    def pattern_misses(self, column: str, pattern: str) -> tuple[int, dict[str, Any]]:
        """Non-null values that do not fully match ``pattern``."""
        mask = fullmatch_mask(self.frame[column], pattern)
        return int(mask.sum()), self.samples(mask, column)

    def duplicates(self, columns: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
        """Rows equal (on ``columns``) to an earlier row."""
        mask = duplicate_mask(self, columns)
        return int(mask.sum()), self.samples(mask)

    def key_duplicates(self, keys: list[str]) -> tuple[int, dict[str, Any]]:
        """Rows whose key (one column, or several) repeats an earlier row's."""
        import pandas as pd

        if len(keys) == 1:
            mask = self.frame[keys[0]].duplicated(keep="first").to_numpy()
        else:
            mask = pd.Series(self.row_hashes(tuple(keys))).duplicated(keep="first").to_numpy()
        return int(mask.sum()), self.samples(mask, keys[0] if len(keys) == 1 else None)

    def repeated(self, columns: tuple[str, ...]) -> int:
        """How many rows equal (on ``columns``) at least one other row."""
        return repeated_rows(self, columns)

    def leaked_from(self, train: TableView, columns: tuple[str, ...]) -> tuple[int, dict[str, Any], list[int]]:
        """Rows of this table equal to a row of ``train``: count, the first ones, and each one's first train row."""
        mask, matches = leaked_rows(train, self, columns)
        shown = self.samples(mask)
        return int(mask.sum()), shown, [matches[r] for r in shown["rows"]]

    def single_valued(self, column: str) -> bool:
        """True when the column holds at most one distinct non-null value."""
        s = self.frame[column].dropna()
        return s.empty or bool((s == s.iloc[0]).all())

    def distinct_values(self, column: str) -> tuple[int, list[Any]]:
        """How many distinct non-null values, and the first five (in row order)."""
        values = self.frame[column].dropna().unique()
        return len(values), [jsonable(v) for v in values[:5]]

    def value_counts(self, column: str) -> pd.Series:
        """Count of each non-null value, most frequent first (ties in order of first appearance)."""
        return ordered_counts(self.frame[column].value_counts(sort=False))

    def spread(self, limit: int) -> pd.DataFrame:
        """Every k-th row, k the smallest power of two leaving at most ``limit`` rows: a systematic
        sample over the whole table that a streamed table keeps batch by batch, with the same rows."""
        return self.frame.iloc[::spread_step(self.rows, limit)].reset_index(drop=True)

    def samples(self, mask: Any, column: str | None = None) -> dict[str, Any]:
        """The first failing rows (0-based positions) and, with ``column``, their values."""
        import numpy as np

        rows = np.flatnonzero(np.asarray(mask))[:SAMPLE_ROWS]
        out: dict[str, Any] = {"rows": [int(r) for r in rows]}
        if column is not None:
            out["values"] = [jsonable(v) for v in self.frame[column].iloc[rows].tolist()]
        return out

    def _memo(self, key: Any, compute: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]


def spread_step(rows: int, limit: int) -> int:
    """The smallest power of two ``k`` with at most ``limit`` rows at 0, k, 2k, ... below ``rows``."""
    step = 1
    while -(-rows // step) > limit:
        step *= 2
    return step


def ordered_counts(counts: pd.Series) -> pd.Series:
    """Counts (in order of first appearance) sorted most frequent first, ties kept in that order."""
    return counts.sort_values(ascending=False, kind="stable")


def not_of_kind(s: pd.Series, expected: str) -> Any:
    """Rows whose value is not of the expected kind (for numbers: does not parse as one)."""
    import pandas as pd

    if expected in ("int", "float"):
        numbers = pd.to_numeric(s, errors="coerce")
        mask = s.notna() & numbers.isna()
        if expected == "int" and not mask.any():
            mask = numbers.notna() & (numbers % 1 != 0)
        return mask.to_numpy(dtype=bool)
    return s.notna().to_numpy(dtype=bool)


def outside(values: Any, low: Any, high: Any) -> Any:
    """True where a value is below ``low`` or above ``high`` (a None bound is open)."""
    import numpy as np

    mask = np.zeros(len(values), dtype=bool)
    if low is not None:
        mask |= values < low
    if high is not None:
        mask |= values > high
    return mask


def rows_fingerprint(frame: pd.DataFrame, columns: list[str]) -> str:
    """SHA-256 over the normalized row hashes of ``columns`` (row order matters): the same rows read
    from a CSV or a Parquet file, with ints loaded as floats, give the same fingerprint."""
    return hashlib.sha256(hash_rows(frame, tuple(columns), bools_as_text=False).tobytes()).hexdigest()


def _compatible(expected: str, actual: str, series: pd.Series) -> bool:
    if expected == actual:
        return True
    if expected == "float":
        return actual == "int"
    if expected == "int" and actual == "float":
        values = series.to_numpy(dtype="float64", na_value=float("nan"))
        import numpy as np

        finite = values[~np.isnan(values)]
        return bool(np.all(np.mod(finite, 1) == 0))
    return {expected, actual} == {"string", "category"}


def jsonable(value: Any) -> Any:
    """A plain JSON value for report.json (numpy scalars unwrapped, NaN as None)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def fullmatch_mask(series: pd.Series, pattern: str) -> Any:
    """True where a non-null value does not fully match ``pattern``."""
    matched = series.astype("str").str.fullmatch(re.compile(pattern).pattern)
    return series.notna().to_numpy() & ~matched.fillna(False).to_numpy(dtype=bool)
