"""The inputs every evaluation needs: the candidate model, the test rows, the task."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.errors import DataError, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.context import StageContext
    from mlgate.models import LoadedModel

MODEL_FOLDER = "model"


def candidate_path(ctx: StageContext) -> Path:
    """The model folder the train stage wrote."""
    path = ctx.upstream_dir("train") / MODEL_FOLDER
    if not path.exists():
        raise UsageError(f"the train stage's output {ctx.upstream_dir('train')} holds no "
                         f"'{MODEL_FOLDER}' folder; re-run `mlgate run --force --until train`")
    return path


def load_candidate(ctx: StageContext) -> LoadedModel:
    """The candidate model of a pipeline run."""
    from mlgate.models import load_model

    return load_model(candidate_path(ctx))


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
    if configured:
        return configured
    if model.info.get("task"):
        return str(model.info["task"])
    classes = getattr(model.estimator, "classes_", None)
    if classes is not None:
        return "binary" if len(classes) == 2 else "multiclass"
    if y.dtype.kind in "fc" and y.nunique() > 20:
        return "regression"
    return "binary" if y.nunique() <= 2 else "multiclass"
