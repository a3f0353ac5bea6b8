"""Task inference, in one place: from a target column's values, or from a fitted model.

Every stage that needs the task and has no ``task:`` in the config asks here: train, tune,
the data checks (classification or regression target), evaluate, compare, the registry and
the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlgate.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

MAX_CLASSES = 20  # a whole-number target with more distinct values is treated as regression
TASKS = ("binary", "multiclass", "regression")


def task_of_target(y: pd.Series, column: str = "target", *, strict: bool = True) -> str:
    """binary (two values), multiclass (text, or few whole-number values), else regression.

    ``[0, 1, 1]`` is binary, ``["a", "b", "c"]`` and ``[1, 2, 3]`` multiclass, ``[0.5, 1.7, 2]``
    regression. A target with fewer than two values is a DataError naming the column, unless
    ``strict`` is off (a data check that only asks whether the target looks like classes).
    """
    from pandas.api import types

    values = y.dropna()
    n = values.nunique()
    if n < 2 and strict:
        raise DataError(f"target column '{column}' has {n} distinct value(s); a model needs at least two")
    if types.is_bool_dtype(values) or not types.is_numeric_dtype(values):
        return "binary" if n <= 2 else "multiclass"
    integral = types.is_integer_dtype(values) or bool(((values % 1) == 0).all())
    if n == 2 or (n < 2 and integral):
        return "binary"
    return "multiclass" if integral and n <= MAX_CLASSES else "regression"


def task_of_model(estimator: Any = None, info: Mapping[str, Any] | None = None, classes: Any = None) -> str | None:
    """The task recorded in a model's metadata, else read from its classes (None: cannot tell)."""
    task = (info or {}).get("task")
    if task:
        return str(task)
    if classes is None:
        classes = getattr(estimator, "classes_", None)
    if classes is not None:
        return "binary" if len(classes) == 2 else "multiclass"
    return "regression" if estimator is not None and hasattr(estimator, "predict") else None


def is_classification(task: str | None) -> bool:
    return task in ("binary", "multiclass", "classification")
