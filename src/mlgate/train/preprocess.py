"""Preprocessing built from the training table's dtypes, and task inference from the target.

The preprocessing and the model form one scikit-learn ``Pipeline``, so the saved model takes
raw rows: numeric columns are median-imputed and standardized, text columns get a
``"__missing__"`` category and are one-hot encoded (at most ``MAX_CATEGORIES`` per column,
the rarest grouped), booleans are one-hot encoded as they are. Categories never seen in
training encode as all zeros (``handle_unknown="ignore"``), never as an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

MAX_CATEGORIES = 50


@dataclass
class FeatureSet:
    """The columns a model uses, by kind, and the ones left out with the reason."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    boolean: list[str] = field(default_factory=list)
    ignored: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical, *self.boolean]


def feature_set(frame: pd.DataFrame, target: str, id_columns: list[str] | tuple[str, ...] = ()) -> FeatureSet:
    """Sort the columns of ``frame`` (target and id columns excluded) by how they are encoded."""
    import pandas as pd
    from pandas.api import types

    out = FeatureSet()
    for col in frame.columns:
        series = frame[col]
        name = str(col)
        if col == target:
            continue
        if col in id_columns:
            out.ignored[name] = "id column"
        elif series.isna().all():
            out.ignored[name] = "all values missing"
        elif types.is_bool_dtype(series) or _looks_boolean(series):
            out.boolean.append(name)
        elif types.is_numeric_dtype(series):
            out.numeric.append(name)
        elif isinstance(series.dtype, pd.DatetimeTZDtype) or types.is_datetime64_any_dtype(series) \
                or types.is_timedelta64_dtype(series):
            out.ignored[name] = f"unsupported dtype {series.dtype}"
        else:
            out.categorical.append(name)
    if not out.columns:
        raise DataError(f"the training table has no usable feature columns besides the target "
                        f"'{target}' (ignored: {out.ignored or 'none'})")
    return out


def _looks_boolean(series: pd.Series) -> bool:
    """An object column holding only True/False (a boolean column with missing values)."""
    if series.dtype != object:
        return False
    values = set(series.dropna().unique().tolist())
    return bool(values) and values <= {True, False}


def build_preprocessor(features: FeatureSet) -> Any:
    """A ColumnTransformer for exactly these columns; everything else is dropped."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    def one_hot() -> OneHotEncoder:
        # Dense output: the histogram GBM does not take sparse input.
        return OneHotEncoder(handle_unknown="ignore", sparse_output=False,
                             max_categories=MAX_CATEGORIES)

    parts = []
    if features.numeric:
        parts.append(("numeric", Pipeline([("impute", SimpleImputer(strategy="median")),
                                           ("scale", StandardScaler())]), features.numeric))
    if features.categorical:
        parts.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
            ("encode", one_hot())]), features.categorical))
    if features.boolean:
        # A missing boolean becomes its own category when seen in training, else all zeros.
        parts.append(("boolean", one_hot(), features.boolean))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=True)


def build_pipeline(features: FeatureSet, estimator: Any) -> Any:
    """Preprocessing plus model: one estimator that takes raw rows."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", build_preprocessor(features)), ("model", estimator)])
