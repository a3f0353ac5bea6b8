"""pydantic models of ``mlgate.yaml``; errors point at the key path and line.

Every key has a default except ``data``; unknown keys are errors, so a misspelt key is
reported instead of silently ignored. Relative paths are resolved against the folder that
holds the config file (``Config.root``).
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from mlgate._paths import CONFIG_NAME, config_file
from mlgate.config_refs import check_references
from mlgate.errors import ConfigError
from mlgate.locations.refs import as_ref, unsupported_scheme
from mlgate.metrics import renamed_message
from mlgate.stats.settings import RuleSettings  # pydantic only: the methods load when a method is named

__all__ = ["CONFIG_NAME", "Config", "config_from_dict", "load_config"]
Task = Literal["binary", "multiclass", "regression"]
Thresholds = dict[str, float | dict[str, float]]
# Below a few hundred resamples a percentile interval's ends are noise, and one resample
# makes any difference "significant": fewer is a config error (0 switches evaluate's off).
MIN_BOOTSTRAP = 200


class _Strict(BaseModel):
    # protected_namespaces=(): pydantic < 2.10 warns on every start-up about `model_name` and
    # `model_type` keys otherwise (found by the lower-bounds job, pydantic 2.6)
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class Split(_Strict):
    """How one data file is split into train and test."""

    test: float = Field(0.2, gt=0, lt=1)
    seed: int = 42
    stratify: bool = True


class DataConfig(_Strict):
    """Where the data is and which column is the target."""

    train: str | None = None
    test: str | None = None
    path: str | None = None
    split: Split = Field(default_factory=Split)
    target: str = "target"
    protected: list[str] = Field(default_factory=list)
    id_columns: list[str] = Field(default_factory=list)
    schema_file: str | None = Field(None, alias="schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())

    @field_validator("train", "test", "path")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        return _data_location(value)

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if self.path and (self.train or self.test):
            raise ValueError("give either 'path' (one file, split by 'split') or 'train' and 'test', not both")
        if not self.path and not self.train:
            raise ValueError("needs 'train' (and optionally 'test'), or 'path' with a 'split'")
        return self


def _data_location(value: str | None) -> str | None:
    """A data path or URI whose scheme mlgate reads (local, file://, s3://, gs://, az://)."""
    if value and "://" in value:
        problem = unsupported_scheme(value)
        if problem:
            raise ValueError(problem)
    return value


class ModelSpec(_Strict):
    """One model candidate: a type from the model zoo and its hyper-parameters."""

    type: str
    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    # The type is checked against the model zoo by the train stage's preflight
    # (mlgate.train.zoo.check_models), before any stage runs: config does not import train.

    @property
    def label(self) -> str:
        return self.name or self.type


class ValidateGate(_Strict):
    """Thresholds of the data gate."""

    min_quality_score: float = Field(0.9, ge=0, le=1)
    checks: dict[str, dict[str, Any]] = Field(default_factory=dict)


class TestGate(_Strict):
    """Settings of the model test framework: ``checks``, ``threads``, and one mapping per model check.

    Every other key is the name of a check in ``MODEL_CHECKS`` (built-in or a plug-in's) and holds
    that check's settings, which its class declares and validates (``performance`` maps metric
    names to thresholds: a plain number is a minimum for a score and a maximum for a loss such as
    log_loss, rmse and mae; ``{min: , max: }`` is explicit). The names and settings are checked
    against the table before any stage runs (``mlgate.modeltests.runner.check_config``): the config
    does not import the checks. ``checks`` selects checks to run (default: all of the table).
    """

    __test__ = False  # not a pytest test class, despite the name
    model_config = ConfigDict(extra="allow", protected_namespaces=())

    checks: list[str] | None = None
    # OpenMP models (gradient boosting) oversubscribe busy CI runners: 1 thread ran the churn
    # suite in 11 s where the default took 27 s on a loaded 2-core machine. None: no limit.
    threads: int | None = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _mappings(self) -> TestGate:
        bad = [k for k, v in (self.model_extra or {}).items() if v is not None and not isinstance(v, dict)]
        if bad:
            raise ValueError(f"{bad[0]!r} names a model check; its value must be a mapping of the check's "
                             f"settings (got {(self.model_extra or {})[bad[0]]!r})")

        for name in self.performance:
            moved = renamed_message(name)
            if moved:
                raise ValueError(f"performance: {name}: {moved}")
        return self

    def settings_of(self, check: str) -> dict[str, Any]:
        """The settings mapping written for one model check (empty when absent)."""
        return dict((self.model_extra or {}).get(check) or {})

    @property
    def performance(self) -> dict[str, Any]:
        """The thresholds of the performance check (the config's metric references read them)."""
        return self.settings_of("performance")


def _enough_resamples(value: int, off_allowed: bool) -> int:
    if value == 0 and off_allowed:
        return value
    if value < MIN_BOOTSTRAP:
        off = " (or 0 for no intervals)" if off_allowed else ""
        raise ValueError(f"must be at least {MIN_BOOTSTRAP} resamples{off}: fewer give intervals "
                         "and p-values that are noise")
    return value


Resamples = Annotated[int, AfterValidator(partial(_enough_resamples, off_allowed=False))]
ResamplesOrOff = Annotated[int, AfterValidator(partial(_enough_resamples, off_allowed=True))]  # 0: no intervals


class EvaluateGate(_Strict):
    """Metric thresholds: ``{roc_auc: 0.7}`` means at least 0.7, ``{rmse: 5}`` at most 5; ``{log_loss: {max: 0.5}}``."""

    thresholds: Thresholds = Field(default_factory=dict)
    bootstrap: ResamplesOrOff = Field(1000, ge=0)
    confidence: float = Field(0.95, gt=0, lt=1)
    threshold_on: Literal["estimate", "interval"] = "estimate"
    slices: list[str] = Field(default_factory=list)
    min_slice_rows: int = Field(30, ge=1)
    max_slice_values: int = Field(20, ge=2)


class CompareGate(_Strict):
    """Decision rules for candidate versus production."""

    metric: str = ""
    baseline_alias: str = "production"
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    # "not significantly worse" fails only a candidate worse by at least this share of production's
    # metric: on 5,048 test rows a retrain 0.08% worse in rmse was "significantly worse"
    material: float = Field(0.005, ge=0)
    greater_is_better: bool | None = None
    significance: float = Field(0.05, gt=0, lt=1)
    bootstrap: Resamples = Field(1000, ge=0)


class BusinessConfig(_Strict):
    """Business metrics: what each answer of the model costs, against a named baseline.

    ``costs`` (classification) maps each actual class to the cost of each predicted class
    (negative: a gain; a missing cell costs 0): ``{"1": {"0": 100, "1": 10}, "0": {"1": 10}}``.
    ``cost_per_unit`` (regression) is the cost of one unit of absolute error. They give the
    metrics ``expected_cost`` (per row) and ``savings`` (per row, versus ``baseline``:
    ``majority`` predicts the test rows' most common class, ``mean`` their mean target,
    ``production`` is the model behind the production alias).
    """

    costs: dict[str, dict[str, float]] = Field(default_factory=dict)
    cost_per_unit: float | None = Field(None, gt=0)
    baseline: Literal["majority", "mean", "production"] | None = None
    unit: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.costs) or self.cost_per_unit is not None


class Gates(_Strict):
    validate_: ValidateGate = Field(default_factory=ValidateGate, alias="validate")
    test: TestGate = Field(default_factory=TestGate)
    evaluate: EvaluateGate = Field(default_factory=EvaluateGate)
    compare: CompareGate = Field(default_factory=CompareGate)

    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())


class TuneConfig(_Strict):
    """Optuna search; off unless ``enabled``."""

    enabled: bool = False
    model: str | None = None
    n_trials: int = Field(20, ge=1)
    timeout: float | None = Field(None, gt=0)
    study_name: str | None = None
    storage: str | None = None  # ${VAR} is read from the environment (a password kept out of the file)
    workers: int = Field(1, ge=1, le=64)  # local worker processes on the study (docs/scale.md)
    cv_folds: int = Field(3, ge=2)
    max_rows: int | None = Field(None, ge=100)  # trials use a seeded stratified sample of this size
    search_space: dict[str, dict[str, Any]] = Field(default_factory=dict)


class RegistryConfig(_Strict):
    """Where models are tracked and registered, and the alias a new version gets."""

    tracking_uri: str | None = None
    model_name: str | None = None
    experiment: str | None = None
    alias: str = "staging"
    tags: dict[str, str] = Field(default_factory=dict)
    # how long registry writes retry a busy or unreachable store before exit 2 (docs/scale.md)
    retry_seconds: float = Field(30.0, ge=0, le=3600)


class ServeConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    rate_limit: str = "100/minute"
    max_body_bytes: int = Field(1_048_576, gt=0)
    max_batch_rows: int = Field(10_000, ge=1)
    api_keys_file: str | None = None
    prediction_log: str | None = ".mlgate/predictions"
    tls: TlsConfig | None = None
    state_dir: str = ".mlgate/serve"  # plans, canary observations, metrics of each server (per env and port)
    converge_interval_s: float = Field(2.0, gt=0, le=3600)  # an --env server re-reads its registry aliases


class TlsConfig(_Strict):
    """HTTPS for ``mlgate serve`` (``certfile``/``keyfile``) and the CA clients verify it with."""

    certfile: str | None = None
    keyfile: str | None = None
    ca_file: str | None = None


class Environment(_Strict):
    url: str
    alias: str | None = None


class CanaryCheckConfig(_Strict):
    """One canary comparison: significance ``alpha``, materiality bound, minimum requests per slot."""

    alpha: float = Field(0.01, gt=0, lt=1)
    material: float = Field(ge=0)
    min_requests: int = Field(200, ge=1)


class CanaryConfig(_Strict):
    """Canary steps and the analysis between them (the seed's ``canary_thresholds.yaml``).

    ``error_rate.material`` is an increase of the canary's error rate (0.01 = one point);
    ``latency.material`` is Mann-Whitney's rank-biserial correlation (0.1: a canary request
    is slower than a baseline one with probability 0.55); ``predictions.material`` is the
    total variation distance between the two distributions of predicted labels.
    """

    steps: list[float] = Field(default_factory=lambda: [10.0, 25.0, 50.0, 100.0])
    error_rate: CanaryCheckConfig = Field(default_factory=lambda: CanaryCheckConfig(material=0.01))
    latency: CanaryCheckConfig = Field(default_factory=lambda: CanaryCheckConfig(material=0.1))
    predictions: CanaryCheckConfig = Field(default_factory=lambda: CanaryCheckConfig(material=0.1))
    interval_s: float = Field(30.0, gt=0)
    max_wait_s: float = Field(3600.0, gt=0)

    @model_validator(mode="after")
    def _steps_in_range(self) -> CanaryConfig:
        if not self.steps or any(not 0 < s <= 100 for s in self.steps) or self.steps != sorted(self.steps):
            raise ValueError(f"steps must be increasing percents in (0, 100], got {self.steps}")
        return self


class DeployConfig(_Strict):
    """How ``mlgate deploy`` rolls out a version (see docs/deploy.md)."""

    # a name of the STRATEGIES table (built-in or plug-in), checked by the deploy commands and `mlgate ci`
    strategy: str = "blue-green"
    keep_previous_s: float = Field(3600.0, ge=0)
    smoke_requests: int = Field(20, ge=1)
    max_p95_ms: float = Field(500.0, gt=0)
    shadow_percent: float = Field(100.0, gt=0, le=100)
    canary: CanaryConfig = Field(default_factory=CanaryConfig)
    lock_ttl_s: float = Field(60.0, gt=0)  # a killed deploy's lock is taken over after this long
    lock_wait_s: float = Field(0.0, ge=0)  # how long a deploy waits for another one's lock (then exit 2)


class CiConfig(_Strict):
    """How ``mlgate ci`` writes the GitLab and GitHub files (see docs/ci.md)."""

    python: str = "3.11"
    # what every job (and the image) installs mlgate from: a PEP 508 requirement naming mlgate
    # ("mlgate==1.2.0", "mlgate @ git+https://host/team/mlgate@v1.2.0") or a wheel path in the
    # repository; each job adds the extras it needs. Default: this version, pinned.
    install: str | None = None
    requirements: str | None = None  # installed instead of the pinned mlgate version when set
    # production's requests per second: `mlgate ci` checks that the canary window can collect
    # its minimum sample sizes at this rate (docs/ci.md); unchecked when not given
    canary_request_rate: float | None = Field(None, gt=0)
    # how the deploy jobs deploy: to `mlgate serve` environments (staging, canary, production),
    # or by applying the rendered manifests to a cluster (Argo Rollouts runs the canary there)
    deploy_target: Literal["serve", "kubernetes"] = "serve"
    tests: str | None = None  # the project's own test command, e.g. "pytest tests/unit"
    branch: str = "main"
    schedule: str = "0 2 * * *"  # cron of the scheduled monitor (and retraining) pipeline
    tune_workers: int = Field(4, ge=1, le=64)  # parallel tune jobs when tune.storage is shared
    data_cache: list[str] = Field(default_factory=lambda: ["data/cache/"])


class MonitorColumn(RuleSettings):
    """Per-column drift settings: the statistics core's rule settings (as in validate's and test's
    distribution checks) plus ``critical``; a key left out keeps the core's default."""

    model_config = ConfigDict(extra="forbid")

    critical: bool = False


class MonitorConfig(_Strict):
    """``mlgate monitor``: drift and live performance; the stage is off until ``current`` or ``from_log``."""

    reference: str | None = None  # models:/NAME@ALIAS, a profile.json or data; default models:/<model>@production
    current: str | None = None
    from_log: str | None = None
    labels: str | None = None
    window: str = "24h"
    drift_share: float = Field(0.5, gt=0, le=1)
    correction: Literal["holm", "bh", "none"] = "holm"
    columns: dict[str, MonitorColumn] = Field(default_factory=dict)
    critical: list[str] = Field(default_factory=list)
    performance_alpha: float = Field(0.01, gt=0, lt=1)
    performance_material: float = Field(0.02, ge=0)
    min_window_rows: int = Field(50, ge=1)
    push: str | None = None

    @field_validator("current", "labels")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        return _data_location(value)

    @property
    def enabled(self) -> bool:
        return bool(self.current or self.from_log)


class ScanConfig(_Strict):
    """``mlgate scan``: what to scan and the lowest severity that fails the gate."""

    fail_on: Literal["low", "medium", "high"] = "high"
    src: list[str] = Field(default_factory=lambda: ["src"])
    models: list[str] = Field(default_factory=list)
    audit: bool = True
    audit_timeout_s: float = Field(300.0, gt=0)
    sbom: bool = True


class SecurityConfig(_Strict):
    """Model-file trust, signing keys and the scan job (see docs/security.md)."""

    trusted_types: list[str] = Field(default_factory=list)
    signing_key: str | None = None
    public_key: str | None = None
    scan: ScanConfig = Field(default_factory=ScanConfig)

    @field_validator("trusted_types")
    @classmethod
    def _dotted_types(cls, types: list[str]) -> list[str]:
        bad = [t for t in types if "." not in t or not all(p.isidentifier() for p in t.split("."))]
        if bad:
            raise ValueError(f"must be dotted names like 'mypackage.module.MyTransformer' (got {bad})")
        return types


class Config(_Strict):
    """The whole ``mlgate.yaml``."""

    project: str = "mlgate-project"
    data: DataConfig
    task: Task | None = None
    seed: int = 42
    models: list[ModelSpec] = Field(default_factory=lambda: [ModelSpec(type="gradient-boosting")])
    gates: Gates = Field(default_factory=Gates)
    tune: TuneConfig = Field(default_factory=TuneConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    environments: dict[str, Environment] = Field(default_factory=dict)
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    ci: CiConfig = Field(default_factory=CiConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    business: BusinessConfig = Field(default_factory=BusinessConfig)

    _root: Path = PrivateAttr(default_factory=Path.cwd)
    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _models_as_specs(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("models"), list):
            raw = dict(raw)
            raw["models"] = [{"type": m} if isinstance(m, str) else m for m in raw["models"]]
        return raw

    @property
    def root(self) -> Path:
        """The folder paths in the config are relative to."""
        return self._root

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def model_name(self) -> str:
        return self.registry.model_name or self.project

    def resolve(self, path: str | Path) -> Path:
        """A path from the config, made absolute against the config's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self._root / p

    def data_ref(self, raw: str | Path) -> Path | str:
        """A data path from the config: an object URI (``s3://b/k``) as written, ``file://`` and
        local paths as absolute Paths against the config's folder (see mlgate.locations.refs)."""
        return as_ref(raw, self._root)

    def section(self, *keys: str) -> Any:
        """The JSON-able value of a config section, for cache keys: ``section('gates', 'test')``."""
        value: Any = self.model_dump(mode="json", by_alias=True)
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate a config file (default ``./mlgate.yaml``)."""
    file = config_file(path)
    if not file.exists():
        hint = "" if path else " Run `mlgate init` to write one, or pass --config FILE."
        raise ConfigError(f"no config file at {file}.{hint}")
    text = _read_text(file)
    raw = parse_yaml(text, file)
    if not isinstance(raw, dict):
        raise ConfigError(f"{file} must hold a mapping of keys (project, data, ...), got {type(raw).__name__}")
    config = config_from_dict(raw, file.resolve().parent, source=file, text=text)
    # the columns and metrics it names, before any stage (lines looked up only for a problem)
    check_references(config, lambda path: _nearest_line(_key_lines(text), path))
    return config


def config_from_dict(raw: dict[str, Any], root: Path, *, source: Path | None = None,
                     text: str | None = None) -> Config:
    """Validate a mapping as a Config; errors name the key path (and line when known)."""
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, text)) from exc
    config._root = root
    config._source = source
    return config


def parse_yaml(text: str, file: Path) -> Any:
    """Parse YAML, turning a syntax error into a ConfigError with the line."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{file} is not valid YAML{where}: {problem}") from exc


def format_validation_error(exc: ValidationError, source: Path | None, text: str | None) -> str:
    """``mlgate.yaml is invalid (2 problems)`` followed by one line per problem."""
    name = source.name if source else "config"
    problems = validation_problems(exc, text=text)
    count = len(problems)
    return f"{name} is invalid ({count} problem{'s' if count > 1 else ''})\n" + "\n".join(f"  {p}" for p in problems)


def validation_problems(exc: ValidationError, prefix: str | tuple[str, ...] = (), text: str | None = None) -> list[str]:
    """One ``key -> path (line N): what is wrong (got value)`` line per problem of a pydantic error.

    The one formatter of pydantic errors in mlgate: the config, the schema file, the model
    checks' and data checks' settings and the search space all read the same way.
    """
    head = (prefix,) if isinstance(prefix, str) else prefix
    lines = _key_lines(text) if text else {}
    problems = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
        path = " -> ".join((*head, *loc)) or "(top level)"
        line = _nearest_line(lines, loc)
        where = f" (line {line})" if line else ""
        problems.append(f"{path}{where}: {_explain(err)}")
    return problems


def _explain(err: Any) -> str:
    kind, msg, value = err["type"], err["msg"], err.get("input")
    if kind == "extra_forbidden":
        return "unknown key; check its spelling against `mlgate init --example churn`"
    if kind == "missing":
        return "is required"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"must be one of {expected} (got {value!r})"
    msg = msg.removeprefix("Value error, ")
    if isinstance(value, dict | list):
        return msg
    return msg if "(got " in msg else f"{msg} (got {value!r})"


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map each key path in a YAML text to its 1-based line, using the composed node tree."""
    import yaml

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    out: dict[tuple[str, ...], int] = {}

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                out[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                sub = (*path, str(i))
                out[sub] = item.start_mark.line + 1
                walk(item, sub)

    walk(root, ())
    return out


def _nearest_line(lines: dict[tuple[str, ...], int], loc: tuple[str, ...]) -> int | None:
    for n in range(len(loc), 0, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}") from exc


def flags_only_config(root: Path, project: str = "mlgate") -> Config:
    """A config for a command run without mlgate.yaml whose flags name all it reads (``register
    --model --name``, ``monitor --reference --current``): the schema's defaults, the store from
    MLFLOW_TRACKING_URI or ``root/.mlgate/mlflow.db``, ``project`` naming experiment and model."""
    # `data` is required by the schema; these commands never read it
    return config_from_dict({"project": project, "data": {"path": "."}}, root)


_KEY_PATH = re.compile(r"^(\s*)((?:[\w-]+ -> )+[\w-]+)(?=: )", flags=re.M)


def placed_in_file(config: Config, message: str) -> str:
    """A message about config keys, checked after loading (plug-in names, check settings), with the
    config file's name in front and each ``a -> b -> c:`` key path followed by its line in that file."""
    if config.source is None:
        return message
    try:
        lines = _key_lines(config.source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return f"{config.source.name}: {message}"

    def with_line(match: re.Match[str]) -> str:
        line = _nearest_line(lines, tuple(match[2].split(" -> ")))
        return f"{match[1]}{match[2]}" + (f" (line {line})" if line else "")

    return f"{config.source.name}: {_KEY_PATH.sub(with_line, message)}"
