"""Hyper-parameter search with Optuna: seeded TPE, median pruning over CV folds, RDB storage.

A trial samples the search space, cross-validates the preprocessing + model pipeline fold by
fold and reports the running mean after each fold, so the median pruner can stop a poor
trial after its first fold. Studies live in an RDB storage (SQLite under ``.mlgate/`` by
default), so a second call resumes the study and parallel workers can share one.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from mlgate.config import validation_problems
from mlgate.errors import ConfigError
from mlgate.metrics import compute, predict
from mlgate.tracking import resolve_sqlite_uri
from mlgate.train.preprocess import build_pipeline
from mlgate.train.workers import expand_storage
from mlgate.train.zoo import check_param_names, get_model_type

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from mlgate.config import Config
    from mlgate.train.preprocess import FeatureSet

STORAGE_FILE = "optuna.db"
PRUNER_STARTUP_TRIALS = 3  # trials that always run to the end before pruning starts
# A running trial writes a heartbeat this often; one silent for GRACE_SECONDS belongs to a
# worker that died (killed, machine lost), and the next worker to start marks it FAIL.
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 120


class SearchParam(BaseModel):
    """One dimension of a search space: ``{type: float, low: 0.01, high: 0.3, log: true}``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["int", "float", "categorical"] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _complete(self) -> SearchParam:
        if self.type is None:
            self.type = "categorical" if self.choices is not None else "float"
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical dimension needs a non-empty 'choices' list")
            bad = [c for c in self.choices if not isinstance(c, str | int | float | bool | type(None))]
            if bad:
                raise ValueError(f"choices must be numbers, strings, booleans or null (got {bad[0]!r})")
        elif self.low is None or self.high is None or not self.low < self.high:
            raise ValueError(f"needs numbers low < high (got low={self.low}, high={self.high})")
        elif self.log and self.low <= 0:
            raise ValueError(f"a log scale needs low > 0 (got {self.low})")
        return self

    def suggest(self, trial: optuna.Trial, name: str) -> Any:
        """Sample this dimension in a trial."""
        if self.type == "categorical":
            return trial.suggest_categorical(name, self.choices)  # type: ignore[arg-type]
        assert self.low is not None and self.high is not None  # checked by the validator
        if self.type == "int":
            step = int(self.step or 1)
            return trial.suggest_int(name, int(self.low), int(self.high), step=step, log=self.log)
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)


@dataclass
class TuneSetup:
    """What a study needs: the model type, fixed params, the space, task and metric."""

    model_type: str
    base_params: dict[str, Any]
    space: dict[str, SearchParam]
    task: str
    metric: str
    greater: bool
    study_name: str
    storage: str


def search_space(model_type: str, task: str, raw: dict[str, dict[str, Any]] | None) -> dict[str, SearchParam]:
    """The space from config (it replaces the default when given), checked by name and shape."""
    mtype = get_model_type(model_type)
    source = raw or mtype.search_space(task)
    where = "tune -> search_space" if raw else f"default search space of {model_type}"
    space = {}
    for name, spec in source.items():
        try:
            space[name] = SearchParam.model_validate(spec)
        except ValidationError as exc:
            raise ConfigError("; ".join(validation_problems(exc, (where, name)))) from exc
    if raw and model_type != "custom":
        check_param_names(f"{model_type}' in 'tune -> search_space", model_type, raw,
                          mtype.accepted(task))
    return space


def default_storage(config: Config) -> str:
    """``tune.storage`` (``${VAR}`` filled from the environment; relative SQLite paths against the
    project) or ``.mlgate/optuna.db``."""
    if config.tune.storage:
        return resolve_sqlite_uri(expand_storage(config.tune.storage), config.root)
    folder = config.root / ".mlgate"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / STORAGE_FILE}"


def open_study(setup: TuneSetup, seed: int, attempts: int = 5) -> optuna.Study:
    """Create or resume the study; an unreachable storage is a ConfigError naming the URL."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction: Literal["maximize", "minimize"] = "maximize" if setup.greater else "minimize"
    for attempt in range(attempts):
        try:
            study = optuna.create_study(
                study_name=setup.study_name, storage=_storage(setup.storage), direction=direction,
                load_if_exists=True,
                pruner=optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS,
                                                   n_warmup_steps=0))
            break
        except Exception as exc:  # SQLAlchemy, driver and Optuna errors all mean "cannot open"
            if _transient(exc) and attempt < attempts - 1:
                # Parallel workers creating the schema of a new storage at the same moment.
                time.sleep(0.2 * (attempt + 1))
                continue
            raise ConfigError(f"cannot open Optuna study '{setup.study_name}' in storage "
                              f"{safe_url(setup.storage)} (tune.storage / --storage): "
                              f"{_first_line(exc)}") from exc
    if study.direction.name.lower() != direction:
        raise ConfigError(f"Optuna study '{setup.study_name}' exists and is set to "
                          f"{study.direction.name.lower()}, but {setup.metric} needs {direction}; "
                          "use another --study-name")
    return study


def run_trials(study: optuna.Study, objective: Callable[[optuna.Trial], float], n_trials: int,
               timeout: float | None, seed: int,
               callback: Callable[[optuna.Study, optuna.trial.FrozenTrial], None]) -> int:
    """Run up to ``n_trials`` trials (fewer once ``timeout`` seconds have passed).

    The TPE sampler of trial ``n`` is seeded with ``seed + n``. Trial numbers are handed out
    by the storage, so one worker's search is reproducible, a resumed study does not repeat
    its first trials, and parallel workers on one study draw different samples instead of
    the same ones (``constant_liar`` also keeps them away from each other's running trials).
    Returns the number of trials run.
    """
    import optuna

    deadline = time.monotonic() + timeout if timeout else None
    fail_stale_trials(study)
    ran = 0
    while ran < n_trials and (deadline is None or time.monotonic() < deadline):
        with warnings.catch_warnings():  # Optuna warns that ask() does not beat: _heartbeat below does
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
            trial = study.ask()
        # TPE keeps no state but its random generator, so a fresh sampler per trial is cheap.
        with warnings.catch_warnings():  # Optuna before 4 calls constant_liar experimental: chosen knowingly
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.sampler = optuna.samplers.TPESampler(seed=seed + trial.number, constant_liar=True)
        try:
            with _heartbeat(study, trial):
                value = objective(trial)
        except optuna.TrialPruned:
            frozen = study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        except BaseException:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        else:
            failed = value != value  # NaN: the estimator rejected this combination
            frozen = study.tell(trial, None if failed else value,
                                state=optuna.trial.TrialState.FAIL if failed else None)
        ran += 1
        callback(study, frozen)
    return ran


def _storage(url: str) -> Any:
    import optuna

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:"):
        # Parallel workers on one SQLite file wait for the write lock instead of failing.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since 2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                                          **kwargs)


def fail_stale_trials(study: optuna.Study) -> None:
    """Mark FAIL the RUNNING trials whose worker stopped beating, so the study counts them honestly."""
    import optuna

    with warnings.catch_warnings():  # experimental in Optuna, and used by its own optimize()
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


@contextlib.contextmanager
def _heartbeat(study: optuna.Study, trial: optuna.Trial) -> Iterator[None]:
    """Record the trial's heartbeat every HEARTBEAT_SECONDS while it runs (what Optuna's optimize() does)."""
    storage: Any = study._storage  # no public handle: ask/tell leaves heartbeats to the caller
    if getattr(storage, "get_heartbeat_interval", lambda: None)() is None:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            storage.record_heartbeat(trial._trial_id)
            if stop.wait(HEARTBEAT_SECONDS):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-trial-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _transient(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("locked", "already exists", "unique constraint", "busy"))


def cross_validate(trial: optuna.Trial | None, setup: TuneSetup, estimator: Any, features: FeatureSet,
                   frame: pd.DataFrame, target: str, folds: int, seed: int) -> float:
    """Mean CV score of the pipeline; reports the running mean per fold for pruning."""
    import optuna
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold
    from threadpoolctl import threadpool_limits

    X, y = frame[features.columns], frame[target]
    splitter = (KFold(folds, shuffle=True, random_state=seed) if setup.task == "regression"
                else StratifiedKFold(folds, shuffle=True, random_state=seed))
    scores: list[float] = []
    for step, (fit_idx, val_idx) in enumerate(splitter.split(X, y)):
        model = build_pipeline(features, clone(estimator))
        # One OpenMP/BLAS thread: as fast on fold-sized data, and it does not collapse when
        # parallel workers (or other jobs) share the cores (measured: a histogram GBM fit took
        # 1.9 s on one thread, 64 s on two threads with the 2 cores busy).
        with threadpool_limits(limits=1):
            model.fit(X.iloc[fit_idx], y.iloc[fit_idx])
            fold = predict(model, X.iloc[val_idx], y.iloc[val_idx], setup.task)
            scores.append(compute(fold, [setup.metric])[setup.metric])
        mean = sum(scores) / len(scores)
        if trial is not None:
            trial.set_user_attr("fold_scores", scores)
            trial.report(mean, step)
            if step < folds - 1 and trial.should_prune():
                raise optuna.TrialPruned(f"running mean {mean:.4f} after fold {step + 1}")
    return sum(scores) / len(scores)


def sample_rows(frame: pd.DataFrame, target: str, task: str, n: int | None, seed: int) -> pd.DataFrame:
    """At most ``n`` rows: a seeded sample, stratified on the target for classification."""
    from sklearn.model_selection import train_test_split

    if n is None or len(frame) <= n:
        return frame
    y = frame[target]
    strata = y if task != "regression" and y.value_counts().min() >= 2 else None
    sample, _ = train_test_split(frame, train_size=n, random_state=seed, stratify=strata)
    return sample.reset_index(drop=True)


def safe_url(url: str) -> str:
    """A storage URL without its password, for messages and files."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
