"""Registering a model: a registry version with lineage tags, metrics and an alias.

A version carries the tags ``mlgate.git_commit``, ``mlgate.ci_job_id``,
``mlgate.data_fingerprint``, ``mlgate.model_sha256`` and ``mlgate.gates`` (JSON of each
upstream gate's verdict), so any MLflow client can audit it. Its metrics are logged on the
version's run as ``test_<metric>`` and copied into the ``mlgate.metrics`` tag.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.data.io import frame_fingerprint, load_table
from mlgate.errors import ModelLoadError, UsageError
from mlgate.models import PICKLE_SUFFIXES, read_metadata, save_model
from mlgate.monitor.reference import profile_check
from mlgate.registry.store import (
    create_version,
    ensure_registered_model,
    existing_run_source,
    local_artifact_sha256,
    log_folder,
    log_metrics,
    model_sha256,
    open_store,
    retry,
    set_alias_or_undo,
)
from mlgate.reports.model import Check, Report
from mlgate.security.folders import inside_links_only, inspect_folder, policy_for, require_mlmodel
from mlgate.security.loader import load_file
from mlgate.security.signing import sign_registration
from mlgate.tasks import task_of_model
from mlgate.tracking import ci_job_id, experiment_id, lineage_tags

if TYPE_CHECKING:
    from mlgate.config import Config
    from mlgate.context import StageContext
    from mlgate.locations.refs import DataRef

REGISTERED_FILE = "registered.json"


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


def version_tags(config: Config | None, info: dict[str, Any], gates: dict[str, dict[str, Any]],
                 root: Path | None = None) -> dict[str, str]:
    """The ``mlgate.*`` tags of a version (plus ``registry.tags`` from the config)."""
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


def evaluation_metrics(folder: Path | None) -> dict[str, float]:
    if folder is None:
        return {}
    try:
        body = json.loads((Path(folder) / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return numbers({k: v.get("value") for k, v in body.get("metrics", {}).items()})


def numbers(values: dict[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}


def register(config: Config, request: Registration) -> Registered:
    """Create a registry version of ``request.folder`` (or of the train run's model), tag it, alias it."""
    if request.folder is not None and request.folder.is_dir():
        inside_links_only(request.folder)  # a link to ~/.aws/credentials must not reach the shared store
    client = open_store(config)
    tags = dict(request.tags)
    if request.metrics:
        tags["mlgate.metrics"] = json.dumps({k: round(v, 6) for k, v in request.metrics.items()})
    ensure_registered_model(client, request.name)
    run_id, source = existing_run_source(client, request.model_uri)
    # hash what the version will serve: the train run's artifact when it is a local file
    digest = local_artifact_sha256(source) or model_sha256(request.folder)
    tags["mlgate.model_sha256"] = digest

    signature = sign_registration(config, request.folder, source, client, run_id)
    if signature:
        tags["mlgate.signature"] = signature
    if run_id is None:
        experiment = retry(lambda: experiment_id(config, client), "find the experiment")
        run_id, source = log_folder(client, experiment, request.folder, tags)
    if request.metrics:
        log_metrics(client, run_id, request.metrics)
    if request.model_uri and source:
        # the train run's model: MLflow resolves the URI and links the version to the run
        import mlflow
        from mlflow.utils.logging_utils import disable_logging, enable_logging

        uri = request.model_uri
        disable_logging()  # register_model prints "Created version ..." to stderr; mlgate reports it itself
        try:
            version = create_version(
                client, request.name, tags,
                lambda: mlflow.register_model(uri, request.name, await_registration_for=0, tags=tags),
                f"register {uri} as {request.name!r}")
        finally:
            enable_logging()
        source = str(version.source)
    else:
        # the version and all its tags in one call: one transaction in the store, never a bare version
        version = create_version(client, request.name, tags,
                                 lambda: client.create_model_version(request.name, source, run_id=run_id, tags=tags),
                                 f"create a version of {request.name!r}")
    number = str(version.version)
    alias = request.alias
    if alias:
        set_alias_or_undo(client, request.name, alias, number)
    return Registered(request.name, number, request.alias, f"models:/{request.name}/{number}", run_id,
                      source, digest, tags)


# ---- models from outside the pipeline ----------------------------------------------------


@dataclass(frozen=True)
class RegisterOptions:
    """``mlgate register``'s flags that are no config key; ``mlgate run`` registers with the defaults."""

    trust: bool = False  # load a pickle without the model loader's import allow list
    # --data: the rows the model was trained on, fingerprinted for the lineage tag, profiled as the
    # monitor reference and sampled for the input example (None: mlgate.yaml's training data)
    training_data: DataRef | None = None


def register_outside(ctx: StageContext, options: RegisterOptions | None = None) -> Report:
    """``mlgate register --model PATH``: register an MLflow model folder or a joblib/pickle file."""
    opts = options or RegisterOptions()
    config, spec, trust, training = ctx.config, ctx.candidate_spec(), opts.trust, opts.training_data
    path = Path(spec).expanduser()
    if spec.startswith(("models:/", "runs:/")) or not path.exists():
        raise UsageError(f"--model {spec}: give an MLflow model folder or a .joblib/.pkl file that exists")
    with tempfile.TemporaryDirectory(prefix="mlgate-register-") as tmp:
        if path.is_dir():
            folder, info = require_mlmodel(path), read_metadata(path)
            if not trust:  # the pickle inside a folder is checked like a bare one, before registering

                inspection = inspect_folder(folder, policy_for(config))
                if not inspection.safe:
                    raise inspection.refusal()
        elif path.suffix.lower() in PICKLE_SUFFIXES:
            folder, info = wrap_pickle(path, Path(tmp) / "model", trust=trust, config=config,
                                       example_from=_example_source(ctx, training))
        else:
            raise ModelLoadError(f"{path}: unknown model file type {path.suffix!r}; use "
                                 f"{', '.join(PICKLE_SUFFIXES)} or an MLflow model folder")
        if training is not None:  # --data: the training rows, fingerprinted for the lineage tag

            info["data_fingerprint"] = frame_fingerprint(load_table(training))
        request = Registration(folder, config.model_name, config.registry.alias,
                               model_uri=info.get("model_uri"), metrics=numbers(info.get("metrics", {})),
                               tags={**version_tags(config, info, {}), "mlgate.source": str(path.resolve())})
        result = register(config, request)

        profile = profile_check(config, folder, result.run_id, ctx.out_dir, training,
                                project_data=config.source is not None)
    result.write(ctx.out_dir)
    report = registration_report(result, {})
    report.add(profile)
    report.extras["monitor_profile"] = profile.message
    return report


def _example_source(ctx: StageContext, training: DataRef | None) -> tuple[Path, str] | None:
    """Where a hand-registered model's input example comes from: ``--data`` (``training``), else
    mlgate.yaml's training data (when there is a config and the file exists), as (path, how to name it)."""
    if training is not None:
        return Path(training), f"--data {training}"
    data = ctx.config.data
    rel = data.path or data.train
    if ctx.config.source is None or not rel or not ctx.config.resolve(rel).exists():
        return None
    return ctx.config.resolve(rel), f"data.{'path' if data.path else 'train'} of {ctx.config.source.name} ({rel})"


def input_example(estimator: Any, source: tuple[Path, str] | None, rows: int = 5) -> tuple[Any, str]:
    """A few rows of real data in the model's feature order, and where they came from.

    Without rows the server would try a row of zeros and empty strings, which a strict encoder
    refuses, so the deploy self-test could never pass. None when there is no data or it lacks a
    feature the model takes.
    """
    features = [str(c) for c in getattr(estimator, "feature_names_in_", [])]
    if source is None or not features:
        return None, ""

    frame = load_table(source[0])
    missing = [f for f in features if f not in frame.columns]
    if missing:
        return None, f"{source[1]} lacks the model's features {missing[:5]}"
    return frame[features].head(rows), source[1]  # the model's own column order, whatever the file's


def wrap_pickle(path: Path, folder: Path, *, trust: bool = False, config: Config | None = None,
                example_from: tuple[Path, str] | None = None) -> tuple[Path, dict[str, Any]]:
    """Check a joblib/pickle file, load it, and save it as an MLflow model folder with mlgate.json.

    ``example_from``: the data its input example is taken from (see ``input_example``).
    """
    estimator = load_file(path, policy_for(config, trust_all=trust))
    if not hasattr(estimator, "predict"):
        raise ModelLoadError(f"{path} holds a {type(estimator).__name__}, which has no predict()")
    features = [str(c) for c in getattr(estimator, "feature_names_in_", [])]
    classes = getattr(estimator, "classes_", None)
    task = task_of_model(estimator)
    info: dict[str, Any] = {"name": path.stem, "model_type": type(estimator).__name__, "task": task,
                            "features": features, "source_file": str(path.resolve())}
    if classes is not None:
        info["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
    example, origin = input_example(estimator, example_from)
    info["input_example_source"] = origin if example is not None else (origin or "none given")
    save_model(estimator, folder, info, input_example=example)
    return folder, info
