"""Find identical rows (duplicates in a table, test rows leaked from train) by 64-bit row hashes.

Hashing every column of 10M rows dominates the gate's cost, so rows are first hashed on a
few high-cardinality columns only: rows equal on all columns are equal on those, so the few
candidates that collide there are the only rows hashed on every column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlgate.data.table import TableView

PREFILTER_COLUMNS = 3
PROBE_ROWS = 10_000


def prefilter_columns(view: TableView, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The ``PREFILTER_COLUMNS`` columns with the most distinct values in a strided probe (``spread``)."""
    if len(columns) <= PREFILTER_COLUMNS:
        return columns
    probe = view.spread(PROBE_ROWS)
    distinct = {c: int(probe[c].nunique(dropna=False)) for c in columns}
    best = sorted(columns, key=lambda c: -distinct[c])[:PREFILTER_COLUMNS]
    return tuple(c for c in columns if c in best)


def duplicate_mask(view: TableView, columns: tuple[str, ...]) -> np.ndarray:
    """True for each row equal (on ``columns``) to an earlier row."""
    import numpy as np
    import pandas as pd

    coarse = view.row_hashes(prefilter_columns(view, columns))
    # Sorting finds repeated hashes at a third of the cost of a hash table on 10M rows, and
    # usually finds none; only then are the (few) rows holding them located.
    ordered = np.sort(coarse)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    candidates = np.flatnonzero(pd.Series(coarse).isin(pd.Index(repeated)).to_numpy()) \
        if len(repeated) else np.empty(0, dtype=np.int64)
    mask = np.zeros(view.rows, dtype=bool)
    if len(candidates):
        full = hash_rows(view.frame, columns, candidates)
        mask[candidates[pd.Series(full).duplicated(keep="first").to_numpy()]] = True
    return mask


def leaked_rows(train: TableView, test: TableView,
                columns: tuple[str, ...]) -> tuple[np.ndarray, dict[int, int]]:
    """Test rows equal (on ``columns``) to a training row, and each one's first training row."""
    import numpy as np
    import pandas as pd

    pre = prefilter_columns(test, columns)
    test_coarse, train_coarse = test.row_hashes(pre), train.row_hashes(pre)
    test_cand = np.flatnonzero(pd.Series(test_coarse).isin(pd.Index(train_coarse)).to_numpy())
    mask = np.zeros(test.rows, dtype=bool)
    if not len(test_cand):
        return mask, {}
    train_cand = np.flatnonzero(pd.Series(train_coarse).isin(pd.Index(test_coarse[test_cand])).to_numpy())
    test_full = hash_rows(test.frame, columns, test_cand)
    train_full = hash_rows(train.frame, columns, train_cand)
    hit = pd.Series(test_full).isin(pd.Index(train_full)).to_numpy()
    mask[test_cand[hit]] = True
    first: dict[int, int] = {}
    for h, row in zip(train_full.tolist(), train_cand.tolist(), strict=True):
        first.setdefault(h, row)
    matches = {int(r): first[h] for r, h in zip(test_cand[hit].tolist(), test_full[hit].tolist(), strict=True)}
    return mask, matches


def repeated_rows(view: TableView, columns: tuple[str, ...]) -> int:
    """How many rows equal (on ``columns``) at least one other row of the same table."""
    import numpy as np
    import pandas as pd

    coarse = view.row_hashes(prefilter_columns(view, columns))
    counts = pd.Series(coarse).value_counts()
    shared = counts.index[counts.to_numpy() > 1]
    if not len(shared):
        return 0
    candidates = np.flatnonzero(pd.Series(coarse).isin(shared).to_numpy())
    full = hash_rows(view.frame, columns, candidates)
    return int(pd.Series(full).duplicated(keep=False).sum())


def repetition_is_natural(view: TableView, columns: tuple[str, ...]) -> bool:
    """True when identical rows can arise by chance: no column is near-continuous (in a strided
    probe, no column has distinct values for half its non-missing rows or more). A table with such a
    column repeats a row only by copying it."""
    probe = view.spread(PROBE_ROWS)
    for col in columns:
        values = probe[col].dropna()
        if len(values) >= 20 and values.nunique() >= 0.5 * len(values):
            return False
    return True


def hash_rows(frame: pd.DataFrame, columns: tuple[str, ...], rows: np.ndarray | None = None, *,
              bools_as_text: bool = True) -> np.ndarray:
    """A 64-bit hash per row (of ``rows``, default all) over ``columns``, normalized types.

    Booleans hash as text, so a batch of a streamed table holding a missing value (an object
    column) and one without (a bool column) hash the same rows alike; ``bools_as_text=False``
    hashes them as numbers, as fingerprints recorded before streaming did."""
    import pandas as pd

    part = frame if rows is None else frame.iloc[rows]
    return pd.util.hash_pandas_object(_normalized(part, columns, bools_as_text), index=False).to_numpy()


def _normalized(frame: pd.DataFrame, columns: tuple[str, ...], bools_as_text: bool = True) -> pd.DataFrame:
    """Numbers as float64 and text as plain strings, so equal rows hash equal across files."""
    import pandas as pd
    from pandas.api import types

    out = {}
    for name in columns:
        s = frame[name]
        if types.is_float_dtype(s.dtype) and s.dtype == "float64":
            out[name] = s  # already canonical: no copy of the largest columns
        elif types.is_bool_dtype(s.dtype) and bools_as_text:
            out[name] = s.astype("str")  # as text: a bool column with a missing value is object dtype
        elif types.is_bool_dtype(s.dtype) or types.is_numeric_dtype(s.dtype):
            out[name] = s.astype("float64")
        elif isinstance(s.dtype, pd.CategoricalDtype) or types.is_object_dtype(s.dtype):
            out[name] = s.astype("str")
        else:
            out[name] = s
    return pd.DataFrame(out, copy=False)
