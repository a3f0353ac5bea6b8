"""The reference profile: built at registration, stored beside the model, found again by monitor.

At ``register`` the training data, the model's predictions on it and the target are profiled,
and the evaluation baseline (the model's errors on the test data) is added, so monitoring never
needs the raw training data. The profile is logged as the artifact ``mlgate-monitor/profile.json``
of the version's run, and written into the register stage's folder. A version registered by hand
(``mlgate register --model PATH``) is profiled from ``--data`` (its training rows) or else from
mlgate.yaml's data; with neither, it gets no profile and monitor needs ``--reference`` with data.

``--reference`` takes ``models:/NAME@ALIAS`` (or ``models:/NAME/VERSION``), a ``profile.json``,
or a data file or folder (profiled on the spot, without predictions or baseline).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.config import flags_only_config
from mlgate.data.io import load_dataset, load_table
from mlgate.errors import DataError, MlgateError, RegistryError
from mlgate.locations.dvc import tracked
from mlgate.locations.refs import DataRef, as_ref
from mlgate.models import load_model
from mlgate.monitor.batches import as_source, frame_source, profile_reference
from mlgate.monitor.profile import EXACT_MAX, TableProfile
from mlgate.registry.store import open_store, retry
from mlgate.registry.uri import parse_model_uri, resolve_version
from mlgate.reports.model import Check

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlgate.config import Config
    from mlgate.models import LoadedModel

PROFILE_ARTIFACT_DIR = "mlgate-monitor"
PROFILE_FILE = "profile.json"
PREDICTION = "prediction"


def build_reference(train: pd.DataFrame, *, target: str | None = None, id_columns: tuple[str, ...] = (),
                    model: LoadedModel | None = None, test: pd.DataFrame | None = None) -> TableProfile:
    """Profile the training features, the model's scores on them and the target; add the baseline."""
    frame = train.drop(columns=[c for c in (target,) if c and c in train.columns])
    features = list(frame.columns)
    roles: dict[str, Any] = {}
    task = model.task if model is not None else None
    if model is not None:
        frame = frame.assign(**{PREDICTION: scores(model, frame[_model_features(model, features)])})
        roles[PREDICTION] = "prediction"
    if target and target in train.columns:
        frame = frame.assign(**{target: train[target].to_numpy()})
        roles[target] = "target"
    profile = profile_reference(frame_source(frame), roles=roles, ignore=id_columns, where="the training data")
    profile.meta.update({"created": datetime.now(UTC).isoformat(timespec="seconds"), "target": target,
                         "task": task, "prediction": PREDICTION if model is not None else None,
                         "id_columns": list(id_columns)})
    if model is not None and test is not None and target and target in test.columns:
        profile.meta["baseline"] = baseline(model, test, target, features)
    return profile


def scores(model: LoadedModel, frame: pd.DataFrame) -> np.ndarray:
    """What monitor compares as "the predictions": the positive-class probability of a binary
    classifier (as the server's ``probability``), else the predicted label or value."""
    import numpy as np

    est = model.estimator
    if model.task == "binary" and hasattr(est, "predict_proba"):
        return np.asarray(est.predict_proba(frame))[:, -1].astype(float)
    out = np.asarray(est.predict(frame))
    return out.astype(str) if model.task == "multiclass" else out.astype(float)


def baseline(model: LoadedModel, test: pd.DataFrame, target: str, features: list[str]) -> dict[str, Any]:
    """The evaluation baseline live performance is judged against: correct predictions out of the
    test rows (classification), or the absolute errors while few (regression)."""
    import numpy as np

    x = test[_model_features(model, features)]
    predicted = np.asarray(model.estimator.predict(x))
    actual = test[target].to_numpy()
    if model.task in ("binary", "multiclass"):
        correct = int(np.sum(predicted.astype(str) == actual.astype(str)))
        return {"metric": "accuracy", "k": correct, "n": len(actual), "value": correct / max(len(actual), 1)}
    errors = np.abs(predicted.astype(float) - actual.astype(float))
    rng = np.random.default_rng(0)
    kept = errors if len(errors) <= EXACT_MAX else rng.choice(errors, EXACT_MAX, replace=False)
    return {"metric": "mae", "n": len(errors), "value": float(errors.mean()), "errors": kept.tolist()}


def _model_features(model: LoadedModel, available: list[str]) -> list[str]:
    wanted = model.features or available
    missing = [c for c in wanted if c not in available]
    if missing:
        raise DataError(f"the model needs the feature(s) {', '.join(map(repr, missing))}, "
                        "which the training data lacks")
    return wanted


# ---- at registration ------------------------------------------------------------------------


def store_at_registration(config: Config, model_folder: Path, run_id: str | None, out_dir: Path) -> Path:
    """Profile the project's data with the registered model; write it to ``out_dir`` and log it
    as an artifact of the version's run."""
    dataset = load_dataset(config)
    model = load_model(model_folder)
    profile = build_reference(dataset.train, target=config.data.target, id_columns=tuple(config.data.id_columns),
                              model=model, test=dataset.test)
    return _store(profile, config, run_id, out_dir)


def store_from_data(config: Config, model_folder: Path, data: DataRef, run_id: str | None, out_dir: Path) -> Path:
    """Profile ``data`` (the training rows given as ``--data``) with the registered model.

    Only the model's features and the target are profiled; other columns (ids, timestamps) are
    recorded as ignored, so current data may carry them. No evaluation baseline: there is no test data."""
    frame = load_table(data)
    model = load_model(model_folder)
    target = str(model.info.get("target") or config.data.target)
    used = set(model.features or frame.columns) | {target}
    ignored = tuple(dict.fromkeys([*config.data.id_columns, *(str(c) for c in frame.columns if c not in used)]))
    profile = build_reference(frame, target=target, id_columns=ignored, model=model)
    profile.meta["source"] = str(data)
    return _store(profile, config, run_id, out_dir)


def _store(profile: TableProfile, config: Config, run_id: str | None, out_dir: Path) -> Path:
    path = profile.write(out_dir / PROFILE_FILE)
    if run_id:
        client = open_store(config)
        retry(lambda: client.log_artifact(run_id, str(path), PROFILE_ARTIFACT_DIR), "log the monitor profile")
    return path


NO_TRAINING_DATA = ("no monitor profile stored: no training data to profile (pass --data TRAIN_FILE, or register "
                    "inside a project whose mlgate.yaml names its data); `mlgate monitor` then needs --reference "
                    "with the training data (a file or folder) or a profile.json")


def profile_check(config: Config, model_folder: Path, run_id: str | None, out_dir: Path,
                  data: DataRef | None = None, *, project_data: bool = True) -> Check:
    """Store the monitor profile of a version just registered (by the pipeline, or by hand with
    ``mlgate register``), as a check: from ``--data`` when given, else from mlgate.yaml's training
    data (unless ``project_data`` is false: a config made from flags); a warning when neither exists
    or profiling fails (the version exists already, so that never fails the registration)."""
    if data is None and not project_data:  # a bare folder: no mlgate.yaml names the data
        return Check(name="monitor_profile", passed=False, severity="warning", message=NO_TRAINING_DATA)
    if data is not None:
        note = _safely(lambda: store_from_data(config, model_folder, data, run_id, out_dir))
    else:
        note = _safely(lambda: store_at_registration(config, model_folder, run_id, out_dir))
    stored = note.startswith("monitor profile ")
    return Check(name="monitor_profile", passed=stored, severity="info" if stored else "warning", message=note)


# ---- finding it again -----------------------------------------------------------------------


def load_reference(spec: str, config: Config | None, root: Path) -> TableProfile:
    """The reference profile behind ``--reference``: a registry URI, a profile.json, or data."""
    if spec.startswith("models:/"):
        return _from_registry(spec, config, root)
    path = as_ref(spec, root)
    if isinstance(path, Path) and not path.exists() and tracked(path) is None:
        raise DataError(f"--reference {spec}: {path} does not exist; give models:/NAME@ALIAS, "
                        "a profile.json written at registration, or a data file or folder")
    if isinstance(path, Path) and path.suffix.lower() == ".json":
        return TableProfile.read(path)
    source = as_source(path)
    ids = tuple(config.data.id_columns) if config else ()
    target = config.data.target if config else None
    names = source.schema.names
    roles: dict[str, Any] = {target: "target"} if target and target in names else {}
    dates = tuple(getattr(source, "dates", ()))  # CSV dates, read as text: left out as Parquet dates are
    profile = profile_reference(source, roles=roles, ignore=[*ids, *dates], where=str(path))
    profile.meta.update({"target": target if roles else None, "id_columns": list(ids), "source": str(path)})
    return profile


def _from_registry(uri: str, config: Config | None, root: Path) -> TableProfile:
    parts = parse_model_uri(uri)
    if parts is None or not parts.name or (parts.alias is None and parts.version is None):
        raise DataError(f"--reference {uri}: expected models:/NAME@ALIAS or models:/NAME/VERSION")
    client = open_store(config or flags_only_config(root, parts.name))
    try:
        mv = client.get_model_version(parts.name, resolve_version(uri, client) or "")
    except Exception as exc:  # MLflow raises its own exception types for unknown names
        raise RegistryError(f"--reference {uri}: the registry has no such version "
                            f"({str(exc).splitlines()[0]})") from exc
    if not mv.run_id:
        raise RegistryError(f"--reference {uri}: version {mv.version} has no run to hold a monitor profile")
    with tempfile.TemporaryDirectory(prefix="mlgate-monitor-") as tmp:
        try:
            local = client.download_artifacts(mv.run_id, f"{PROFILE_ARTIFACT_DIR}/{PROFILE_FILE}", tmp)
        except Exception as exc:
            raise RegistryError(f"--reference {uri}: version {mv.version} has no monitor profile "
                                f"({PROFILE_ARTIFACT_DIR}/{PROFILE_FILE}): it was registered without training "
                                "data (mlgate register --model without --data, outside a project) or before "
                                "mlgate stored profiles. Pass --reference with the training data (a file or "
                                "folder) or a profile.json, or register it again with --data TRAIN_FILE") from exc
        profile = TableProfile.read(Path(local))
    profile.meta.update({"model": parts.name, "version": str(mv.version), "reference": uri})
    return profile


def _safely(store: Callable[[], Path]) -> str:
    try:
        return f"monitor profile {store()}"
    except MlgateError as exc:
        return f"no monitor profile stored: {exc}"
    except Exception as exc:  # the version exists already: a failed profile must not fail the registration
        return f"no monitor profile stored: unexpected {type(exc).__name__}: {exc}"
