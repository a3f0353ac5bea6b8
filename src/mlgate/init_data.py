"""What ``mlgate init`` learns from a project's data: where it is, the target, the task, id columns.

Every inference comes with the reason, so ``init`` can print what it decided and why::

    >>> found = inspect_data(Path("."))            # finds data/train.csv and data/test.csv
    >>> found.target, found.task, found.id_columns
    ('target', 'binary', ['customer_id'])
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.data.io import load_table
from mlgate.errors import DataError, UsageError
from mlgate.tasks import task_of_target
from mlgate.train.zoo import MODEL_TYPES

if TYPE_CHECKING:
    import pandas as pd

SUFFIXES = (".csv", ".parquet", ".pq")
TARGET_NAMES = ("target", "label", "y", "class", "outcome")
_ID_NAME = re.compile(r"(^id$)|(_id$)|(^id_)|([a-z]Id$)|(^ID$)|(_ID$)|(^uuid$)|(^key$)", re.IGNORECASE)
PROTECTED_NAMES = ("gender", "sex", "race", "ethnicity", "age", "religion", "nationality", "disability")


@dataclass
class DataFound:
    """The data of a project and what was inferred from it, each with its reason."""

    train: str | None  # paths as written into mlgate.yaml (relative to the project folder)
    test: str | None
    path: str | None
    target: str
    task: str
    id_columns: list[str]
    protected_hints: list[str]
    thresholds: dict[str, float]
    models: list[str]
    reasons: list[str] = field(default_factory=list)


def find_data(folder: Path, data: Path | None = None) -> tuple[Path | None, Path | None, Path | None]:
    """``(train, test, path)``: the project's data files, or all None when there are none.

    ``data`` (``--data``) is a table file (split into train and test) or a folder; without
    it, ``folder/data/`` and then ``folder`` itself are searched for ``train`` and ``test``
    tables (CSV or Parquet), or a folder's only table.
    """
    if data is not None:
        if not data.exists():
            raise UsageError(f"--data {data}: no such file or folder")
        if data.is_file():
            return None, None, data
        found = _in_folder(data, single_ok=True)
        if found == (None, None, None):
            raise UsageError(f"--data {data}: the folder holds no train/test table (.csv or .parquet)")
        return found
    for place, single_ok in ((folder / "data", True), (folder, False)):
        if place.is_dir():
            found = _in_folder(place, single_ok)
            if found != (None, None, None):
                return found
    return None, None, None


def _in_folder(place: Path, single_ok: bool) -> tuple[Path | None, Path | None, Path | None]:
    tables = sorted(p for p in place.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    by_stem = {p.stem.lower(): p for p in tables}
    train = by_stem.get("train") or by_stem.get("training")
    test = by_stem.get("test") or by_stem.get("testing")
    if train is not None:
        return train, test, None
    if single_ok and len(tables) == 1:
        return None, None, tables[0]
    if single_ok and len(tables) > 1:
        names = ", ".join(p.name for p in tables[:8])
        raise UsageError(f"{place} holds {len(tables)} tables ({names}) and none is named train: name them "
                         "train.csv and test.csv, or pass --data FILE")
    return None, None, None


def inspect_data(folder: Path, data: Path | None = None, target: str | None = None) -> DataFound | None:
    """Find the data and infer target, task, id columns, models and thresholds; None without data."""
    train_file, test_file, path_file = find_data(folder, data)
    main = train_file or path_file
    if main is None:
        return None
    frame = load_table(main)
    reasons = [_described(folder, main, frame, "train" if train_file else "data (split 80/20 into train and test)")]
    if test_file is not None:
        reasons.append(_described(folder, test_file, load_table(test_file), "test"))
    column, why = pick_target(frame, target, main)
    reasons.append(f"target: {column!r} ({why})")
    task, why = _task(frame[column], column)
    reasons.append(f"task: {task} ({why})")
    ids = id_columns(frame, exclude=column)
    if ids:
        reasons.append(f"id columns: {', '.join(ids)} (named like an id and unique in {len(frame)} rows; "
                       "never used as features)")
    hints = [c for c in frame.columns if str(c).lower() in PROTECTED_NAMES and c != column]
    models = models_for(task)
    reasons.append(f"models: {', '.join(models)} (zoo types that do {task})")
    thresholds, why = thresholds_for(task, frame[column])
    reasons.append(f"test thresholds: {why}")
    return DataFound(train=_rel(folder, train_file), test=_rel(folder, test_file), path=_rel(folder, path_file),
                     target=column, task=task, id_columns=ids, protected_hints=hints, thresholds=thresholds,
                     models=models, reasons=reasons)


def pick_target(frame: pd.DataFrame, target: str | None, source: Path) -> tuple[str, str]:
    """The target column and why: ``--target``, else a column named target/label/y/class/outcome."""
    columns = [str(c) for c in frame.columns]
    shown = ", ".join(map(repr, columns[:20])) + (", ..." if len(columns) > 20 else "")
    if target is not None:
        if target not in columns:
            raise UsageError(f"--target {target!r}: {source} has no such column (columns: {shown})")
        return target, "from --target"
    lowered = {c.lower(): c for c in columns}
    for name in TARGET_NAMES:
        if name in lowered:
            return lowered[name], f"a column named {name!r}"
    raise UsageError(f"cannot tell which column of {source} to predict: none is named "
                     f"{', '.join(TARGET_NAMES)}. Pass --target COLUMN (columns: {shown})")


def _task(y: pd.Series, column: str) -> tuple[str, str]:
    try:
        task = task_of_target(y, column)
    except DataError as exc:
        raise DataError(f"{exc}; pick another column with --target") from exc
    values = y.dropna()
    n = int(values.nunique())
    if task == "regression":
        return task, f"{n} distinct numeric values"
    shown = ", ".join(map(repr, sorted(values.unique().tolist(), key=str)[:6])) + (", ..." if n > 6 else "")
    return task, f"{n} distinct values: {shown}"


def id_columns(frame: pd.DataFrame, exclude: str) -> list[str]:
    """Columns named like an identifier (id, *_id, customerId, uuid, key) whose values are all distinct."""
    out = []
    for col in frame.columns:
        name = str(col)
        if name == exclude or not _ID_NAME.search(name):
            continue
        values = frame[col]
        if values.notna().all() and values.nunique() == len(frame) and len(frame) > 1:
            out.append(name)
    return out


def models_for(task: str) -> list[str]:
    """A linear model and gradient boosting, the zoo types that do ``task``."""
    wanted = ("linear-regression", "gradient-boosting") if task == "regression" else (
        "logistic-regression", "gradient-boosting")
    return [name for name in wanted if task in MODEL_TYPES[name].tasks]


def thresholds_for(task: str, y: pd.Series) -> tuple[dict[str, float], str]:
    """Performance thresholds a model must beat to be better than a constant guess."""
    values = y.dropna()
    if task == "regression":
        # r2 on the test rows is 0 for their own mean: "beats a constant" wherever the test rows come
        # from. An rmse bound at the training target's std failed healthy models when the test rows
        # spread more (count data: statsmodels' randhie, r2 0.12 and rmse 4.50 against a bound of 4.40)
        return {"r2": 0.0}, ("r2 >= 0 (what predicting the test rows' mean scores), so a model must beat "
                             "a constant; an rmse bound in the target's units is yours to add")
    share = float(values.value_counts(normalize=True).iloc[0])
    accuracy = math.floor(share * 100) / 100
    if task == "binary":
        return {"roc_auc": 0.7, "accuracy": accuracy}, (
            f"roc_auc >= 0.7 and accuracy >= {accuracy} (the majority class's share {share:.1%}: what "
            "always predicting it scores)")
    return {"accuracy": accuracy}, (f"accuracy >= {accuracy} (the majority class's share {share:.1%}: what "
                                    "always predicting it scores)")


def _described(folder: Path, file: Path, frame: pd.DataFrame, role: str) -> str:
    return f"{role}: {_rel(folder, file)} ({len(frame):,} rows, {frame.shape[1]} columns)"


def _rel(folder: Path, file: Path | None) -> str | None:
    if file is None:
        return None
    try:
        return Path(os.path.relpath(file.resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return str(file.resolve())


def as_yaml_value(value: Any) -> str:
    """A scalar or list as YAML flow text (JSON is valid YAML, and quotes odd column names)."""
    return json.dumps(value)
