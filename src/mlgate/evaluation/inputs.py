"""The inputs every evaluation needs: the model's feature columns, the target, the task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate.errors import DataError
from mlgate.tasks import task_of_model, task_of_target

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.models import LoadedModel

def split_xy(model: LoadedModel, frame: pd.DataFrame, target: str,
             id_columns: list[str] | None = None, where: str = "the test data") -> tuple[pd.DataFrame, pd.Series]:
    """The model's feature columns and the target of ``frame``; errors name missing columns."""
    if target not in frame.columns:
        raise DataError(f"{where} has no target column {target!r}")
    y = frame[target]
    drop = [target, *[c for c in id_columns or [] if c in frame.columns]]
    features = model.features
    if not features:
        return frame.drop(columns=drop), y
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DataError(f"{where} lacks the model's feature column(s) {', '.join(map(repr, missing))}")
    return frame[features], y


def resolve_task(configured: str | None, model: LoadedModel, y: pd.Series) -> str:
    """The task: the config's, else the model's metadata, else inferred from the target."""
    return configured or task_of_model(model.estimator, model.info) or task_of_target(y, str(y.name or "target"))
