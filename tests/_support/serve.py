"""Small churn models for the serving tests and benchmarks (a real sklearn Pipeline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ID_COLUMNS = ("customer_id", "target")


def churn_pipeline(kind: str = "lr", n_rows: int = 2000) -> tuple[Any, Any]:
    """A fitted preprocessing + model Pipeline on the churn example, and its feature frame."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlgate.examples.churn import generate

    frame = generate(n_rows)
    X = frame.drop(columns=list(ID_COLUMNS))
    y = frame["target"]
    categorical = [c for c in X.columns if X[c].dtype.kind not in "biuf"]
    numeric = [c for c in X.columns if c not in categorical]
    pre = ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
    ])
    model = (LogisticRegression(max_iter=500) if kind == "lr"
             else HistGradientBoostingClassifier(max_iter=60, random_state=0))
    return Pipeline([("pre", pre), ("model", model)]).fit(X, y), X


def build_model(folder: Path, kind: str = "lr", n_rows: int = 2000, **extra: Any) -> Path:
    """Save a churn model folder (MLflow sklearn flavor + mlgate.json) and return it."""
    from mlgate.models import save_model

    pipeline, X = churn_pipeline(kind, n_rows)
    info = {"name": "churn", "model_type": {"lr": "logistic-regression"}.get(kind, "hist-gradient-boosting"),
            "task": "binary", "target": "target", "features": list(X.columns),
            "dtypes": {c: str(X[c].dtype) for c in X.columns}, "classes": [0, 1],
            "metrics": {"roc_auc": 0.84}, "git_commit": "0123abc", "trained_at": "2026-11-27T00:00:00+00:00",
            **extra}
    return save_model(pipeline, folder, info, X.head(5))


def shared_model(base: Path, kind: str = "lr") -> Path:
    """One model folder per test session and kind (``base`` is pytest's session temp root)."""
    import fcntl

    folder = base / f"serve-model-{kind}"
    with (base / f".serve-model-{kind}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers share the folder
        if not (folder / "mlgate.json").exists():
            build_model(folder, kind)
    return folder
