"""Column-by-column comparison of two tables through the core, one Holm family per call."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from mlgate.stats.comparison import Comparison
from mlgate.stats.methods import METHODS
from mlgate.stats.rules import Decision, Rule, decide
from mlgate.stats.settings import ShiftSettings
from mlgate.stats.two_sample import compare_samples

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_LIMIT = 200_000  # per side; beyond it a seeded subsample decides (KS D then has a standard error ~0.003)
PARALLEL_ROWS = 100_000  # rows of both tables from which the columns are compared on two threads


def column_kind(series: pd.Series) -> str:
    """``numeric`` for numbers (booleans excluded), else ``categorical``."""
    from pandas.api import types

    if types.is_bool_dtype(series.dtype) or not types.is_numeric_dtype(series.dtype):
        return "categorical"
    return "numeric"


def compare_columns(reference: pd.DataFrame, current: pd.DataFrame, columns: Iterable[str],
                    settings: ShiftSettings, kinds: dict[str, str] | None = None) -> dict[str, Decision]:
    """Compare each column present in both tables under its rule and decide them as one family;
    disabled columns are left out.

    A column whose kind differs between the tables (numbers in one, text in the other) is compared
    as categorical text, so a type change still shows as a shift instead of an error.
    """
    comparisons, rules = column_comparisons(reference, current, columns, settings, kinds)
    return decide(comparisons, rules, settings.correction)


def column_comparisons(reference: pd.DataFrame, current: pd.DataFrame, columns: Iterable[str],
                       settings: ShiftSettings, kinds: dict[str, str] | None = None,
                       ) -> tuple[dict[str, Comparison | None], dict[str, Rule]]:
    """The comparisons and rules ``compare_columns`` decides on (for a caller that adds to the family)."""
    rules: dict[str, Rule] = {}
    shared_kinds: dict[str, str] = {}
    for col in columns:
        if col not in reference.columns or col not in current.columns:
            continue
        kind = (kinds or {}).get(col) or _shared_kind(reference[col], current[col])
        rule = settings.rule_for(col, kind)
        if rule is None:
            continue
        rules[col], shared_kinds[col] = rule, kind

    def compare(col: str) -> Comparison:
        return compare_series(reference[col], current[col], shared_kinds[col], rules[col])

    if len(rules) > 1 and len(reference) + len(current) >= PARALLEL_ROWS:
        # two threads: the tests sort their samples in numpy, which leaves the interpreter lock
        with ThreadPoolExecutor(2, thread_name_prefix="mlgate-compare") as pool:
            found = list(pool.map(compare, rules))
    else:
        found = [compare(col) for col in rules]
    comparisons: dict[str, Comparison | None] = dict(zip(rules, found, strict=True))
    return comparisons, rules


def _shared_kind(ref: pd.Series, cur: pd.Series) -> str:
    a, b = column_kind(ref), column_kind(cur)
    return a if a == b else "categorical"


def compare_series(ref: pd.Series, cur: pd.Series, kind: str, rule: Rule) -> Comparison:
    """One column of each table under ``rule``: as numbers (numeric kind or a numeric method), else as text."""
    if kind == "numeric" or "counts" not in METHODS[rule.method].reads:  # a method that cannot count levels
        return compare_samples(_limit(_numbers(ref)), _limit(_numbers(cur)), rule.method)
    return compare_samples(_text(ref), _text(cur), rule.method)


def _numbers(s: pd.Series) -> Any:
    import numpy as np
    import pandas as pd

    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _text(s: pd.Series) -> Any:
    """Values as text keys, so 1, 1.0 and '1' meet across files; missing stays missing."""
    from pandas.api import types

    values = s.dropna()
    if len(values) > SAMPLE_LIMIT:
        import numpy as np

        values = values.iloc[np.sort(np.random.default_rng(0).choice(len(values), SAMPLE_LIMIT, replace=False))]
    if types.is_float_dtype(values.dtype) or (types.is_object_dtype(values.dtype)
                                              and types.infer_dtype(values, skipna=True) != "string"):
        return values.map(_key).to_numpy(dtype=object)
    return values.astype(str).to_numpy(dtype=object)


def _key(value: Any) -> str:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _limit(values: Any) -> Any:
    import numpy as np

    if len(values) <= SAMPLE_LIMIT:
        return values
    return np.random.default_rng(0).choice(values, SAMPLE_LIMIT, replace=False)
