"""The register stage: a registry version of the candidate with lineage tags, metrics and an alias.

A version carries the tags ``mlgate.git_commit``, ``mlgate.ci_job_id``,
``mlgate.data_fingerprint``, ``mlgate.model_sha256`` and ``mlgate.gates`` (JSON of each
upstream gate's verdict), so any MLflow client can audit it. Its metrics are logged on the
version's run as ``test_<metric>`` and copied into the ``mlgate.metrics`` tag.

Several CI jobs may register at once. MLflow numbers versions max+1 inside a transaction and
retries a clash three times; SQLite may also answer "database is locked". Every write here
is retried with jittered exponential backoff, so each job gets its own version.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mlgate.errors import ModelLoadError, RegistryError, UsageError
from mlgate.reports.model import Check, Report

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlgate.config import Config
    from mlgate.context import StageContext

REGISTERED_FILE = "registered.json"
GATE_STAGES = ("validate", "train", "test", "evaluate", "compare")
_TRANSIENT = ("database is locked", "giving up after", "integrityerror", "unique constraint",
              "deadlock", "could not serialize")
T = TypeVar("T")


@dataclass
class Registration:
    """What to register: a local MLflow model folder, and the train run's URI when there is one."""

    folder: Path
    name: str
    alias: str | None = "staging"
    model_uri: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Registered:
    """The result, written to ``registered.json``."""

    name: str
    version: str
    alias: str | None
    model_uri: str
    run_id: str | None
    source: str
    model_sha256: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def headline(self) -> str:
        return f"{self.name} v{self.version}" + (f" @{self.alias}" if self.alias else "")

    def write(self, out_dir: Path) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / REGISTERED_FILE
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path


# ---- the stage ---------------------------------------------------------------------------


def run_register_stage(ctx: StageContext) -> Report:
    """Register the train stage's model with the evaluation metrics and the gates' verdicts."""
    from mlgate.evaluation.inputs import candidate_path
    from mlgate.models import read_metadata

    t0 = time.perf_counter()
    folder = candidate_path(ctx)
    info = read_metadata(folder)
    gates = upstream_gates(ctx.upstream)
    failed = sorted(stage for stage, verdict in gates.items() if not verdict["passed"])
    if failed:  # never give a version to a model that did not pass its gates
        report = Report(stage="register", key_figure=f"not registered: {', '.join(failed)} failed")
        report.add(Check(name="upstream_gates", passed=False, observed=failed, expected=[],
                         message=f"not registered: the gate(s) {', '.join(failed)} did not pass"))
        report.duration_s = round(time.perf_counter() - t0, 3)
        return report
    metrics = _evaluation_metrics(ctx.upstream.get("evaluate")) or _numbers(info.get("metrics", {}))
    request = Registration(folder, ctx.config.model_name, ctx.config.registry.alias,
                           model_uri=info.get("model_uri"), metrics=metrics,
                           tags=version_tags(ctx.config, info, gates))
    ctx.progress(f"registering {request.name}", 0.3)
    result = register(ctx.config, request)
    result.write(ctx.out_dir)
    report = registration_report(result, gates)
    report.duration_s = round(time.perf_counter() - t0, 3)
    return report


def registration_report(result: Registered, gates: dict[str, dict[str, Any]]) -> Report:
    """The report: the version, its alias, and whether every upstream gate passed."""
    report = Report(stage="register", key_figure=result.headline,
                    metrics={"version": result.version},
                    extras={"registered": asdict(result), "gates": gates})
    report.add(Check(name="registered", passed=True, observed=result.model_uri,
                     message=f"registered {result.model_uri} (sha256 {result.model_sha256[:12]})"))
    if result.alias:
        report.add(Check(name="alias", passed=True, observed=result.alias,
                         message=f"alias {result.alias!r} points at version {result.version}"))
    failed = sorted(stage for stage, verdict in gates.items() if not verdict.get("passed"))
    report.add(Check(name="upstream_gates", passed=not failed, observed=failed, expected=[],
                     message=f"gates that did not pass: {', '.join(failed)}" if failed else
                     f"{len(gates)} upstream gate(s) passed" if gates else "no upstream gates (registered by hand)"))
    return report


def upstream_gates(upstream: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """``{stage: {passed, key_figure}}`` read from each upstream stage's report.json."""
    gates: dict[str, dict[str, Any]] = {}
    for stage, folder in sorted(upstream.items()):
        path = Path(folder) / "report.json"
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        gates[stage] = {"passed": bool(body.get("passed")), "key_figure": body.get("key_figure", "")}
    return gates


def version_tags(config: Config | None, info: dict[str, Any], gates: dict[str, dict[str, Any]],
                 root: Path | None = None) -> dict[str, str]:
    """The ``mlgate.*`` tags of a version (plus ``registry.tags`` from the config)."""
    from mlgate.tracking import ci_job_id, lineage_tags

    base = root or (config.root if config else Path.cwd())
    tags = lineage_tags(base)
    tags.setdefault("mlgate.git_commit", str(info.get("git_commit") or "unknown"))
    tags.setdefault("mlgate.ci_job_id", ci_job_id() or "local")
    tags["mlgate.data_fingerprint"] = str(info.get("data_fingerprint") or "unknown")
    tags["mlgate.gates"] = json.dumps({k: v["passed"] for k, v in gates.items()}, sort_keys=True)
    for key in ("model_type", "task", "trained_at"):
        if info.get(key):
            tags[f"mlgate.{key}"] = str(info[key])
    if config is not None:
        tags.update(config.registry.tags)
    return tags


def _evaluation_metrics(folder: Path | None) -> dict[str, float]:
    if folder is None:
        return {}
    try:
        body = json.loads((Path(folder) / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return _numbers({k: v.get("value") for k, v in body.get("metrics", {}).items()})


def _numbers(values: dict[str, Any]) -> dict[str, float]:
    import math

    return {str(k): float(v) for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}


# ---- registering -------------------------------------------------------------------------


def register(config: Config, request: Registration) -> Registered:
    """Create a registry version of ``request.folder`` (or of the train run's model), tag it, alias it."""
    from mlgate.tracking import experiment_id

    client = open_store(config)
    tags = dict(request.tags)
    if request.metrics:
        tags["mlgate.metrics"] = json.dumps({k: round(v, 6) for k, v in request.metrics.items()})
    _ensure_registered_model(client, request.name)
    run_id, source = _existing_run_source(client, request.model_uri)
    # hash what the version will serve: the train run's artifact when it is a local file
    digest = _local_artifact_sha256(source) or model_sha256(request.folder)
    tags["mlgate.model_sha256"] = digest
    if run_id is None:
        run_id, source = _log_folder(client, experiment_id(config, client), request.folder, tags)
    if request.metrics:
        _log_metrics(client, run_id, request.metrics)
    if request.model_uri and source:
        # the train run's model: MLflow resolves the URI and links the version to the run
        import mlflow
        from mlflow.utils.logging_utils import disable_logging, enable_logging

        uri = request.model_uri
        disable_logging()  # register_model prints "Created version ..." to stderr; mlgate reports it itself
        try:
            version = retry(lambda: mlflow.register_model(uri, request.name, await_registration_for=0, tags=tags),
                            f"register {uri} as {request.name!r}")
        finally:
            enable_logging()
        source = str(version.source)
    else:
        version = retry(lambda: client.create_model_version(request.name, source, run_id=run_id, tags=tags),
                        f"create a version of {request.name!r}")
    number = str(version.version)
    alias = request.alias
    if alias:
        retry(lambda: client.set_registered_model_alias(request.name, alias, number), f"set alias {alias!r}")
    return Registered(request.name, number, request.alias, f"models:/{request.name}/{number}", run_id,
                      source, digest, tags)


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
                raise RegistryError(f"cannot {what}: {_first_line(exc)}") from exc
            time.sleep(delay * (1 + random.random()))  # jitter keeps retrying jobs apart
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def _ensure_registered_model(client: MlflowClient, name: str) -> None:
    def create() -> None:
        try:
            client.create_registered_model(name)
        except Exception as exc:
            if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise

    retry(create, f"create the registered model {name!r}")


def _existing_run_source(client: MlflowClient, model_uri: str | None) -> tuple[str | None, str]:
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


def _local_artifact_sha256(source: str) -> str | None:
    """The model file's SHA-256 of a ``file://`` artifact folder, else None."""
    from urllib.parse import unquote, urlparse

    if not source.startswith("file:"):
        return None
    folder = Path(unquote(urlparse(source).path))
    return model_sha256(folder) if (folder / "MLmodel").exists() else None


def _log_folder(client: MlflowClient, experiment: str, folder: Path, tags: dict[str, str]) -> tuple[str, str]:
    """Log a model folder as the artifacts of a new run; return the run and the model's URI."""
    run = retry(lambda: client.create_run(experiment, tags={**tags, "mlflow.runName": "register"}),
                "start a registration run")
    run_id = run.info.run_id
    retry(lambda: client.log_artifacts(run_id, str(folder), "model"), "log the model folder")
    retry(lambda: client.set_terminated(run_id), "finish the registration run")
    return run_id, f"{run.info.artifact_uri.rstrip('/')}/model"


def _log_metrics(client: MlflowClient, run_id: str, metrics: dict[str, float]) -> None:
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


# ---- models from outside the pipeline ----------------------------------------------------


def register_path(config: Config, spec: str, *, name: str | None = None, alias: str | None = None,
                  data_fingerprint: str | None = None, trust: bool = False, out_dir: Path | None = None) -> Report:
    """``mlgate register --model PATH``: register an MLflow model folder or a joblib/pickle file."""
    import tempfile

    from mlgate.models import PICKLE_SUFFIXES, read_metadata

    t0 = time.perf_counter()
    path = Path(spec).expanduser()
    if spec.startswith(("models:/", "runs:/")) or not path.exists():
        raise UsageError(f"--model {spec}: give an MLflow model folder or a .joblib/.pkl file that exists")
    with tempfile.TemporaryDirectory(prefix="mlgate-register-") as tmp:
        if path.is_dir():
            if not (path / "MLmodel").exists():
                raise ModelLoadError(f"{path} is a folder without an MLmodel file, so not an MLflow model")
            folder, info = path, read_metadata(path)
        elif path.suffix.lower() in PICKLE_SUFFIXES:
            folder, info = wrap_pickle(path, Path(tmp) / "model", trust=trust)
        else:
            raise ModelLoadError(f"{path}: unknown model file type {path.suffix!r}; use "
                                 f"{', '.join(PICKLE_SUFFIXES)} or an MLflow model folder")
        if data_fingerprint:
            info["data_fingerprint"] = data_fingerprint
        request = Registration(folder, name or config.model_name, alias or config.registry.alias,
                               model_uri=info.get("model_uri"), metrics=_numbers(info.get("metrics", {})),
                               tags={**version_tags(config, info, {}), "mlgate.source": str(path.resolve())})
        result = register(config, request)
    if out_dir is not None:
        result.write(out_dir)
    report = registration_report(result, {})
    report.duration_s = round(time.perf_counter() - t0, 3)
    return report


def bare_config(name: str, root: Path) -> Config:
    """A config for registering without mlgate.yaml: the store from MLFLOW_TRACKING_URI or
    ``root/.mlgate/mlflow.db``, the experiment and model named ``name``."""
    from mlgate.config import config_from_dict

    # `data` is required by the schema; registering never reads it
    return config_from_dict({"project": name, "data": {"path": "."}}, root)


def wrap_pickle(path: Path, folder: Path, *, trust: bool = False) -> tuple[Path, dict[str, Any]]:
    """Scan a joblib/pickle file, load it, and save it as an MLflow model folder with mlgate.json."""
    from mlgate.models import save_model
    from mlgate.pickle_scan import safe_load

    estimator = safe_load(path, trust=trust)
    if not hasattr(estimator, "predict"):
        raise ModelLoadError(f"{path} holds a {type(estimator).__name__}, which has no predict()")
    features = [str(c) for c in getattr(estimator, "feature_names_in_", [])]
    classes = getattr(estimator, "classes_", None)
    task = "regression" if classes is None else "binary" if len(classes) == 2 else "multiclass"
    info: dict[str, Any] = {"name": path.stem, "model_type": type(estimator).__name__, "task": task,
                            "features": features, "source_file": str(path.resolve())}
    if classes is not None:
        info["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
    save_model(estimator, folder, info)
    return folder, info


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
