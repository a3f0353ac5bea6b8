"""The MLflow store: opening it, retrying its writes, logging folders, hashing model files.

Several CI jobs may register at once. MLflow numbers versions max+1 inside a transaction and
retries a clash three times; SQLite may also answer "database is locked". Every write here
is retried with jittered exponential backoff, so each job gets its own version.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from mlgate.errors import ModelLoadError, RegistryError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlgate.config import Config

_TRANSIENT = ("database is locked", "giving up after", "integrityerror", "unique constraint",
              "deadlock", "could not serialize")
T = TypeVar("T")


def open_store(config: Config) -> MlflowClient:
    """``setup_mlflow`` (which locks a SQLite store while opening it), retrying a busy store."""
    from mlgate.tracking import setup_mlflow

    return retry(lambda: setup_mlflow(config), "open the MLflow store")


def retry(action: Callable[[], T], what: str, attempts: int = 12) -> T:
    """Run an MLflow write, retrying lock and version clashes with jittered backoff."""
    delay = 0.05
    for attempt in range(attempts):
        try:
            return action()
        except Exception as exc:  # MLflow wraps SQLAlchemy errors in many types
            text = f"{type(exc).__name__} {exc}".lower()
            if attempt == attempts - 1 or not any(t in text for t in _TRANSIENT):
                if isinstance(exc, RegistryError):
                    raise
                raise RegistryError(f"cannot {what}: {first_line(exc)}") from exc
            time.sleep(delay * (1 + random.random()))  # jitter keeps retrying jobs apart
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def ensure_registered_model(client: MlflowClient, name: str) -> None:
    def create() -> None:
        try:
            client.create_registered_model(name)
        except Exception as exc:
            if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise

    retry(create, f"create the registered model {name!r}")


def existing_run_source(client: MlflowClient, model_uri: str | None) -> tuple[str | None, str]:
    """The train run and its model's artifact URI, when the run exists in this store."""
    if not model_uri or not model_uri.startswith("runs:/"):
        return None, ""
    run_id, _, path = model_uri.removeprefix("runs:/").partition("/")
    try:
        run = client.get_run(run_id)
    except Exception:  # the run lives in another store (a different tracking URI)
        return None, ""
    if not _has_model(client, run_id, path):
        return None, ""
    return run_id, f"{run.info.artifact_uri.rstrip('/')}/{path or 'model'}"


def _has_model(client: MlflowClient, run_id: str, path: str) -> bool:
    try:
        return any(f.path.endswith("MLmodel") for f in client.list_artifacts(run_id, path or "model"))
    except Exception:  # an unreachable artifact store: log the local folder instead
        return False


def local_artifact_sha256(source: str) -> str | None:
    """The model file's SHA-256 of a ``file://`` artifact folder, else None."""
    from urllib.parse import unquote, urlparse

    if not source.startswith("file:"):
        return None
    folder = Path(unquote(urlparse(source).path))
    return model_sha256(folder) if (folder / "MLmodel").exists() else None


def log_folder(client: MlflowClient, experiment: str, folder: Path, tags: dict[str, str]) -> tuple[str, str]:
    """Log a model folder as the artifacts of a new run; return the run and the model's URI."""
    run = retry(lambda: client.create_run(experiment, tags={**tags, "mlflow.runName": "register"}),
                "start a registration run")
    run_id = run.info.run_id
    retry(lambda: client.log_artifacts(run_id, str(folder), "model"), "log the model folder")
    retry(lambda: client.set_terminated(run_id), "finish the registration run")
    return run_id, f"{run.info.artifact_uri.rstrip('/')}/model"


def log_metrics(client: MlflowClient, run_id: str, metrics: dict[str, float]) -> None:
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    batch = [Metric(f"test_{k}", v, stamp, 0) for k, v in metrics.items()]
    retry(lambda: client.log_batch(run_id, metrics=batch), "log the test metrics")


def model_sha256(folder: Path) -> str:
    """SHA-256 of the serialized model file the folder's MLmodel names (model.skops, model.pkl)."""
    import yaml

    from mlgate.data.io import file_sha256

    try:
        flavors = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8")).get("flavors", {})
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise ModelLoadError(f"{folder / 'MLmodel'} cannot be read: {exc}") from exc
    name = (flavors.get("sklearn", {}).get("pickled_model")
            or flavors.get("python_function", {}).get("model_path"))
    candidates = [folder / name] if name else sorted(folder.glob("model.*"))
    files = [p for p in candidates if p.is_file()]
    if not files:
        raise ModelLoadError(f"{folder} holds no serialized model file (looked for {name or 'model.*'})")
    return file_sha256(files[0])


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
