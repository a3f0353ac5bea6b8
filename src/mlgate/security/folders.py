"""MLflow model folders and registry versions through the fail-closed loader.

An MLflow folder's ``MLmodel`` names the serialized file and its format (``model.skops``,
or a pickle/cloudpickle ``model.pkl``). This module is the one reader of ``MLmodel`` files
(``read_mlmodel``; serve, register, models and the scan all ask it), and it only parses YAML:
nothing is unpickled before the file it names has been checked. mlgate reads that file itself, through
:mod:`mlgate.security.loader`, instead of ``mlflow.sklearn.load_model`` (which unpickles
with no check and takes skops' trusted types from the folder that is being checked).

A registered version is pinned: ``mlgate.model_sha256`` on the version must equal the
SHA-256 of the file that is about to be loaded. With ``security.public_key`` configured, a
folder must also carry a valid OpenSSF signature (``model.sig``, see ``signing``).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import ModelLoadError
from mlgate.security.allowlist import TRUST_ENV, TrustPolicy, policy_from
from mlgate.security.loader import Inspection, ModelRefused, file_format, inspect_file, load_file, read_checked
from mlgate.security.signing import verify_model

if TYPE_CHECKING:
    from mlgate.config import Config

MLMODEL = "MLmodel"
PIN_TAG = "mlgate.model_sha256"
TRUST_UNPINNED_ENV = "MLGATE_TRUST_UNPINNED"


@dataclass(frozen=True)
class ModelFile:
    """The serialized file of a model folder and its format."""

    path: Path
    format: str


def policy_for(config: Config | None, *, trust_all: bool = False) -> TrustPolicy:
    """The trust policy of a command: the config's ``security.trusted_types`` plus ``--trust-type``."""
    extra = _security(config).trusted_types if config is not None else []
    return policy_from(extra, trust_all=trust_all)


def require_mlmodel(folder: Path) -> Path:
    """``folder``, after checking it is an MLflow model folder (it holds an ``MLmodel`` file)."""
    if not (folder / MLMODEL).is_file():
        raise ModelLoadError(f"{folder} is a folder without an MLmodel file, so not an MLflow model")
    return folder


def read_mlmodel(folder: Path) -> dict[str, Any]:
    """The parsed ``folder/MLmodel`` (YAML, safely loaded: no object is built from it)."""
    import yaml  # pyyaml: only a folder's loader needs it, not a server worker's start

    mlmodel = require_mlmodel(folder) / MLMODEL
    try:
        spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ModelLoadError(f"cannot read {mlmodel}: {exc}") from exc
    if not isinstance(spec, dict):
        raise ModelLoadError(f"{mlmodel} is not a YAML mapping of MLflow model fields")
    return spec


def flavors(folder: Path) -> dict[str, Any]:
    """The ``flavors`` section of ``folder/MLmodel`` (``{}`` when it has none)."""
    found = read_mlmodel(folder).get("flavors")
    return found if isinstance(found, dict) else {}


def signature_inputs(folder: Path) -> list[dict[str, Any]]:
    """The input columns of the folder's MLflow signature (``[]`` without a readable one)."""
    if not folder.is_dir() or not (folder / MLMODEL).is_file():
        return []
    try:
        inputs = (read_mlmodel(folder).get("signature") or {}).get("inputs")
        parsed = json.loads(inputs) if isinstance(inputs, str) else []
    except (ModelLoadError, ValueError, AttributeError):
        return []
    return [p for p in parsed if isinstance(p, dict)] if isinstance(parsed, list) else []


def model_file(folder: Path) -> ModelFile:
    """The file ``folder/MLmodel`` names in its sklearn flavor, and how it is serialized."""
    mlmodel = folder / MLMODEL
    found = flavors(folder)
    flavor = found.get("sklearn")
    if not isinstance(flavor, dict):
        raise ModelRefused(f"{mlmodel} has no sklearn flavor (flavors: {sorted(found)}); mlgate "
                           "loads scikit-learn, LightGBM and XGBoost models saved with the sklearn flavor, "
                           "whose file it can check before loading")
    name = str(flavor.get("pickled_model", "model.pkl"))
    file = (folder / name).resolve()
    if folder.resolve() not in file.parents:
        raise ModelRefused(f"{mlmodel} names {name!r}, which is outside the model folder")
    fmt = str(flavor.get("serialization_format", "cloudpickle"))
    return ModelFile(file, "skops" if fmt == "skops" else "pickle")


def inside_links_only(folder: Path) -> Path:
    """``folder``, after checking that no symbolic link in it points outside it (else refused, naming the link)."""
    root = folder.resolve()
    for current, dirs, files in os.walk(folder, followlinks=False):
        for entry in (*dirs, *files):
            path = Path(current) / entry
            if path.is_symlink():
                target = path.resolve()
                if target != root and root not in target.parents:
                    raise ModelRefused(f"{path} is a symbolic link to {target}, outside the model folder {folder}; "
                                       "refused, so nothing from outside the folder is read or copied")
    return folder


def inspect_folder(folder: Path, policy: TrustPolicy) -> Inspection:
    """Check a folder's model file without loading it."""
    inside_links_only(folder)
    found = model_file(folder)
    return inspect_file(found.path, policy, found.format)


def load_folder(folder: Path, policy: TrustPolicy, *, expected_sha256: str | None = None) -> Any:
    """The estimator of an MLflow model folder, checked before it is built."""
    inside_links_only(folder)
    found = model_file(folder)
    if not found.path.is_file():
        raise ModelLoadError(f"{folder / 'MLmodel'} names {found.path.name}, which does not exist")
    return load_file(found.path, policy, fmt=found.format, expected_sha256=expected_sha256)


def load_path(path: Path, policy: TrustPolicy, *, expected_sha256: str | None = None) -> Any:
    """A folder or a single .joblib/.pkl/.skops file."""
    if path.is_dir():
        return load_folder(path, policy, expected_sha256=expected_sha256)
    return load_file(path, policy, fmt=file_format(path), expected_sha256=expected_sha256)


def refuse_unsafe(path: Path, config: Config | None) -> None:
    """Raise the loader's refusal for a folder or file that would not load, without loading it."""
    policy = policy_for(config)
    if policy.trust_all or not path.exists():
        return
    found = inspect_folder(path, policy) if path.is_dir() else inspect_file(path, policy)
    if not found.safe:
        raise found.refusal()


def check_pin(folder: Path, expected_sha256: str | None, source: str) -> None:
    """Refuse a folder whose model file does not hash to the registered pin (no loading)."""
    if not expected_sha256:
        print(f"WARNING: {source} has no {PIN_TAG} tag, so its file cannot be checked against a pinned hash",
              file=sys.stderr)
        return
    try:
        read_checked(model_file(folder).path, expected_sha256)
    except ModelRefused as exc:
        raise ModelRefused(f"{source}: {exc}") from None


def pinned_version(uri: str, client: Any = None) -> tuple[str | None, str | None]:
    """The registry version a ``models:/`` or ``runs:/`` URI stands for, and its pinned SHA-256.

    Every form resolves to one version: ``models:/NAME@ALIAS``, ``models:/NAME/3``,
    ``models:/NAME/latest`` (the highest version), ``models:/NAME/STAGE`` (the newest version in
    that stage) and ``runs:/RUN_ID/PATH`` (the version registered from that run's artifact). A URI
    no version matches gives ``(None, None)``: nothing recorded a hash for it.
    """
    if not uri.startswith(("models:/", "runs:/")):
        return None, None
    if client is None:
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
    try:
        version = _runs_version(client, uri) if uri.startswith("runs:/") else _models_version(client, uri)
    except Exception as exc:  # MLflow raises its own types for a missing name or alias
        raise ModelLoadError(f"cannot resolve {uri} in the registry: {str(exc).splitlines()[0]}") from exc
    if version is None:
        return None, None
    return str(version.version), (version.tags or {}).get(PIN_TAG)


def _models_version(client: Any, uri: str) -> Any:
    body = uri.removeprefix("models:/").rstrip("/")
    name, at, alias = body.partition("@")
    if at:
        return client.get_model_version_by_alias(name, alias)
    name, _, ref = body.rpartition("/")
    if ref.isdigit():
        return client.get_model_version(name, ref)
    if ref.lower() == "latest":
        versions = client.search_model_versions(f"name='{name}'")
        return max(versions, key=lambda v: int(v.version)) if versions else None
    staged = client.get_latest_versions(name, stages=[ref])  # a stage name, as MLflow resolves it
    return staged[0] if staged else None


def _runs_version(client: Any, uri: str) -> Any:
    run_id, _, path = uri.removeprefix("runs:/").partition("/")
    path = path.strip("/")
    matches = [v for v in client.search_model_versions(f"run_id='{run_id}'")
               if str(v.source).rstrip("/").endswith("/" + path) or str(v.source).rstrip("/") == uri.rstrip("/")]
    pinned = [v for v in matches if (v.tags or {}).get(PIN_TAG)]
    return (pinned or matches or [None])[0]


def concrete_uri(uri: str, version: str | None) -> str:
    """``models:/NAME/VERSION`` for a ``models:/`` URI resolved to a version (what is downloaded and checked)."""
    if version is None or not uri.startswith("models:/"):
        return uri
    body = uri.removeprefix("models:/").rstrip("/")
    name = body.partition("@")[0] if "@" in body else body.rpartition("/")[0]
    return f"models:/{name}/{version}"


def require_pin(uri: str, pin: str | None, *, trust: bool, what: str) -> None:
    """Serving and deploying refuse a registry model with no recorded hash unless ``--trust``."""
    if pin:
        return
    if trust:
        print(f"WARNING: --trust: {uri} has no {PIN_TAG} tag; it is {what} without a hash check", file=sys.stderr)
        return
    raise ModelRefused(f"{uri} has no recorded hash ({PIN_TAG} on a registry version, set by `mlgate register`), "
                       f"so the file cannot be checked before it is {what}; register it with mlgate, or pass "
                       f"--trust (or set {TRUST_UNPINNED_ENV}=1) to accept it unchecked")


def verify_if_configured(path: Path, config: Config | None, source: str) -> None:
    """Verify the model's signature when ``security.public_key`` is configured."""
    if config is None or not _security(config).public_key:
        return

    verify_model(path, config.resolve(str(_security(config).public_key)), source=source)


def export_trusted_types(config: Config | None) -> None:
    """Put the config's trusted types into ``MLGATE_TRUST_TYPES`` so server workers load with them."""
    if config is None or not _security(config).trusted_types:
        return
    current = [t for t in os.environ.get(TRUST_ENV, "").split(",") if t]
    os.environ[TRUST_ENV] = ",".join(dict.fromkeys([*current, *_security(config).trusted_types]))


def _security(config: Config) -> Any:
    from mlgate.config import SecurityConfig  # not at the top: a serving worker needs no config models

    return getattr(config, "security", None) or SecurityConfig()
