"""Load a model from what a user can point at: an MLflow model folder, a registry URI
(``models:/name@alias`` or ``models:/name/3``), a ``runs:/`` URI, or a joblib/pickle file.

mlgate's training writes ``mlgate.json`` beside the ``MLmodel`` file with what the model
needs to be tested and served (features, task, classes, metrics); models from elsewhere get
that information inferred from the estimator where possible.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import ModelLoadError
from mlgate.security.folders import (
    check_pin,
    concrete_uri,
    load_folder,
    pinned_version,
    policy_for,
    require_mlmodel,
    verify_if_configured,
)
from mlgate.security.loader import load_file
from mlgate.tasks import task_of_model
from mlgate.tracking import quiet_mlflow, setup_mlflow

if TYPE_CHECKING:
    from mlgate.config import Config

METADATA_FILE = "mlgate.json"
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


@dataclass
class LoadedModel:
    """An estimator with ``predict`` (and ``predict_proba`` for classifiers) plus metadata."""

    estimator: Any
    source: str
    path: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)
    version: str | None = None

    @property
    def features(self) -> list[str]:
        names = self.info.get("features") or getattr(self.estimator, "feature_names_in_", [])
        return [str(n) for n in names]

    @property
    def task(self) -> str | None:
        return task_of_model(self.estimator, self.info)


def load_model(spec: str | Path, config: Config | None = None) -> LoadedModel:
    """Load a model from a path or URI; a ModelLoadError says what was tried."""
    text = str(spec)
    if text.startswith(("models:/", "runs:/")):
        return _load_uri(text, config)
    path = Path(text).expanduser()
    if not path.exists():
        raise ModelLoadError(f"model path {path} does not exist; give an MLflow model folder, "
                             "a .joblib/.pkl file, or a models:/NAME@ALIAS URI")
    if path.is_dir():
        return _load_mlflow_folder(require_mlmodel(path), text, config)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return _load_pickle(path, config)
    raise ModelLoadError(f"{path}: unknown model file type {path.suffix!r}; "
                         f"use {', '.join(PICKLE_SUFFIXES)} or an MLflow model folder")


def read_metadata(folder: Path) -> dict[str, Any]:
    meta = folder / METADATA_FILE
    if not meta.exists():
        return {}
    try:
        return json.loads(meta.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except ValueError as exc:
        raise ModelLoadError(f"{meta} is not valid JSON: {exc}") from exc


def _load_mlflow_folder(path: Path, source: str, config: Config | None = None,
                        expected_sha256: str | None = None) -> LoadedModel:
    verify_if_configured(path, config, source)
    # every model file goes through the fail-closed loader (mlgate.security), never mlflow's unpickling
    estimator = load_folder(path, policy_for(config), expected_sha256=expected_sha256)
    return LoadedModel(estimator=estimator, source=source, path=path, info=read_metadata(path))


def _load_pickle(path: Path, config: Config | None = None) -> LoadedModel:
    verify_if_configured(path, config, str(path))
    estimator = load_file(path, policy_for(config))
    if not hasattr(estimator, "predict"):
        raise ModelLoadError(f"{path} holds a {type(estimator).__name__}, which has no predict()")
    return LoadedModel(estimator=estimator, source=str(path), path=path)


def _load_uri(uri: str, config: Config | None) -> LoadedModel:
    quiet_mlflow()
    import mlflow

    if config is not None:
        setup_mlflow(config)

    # every URI form (alias, number, latest, stage, runs:/) resolves to one version and its pin;
    # that exact version is downloaded, so the pin and the bytes belong together
    version, pin = pinned_version(uri)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=concrete_uri(uri, version)))
    except Exception as exc:
        raise ModelLoadError(f"cannot resolve {uri} in the registry at "
                             f"{mlflow.get_tracking_uri()}: {str(exc).splitlines()[0]}") from exc
    check_pin(local, pin, uri)  # before anything is unpickled; the load re-checks the same bytes
    loaded = _load_mlflow_folder(local, uri, config, expected_sha256=pin)
    loaded.version = version
    return loaded


def save_model(estimator: Any, folder: Path, info: dict[str, Any], input_example: Any = None) -> Path:
    """Save a fitted estimator as an MLflow sklearn model folder with ``mlgate.json`` beside it.

    skops is MLflow's default format and refuses types it does not know; a model mlgate has
    just trained is trusted for the sklearn types skops reports (for example the histogram
    GBM's ``TreePredictor``). Estimators skops cannot handle at all fall back to cloudpickle.
    ``info`` should hold at least ``features``, ``task`` and ``target``.
    """
    quiet_mlflow()
    import mlflow
    from mlflow.models import infer_signature

    signature = None
    if input_example is not None:
        signature = infer_signature(input_example, _example_output(estimator, input_example))
    # Naming the requirements skips MLflow's inference, which costs seconds per model.
    common = {"signature": signature, "input_example": input_example,
              "pip_requirements": _requirements()}
    try:
        trusted = _sklearn_untrusted_types(estimator)
        # named, not left to the default: MLflow before 3.10 defaults to cloudpickle
        mlflow.sklearn.save_model(estimator, str(folder), serialization_format="skops",
                                  skops_trusted_types=trusted, **common)
    except Exception:  # skops cannot serialize this estimator: use cloudpickle instead
        shutil.rmtree(folder, ignore_errors=True)
        mlflow.sklearn.save_model(estimator, str(folder), serialization_format="cloudpickle",
                                  **common)
    (folder / METADATA_FILE).write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    return folder


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "scikit-learn", "numpy", "pandas", "scipy", "skops")]


def _sklearn_untrusted_types(estimator: Any) -> list[str]:
    import skops.io

    found = skops.io.get_untrusted_types(data=skops.io.dumps(estimator))
    return [t for t in found if t.startswith(("sklearn.", "numpy.", "scipy."))]


def _example_output(estimator: Any, example: Any) -> Any:
    if hasattr(estimator, "predict_proba"):
        try:
            return estimator.predict(example)
        except Exception:  # signature inference is best effort
            return None
    return estimator.predict(example)
