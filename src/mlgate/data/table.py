"""One table under validation, with the per-column facts the checks share (computed once)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.data.schema import Schema, column_kind

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

    def present(self) -> list[str]:
        """Schema columns the table has, in schema order."""
        return [c for c in self.schema.columns if c in self.frame.columns]

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
        return tuple(str(c) for c in self.frame.columns if c not in self.keys)

    def target_task(self) -> str | None:
        """``classification`` or ``regression`` for the target, None without a target."""
        if self.target is None or self.target not in self.frame.columns:
            return None
        if self.task:
            return self.task
        from mlgate.tasks import task_of_target

        task = task_of_target(self.frame[self.target], self.target, strict=False)
        return "regression" if task == "regression" else "classification"

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


def hash_rows(frame: pd.DataFrame, columns: tuple[str, ...], rows: np.ndarray | None = None) -> np.ndarray:
    """A 64-bit hash per row (of ``rows``, default all) over ``columns``, normalized types."""
    import pandas as pd

    part = frame if rows is None else frame.iloc[rows]
    return pd.util.hash_pandas_object(_normalized(part, columns), index=False).to_numpy()


def rows_fingerprint(frame: pd.DataFrame, columns: list[str]) -> str:
    """SHA-256 over the normalized row hashes of ``columns`` (row order matters): the same rows read
    from a CSV or a Parquet file, with ints loaded as floats, give the same fingerprint."""
    return hashlib.sha256(hash_rows(frame, tuple(columns)).tobytes()).hexdigest()


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


def _normalized(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Numbers as float64 and text as plain strings, so equal rows hash equal across files."""
    import pandas as pd
    from pandas.api import types

    out = {}
    for name in columns:
        s = frame[name]
        if types.is_float_dtype(s.dtype) and s.dtype == "float64":
            out[name] = s  # already canonical: no copy of the largest columns
        elif types.is_bool_dtype(s.dtype) or types.is_numeric_dtype(s.dtype):
            out[name] = s.astype("float64")
        elif isinstance(s.dtype, pd.CategoricalDtype) or types.is_object_dtype(s.dtype):
            out[name] = s.astype("str")
        else:
            out[name] = s
    return pd.DataFrame(out, copy=False)


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
