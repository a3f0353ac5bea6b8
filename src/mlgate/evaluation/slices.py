"""Per-slice metrics: the same metrics on each value (or quartile) of a column."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from mlgate.errors import ConfigError
from mlgate.metrics import compute

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.metrics import Predictions

MISSING = "(missing)"
OTHER = "(other)"


def slice_labels(values: pd.Series, max_values: int) -> pd.Series:
    """A label per row: the value itself, a quartile for many-valued numbers, or '(other)'."""
    import pandas as pd

    if values.dtype.kind in "iuf" and values.nunique() > max_values:
        labels = pd.qcut(values, q=4, duplicates="drop").astype(str)
    else:
        labels = values.astype(str)
    labels = labels.where(values.notna(), MISSING)
    counts = labels.value_counts()
    if len(counts) > max_values:  # keep the largest groups, fold the tail into one
        keep = set(counts.index[: max_values - 1])
        labels = labels.where(labels.isin(keep), OTHER)
    return labels


def slice_metrics(preds: Predictions, frame: pd.DataFrame, columns: list[str], names: list[str],
                  *, min_rows: int, max_values: int) -> dict[str, list[dict[str, Any]]]:
    """``{column: [{value, n, small, metrics...}, ...]}`` with the largest groups first."""
    import numpy as np

    out: dict[str, list[dict[str, Any]]] = {}
    for column in columns:
        if column not in frame.columns:
            shown = ", ".join(map(repr, list(frame.columns)[:12]))
            raise ConfigError(f"gates -> evaluate -> slices: the test data has no column {column!r} "
                              f"(columns: {shown})")
        labels = slice_labels(frame[column].reset_index(drop=True), max_values)
        rows = []
        for value, count in labels.value_counts().items():
            mask = np.asarray(labels == value)
            sub = preds.subset(mask)
            row: dict[str, Any] = {"value": str(value), "n": int(count), "small": int(count) < min_rows}
            row.update({k: _round(v) for k, v in compute(sub, names).items()})
            rows.append(row)
        out[column] = rows
    return out


def _round(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None
