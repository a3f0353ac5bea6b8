"""Load a model for serving without importing MLflow (which costs about 1.6 s per worker).

A ``models:/`` or ``runs:/`` URI is resolved through MLflow once, in the parent process, to
a local model folder and a registry version; each worker then reads that folder directly:
``MLmodel`` names the serialized file (``model.skops`` with its ``skops_trusted_types``, or a
pickle/cloudpickle ``model.pkl``; ``mlgate.security.folders`` reads it) and ``mlgate.json``
holds features, dtypes and metrics.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import ModelLoadError
from mlgate.models import METADATA_FILE, PICKLE_SUFFIXES, read_metadata
from mlgate.security.allowlist import policy_from
from mlgate.security.folders import (
    TRUST_UNPINNED_ENV,
    check_pin,
    concrete_uri,
    export_trusted_types,
    load_path,
    pinned_version,
    refuse_unsafe,
    require_mlmodel,
    require_pin,
    verify_if_configured,
)
from mlgate.tracking import quiet_mlflow, setup_mlflow

if TYPE_CHECKING:
    from mlgate.config import Config


@dataclass(frozen=True)
class ResolvedModel:
    """Where a served model lives on disk, and which registry version it is."""

    spec: str
    path: str
    version: str
    sha256: str | None = None  # the registered pin the file was checked against


# The pins checked in this process, by model folder, so whoever loads a folder later (a worker,
# a staged slot) checks the bytes it loads against the same pin, not only the parent's read.
_PINS: dict[str, str] = {}


def pin_of(path: str) -> str | None:
    """The registered SHA-256 a folder resolved in this process was checked against, if any."""
    return _PINS.get(str(Path(path).resolve()))


def resolve_model(spec: str, config: Config | None = None, version: str | None = None, *,
                  trust: bool = False) -> ResolvedModel:
    """Turn a path or registry URI into a local model path and a version string.

    Only registry URIs import MLflow. A registry model with no recorded hash is refused unless
    ``trust`` (``mlgate serve --trust``) or ``MLGATE_TRUST_UNPINNED=1``. A folder's version is
    ``--model-version`` when given, else ``version`` in its ``mlgate.json``, else ``"local"``.
    """
    if spec.startswith(("models:/", "runs:/")):
        local, registry_version = _download(spec, config, trust)
        _verify(Path(local), config, spec)
        return ResolvedModel(spec, local, version or registry_version or "local", pin_of(local))
    path = Path(spec).expanduser()
    if not path.is_absolute() and config is not None and not path.exists():
        path = config.resolve(path)
    if not path.exists():
        raise ModelLoadError(f"model path {path} does not exist; give an MLflow model folder, "
                             "a .joblib/.pkl file, or a models:/NAME@ALIAS URI")
    _verify(path, config, spec)
    meta = read_metadata(path) if path.is_dir() else {}
    return ResolvedModel(spec, str(path.resolve()), version or str(meta.get("version") or "local"))


def _download(uri: str, config: Config | None, trust: bool = False) -> tuple[str, str | None]:
    """Fetch a registry or run model to a local folder (MLflow's cache); no model is loaded here."""
    quiet_mlflow()
    import mlflow
    from mlflow.tracking import MlflowClient

    if config is not None:
        setup_mlflow(config)

    try:
        version, pin = pinned_version(uri, MlflowClient())
        local = mlflow.artifacts.download_artifacts(artifact_uri=concrete_uri(uri, version))
    except ModelLoadError:
        raise
    except Exception as exc:  # MLflow raises its own exception types for missing names
        raise ModelLoadError(f"cannot resolve {uri} in the registry at {mlflow.get_tracking_uri()}: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    # serve (and deploy, which serves through here) refuses a model whose file nothing pinned
    require_pin(uri, pin, trust=trust or os.environ.get(TRUST_UNPINNED_ENV) == "1", what="served")
    if pin:  # serve refuses to start on a file that is not the one registered
        check_pin(Path(local), pin, uri)
        _PINS[str(Path(local).resolve())] = pin
    return local, version


def _verify(path: Path, config: Config | None, source: str) -> None:
    """Signature (when configured) before the server starts; workers inherit the trusted types."""
    verify_if_configured(path, config, source)
    export_trusted_types(config)
    refuse_unsafe(path, config)  # the parent refuses before any worker starts


def load_estimator(path: Path, expected_sha256: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The estimator and the ``mlgate.json`` metadata of a model folder or pickle file.

    With ``expected_sha256`` (a registered version's pin) the bytes that are loaded are the
    bytes that were hashed: a file changed after the parent checked it is refused here.
    """
    if path.is_file():
        if path.suffix.lower() not in PICKLE_SUFFIXES:
            raise ModelLoadError(f"{path}: unknown model file type {path.suffix!r}; "
                                 f"use {', '.join(PICKLE_SUFFIXES)} or an MLflow model folder")
        return _checked_load(path, expected_sha256), {}

    # MLmodel is read once, by mlgate.security.folders (the folder's sklearn flavor names the file)
    estimator = _checked_load(require_mlmodel(path), expected_sha256)
    info = read_metadata(path) if (path / METADATA_FILE).exists() else {}
    return estimator, info


def _checked_load(path: Path, expected_sha256: str | None) -> Any:
    """Through mlgate's fail-closed loader; skops types from mlgate's list, never from MLmodel."""
    return load_path(path, policy_from(), expected_sha256=expected_sha256)
