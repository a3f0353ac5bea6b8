"""The MLflow store: opening it, retrying its writes, logging folders, hashing model files.

Several CI jobs may register at once, and a tracking server may be restarting or down.

* **What is retried**: SQLite's "database is locked", MLflow's version-number clashes
  ("giving up after 3 attempts", unique violations, PostgreSQL deadlocks and serialization
  failures), and for a tracking server: refused or reset connections, timeouts and 5xx
  answers. Anything else (a bad name, a 4xx) fails at once.
* **For how long**: jittered exponential backoff (0.05 s doubling to 2 s) until
  ``registry.retry_seconds`` (default 30 s, env ``MLGATE_RETRY_SECONDS``) have passed; then
  a RegistryError (exit 2) naming the store. MLflow's own HTTP retries (7 with backoff,
  about 250 s) are switched off for mlgate's process, so this budget is the one that holds.
  While waiting, one line on stderr says what is retried and for how long.
* **No half-made version**: a version is created with all its tags in one call (one database
  transaction on the server) carrying a ``mlgate.registration_id`` token, so a retry after
  a lost answer finds the version it already made instead of making a second one; when the
  alias cannot be set, the new version is deleted again where the store still answers.
"""

from __future__ import annotations

import os
import random
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urlparse

from mlgate.errors import ModelLoadError, RegistryError
from mlgate.locations.refs import file_sha256
from mlgate.security.folders import flavors
from mlgate.tracking import describe_store, setup_mlflow, tracking_uri

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlgate.config import Config

# Lower-cased fragments of MLflow/SQLAlchemy/requests error texts that mean "try again".
_CLASHES = ("database is locked", "giving up after", "integrityerror", "unique constraint",
            "duplicate key value", "deadlock", "could not serialize")
_UNREACHABLE = ("connection refused", "failed to establish", "max retries exceeded", "connection aborted",
                "connection reset", "remote end closed", "remotedisconnected", "timed out", "timeout exception",
                "error responses", "bad gateway", "service unavailable", "gateway timeout",
                "internal_error", "temporarily_unavailable", "server closed the connection",
                "connection broken", "response ended prematurely", "incompleteread", "broken pipe",
                "connectionerror", "protocolerror")
_TRANSIENT = _CLASHES + _UNREACHABLE
REGISTRATION_TAG = "mlgate.registration_id"
DEFAULT_RETRY_SECONDS = 30.0
RETRY_ENV = "MLGATE_RETRY_SECONDS"
T = TypeVar("T")


@dataclass
class RetryPolicy:
    """How long registry writes are retried, and the store named in messages."""

    seconds: float = DEFAULT_RETRY_SECONDS
    store: str = "the MLflow store"
    source: str = "registry.retry_seconds"


_policy = RetryPolicy()


def retry_policy(config: Config | None = None) -> RetryPolicy:
    """The budget from ``MLGATE_RETRY_SECONDS``, else ``registry.retry_seconds``; the store's URI."""
    seconds = config.registry.retry_seconds if config is not None else DEFAULT_RETRY_SECONDS
    source = "registry.retry_seconds"
    raw = os.environ.get(RETRY_ENV)
    if raw:
        try:
            seconds = float(raw)
        except ValueError as exc:
            raise RegistryError(f"{RETRY_ENV}={raw!r} is not a number of seconds") from exc
        if not 0 <= seconds <= 3600:
            raise RegistryError(f"{RETRY_ENV}={raw!r} must be between 0 and 3600 seconds")
        source = RETRY_ENV
    store = describe_store(tracking_uri(config)) if config is not None else "the MLflow store"
    return RetryPolicy(seconds, store, source)


def open_store(config: Config) -> MlflowClient:
    """``setup_mlflow`` (which locks a SQLite store while opening it), retrying a busy or unreachable store.

    Also sets the retry policy of later :func:`retry` calls in this process to the config's.
    """
    global _policy
    _policy = retry_policy(config)
    return retry(lambda: setup_mlflow(config), "open the MLflow store")


def retry(action: Callable[[], T], what: str, attempts: int | None = None,
          policy: RetryPolicy | None = None) -> T:
    """Run an MLflow call, retrying transient failures with jittered backoff within the budget.

    ``attempts`` caps the tries as well (tests); the time budget of ``policy`` (default: the
    one :func:`open_store` set) always holds, counted from the first failure.
    """
    policy = policy or _policy
    deadline: float | None = None  # the budget starts at the first failure (not at the import of mlflow)
    delay, attempt, warned_at = 0.05, 0, None
    while True:
        attempt += 1
        try:
            return action()
        except Exception as exc:  # MLflow wraps SQLAlchemy, requests and server errors in many types
            text = f"{type(exc).__name__} {exc}".lower()
            transient = any(t in text for t in _TRANSIENT) and not read_only(exc)
            deadline = deadline or time.monotonic() + policy.seconds
            left = deadline - time.monotonic()
            if not transient or left <= 0 or (attempts is not None and attempt >= attempts):
                if isinstance(exc, RegistryError) and not transient:
                    raise
                raise _give_up(exc, what, policy, transient) from exc
            if warned_at is None or time.monotonic() - warned_at >= 10:
                warned_at = time.monotonic()
                _say(f"mlgate: {policy.store}: {reason(exc)} while trying to {what}; retrying for "
                     f"{left:.0f} s more ({policy.source}={policy.seconds:g})")
            time.sleep(min(delay * (1 + random.random()), max(left, 0.0)))  # jitter keeps jobs apart
            delay = min(delay * 2, 2.0)


_READ_ONLY = ("readonly database", "read-only", "read only", "permission denied", "operation not permitted",
              "unable to open database", "disk i/o error")


def read_only(exc: BaseException) -> bool:
    """True when a write failed because the store refuses writes (a read-only file or server)."""
    text = f"{type(exc).__name__} {exc}".lower()
    return any(t in text for t in _READ_ONLY)


def describe_write_failure(exc: BaseException, what: str, config: Config | None = None) -> RegistryError:
    """A failed registry write as one line naming the store: read-only, unreachable, or MLflow's first line."""
    if isinstance(exc, RegistryError) and not read_only(exc):
        return exc
    policy = retry_policy(config) if config is not None else _policy
    if read_only(exc):
        return RegistryError(f"cannot {what}: {policy.store} refuses writes ({reason(exc)}); make it writable "
                             "(file permissions, a read-only mount, the server's permissions) and run again. "
                             "Nothing was changed")
    return _give_up(exc, what, policy, any(t in f"{exc}".lower() for t in _TRANSIENT))


def _give_up(exc: BaseException, what: str, policy: RetryPolicy, transient: bool) -> RegistryError:
    if read_only(exc):
        return RegistryError(f"cannot {what}: {policy.store} refuses writes ({reason(exc)}); make it writable "
                             "(file permissions, a read-only mount, the server's permissions) and run again")
    if not transient:  # named, so a refusal is never mistaken for another store's
        where = f" ({policy.store})" if policy.store.startswith("the MLflow tracking server") else ""
        return RegistryError(f"cannot {what}{where}: {first_line(exc)}")
    text = str(exc).lower()
    if any(t in text for t in _UNREACHABLE):
        return RegistryError(
            f"cannot {what}: {policy.store} did not answer ({reason(exc)}) for {policy.seconds:g} s of retries; "
            "check that it is running and that MLFLOW_TRACKING_URI / registry.tracking_uri point at it "
            f"(raise {policy.source} to wait longer)")
    return RegistryError(f"cannot {what}: {policy.store} stayed busy for {policy.seconds:g} s of retries "
                         f"({reason(exc)}); raise {policy.source} to wait longer")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def reason(exc: BaseException) -> str:
    """A short cause for messages: 'connection refused', 'HTTP 503', 'database is locked', ..."""
    text = str(exc)
    lower = text.lower()
    code = re.search(r"too many (\d{3}) error responses|error code (\d{3})", lower)
    if code:
        return f"HTTP {code.group(1) or code.group(2)}"
    for fragment, short in (("connection refused", "connection refused"), ("timed out", "no answer in time"),
                            ("timeout exception", "no answer in time"), ("remote end closed", "connection dropped"),
                            ("connection reset", "connection reset"), ("connection aborted", "connection dropped"),
                            ("internal_error", "HTTP 500"), ("database is locked", "database is locked"),
                            ("readonly database", "the database file is read-only"),
                            ("disk i/o error", "disk I/O error on the database file"),
                            ("permission denied", "permission denied")):
        if fragment in lower:
            return short
    return first_line(exc)[:200]


def create_version(client: MlflowClient, name: str, tags: dict[str, str], create: Callable[[], T], what: str) -> T:
    """Create a version with its tags in one call, once, even when a retry follows a lost answer.

    ``tags`` gets a fresh ``mlgate.registration_id``; before every retry the registry is asked
    for a version of ``name`` with that token, so a create that succeeded on the server but
    whose answer was lost is not repeated.
    """
    token = tags.setdefault(REGISTRATION_TAG, uuid.uuid4().hex)
    tried = False

    def attempt() -> T:
        nonlocal tried
        if tried:
            found = client.search_model_versions(f"name = '{_quote(name)}' and tags.`{REGISTRATION_TAG}` = '{token}'")
            if found:
                return found[0]  # type: ignore[return-value]
        tried = True
        return create()

    return retry(attempt, what)


def set_alias_or_undo(client: MlflowClient, name: str, alias: str, version: str) -> None:
    """Point ``alias`` at the new version; when that fails, delete the version (best effort) and say so."""
    try:
        retry(lambda: client.set_registered_model_alias(name, alias, version), f"set alias {alias!r}")
    except RegistryError as exc:
        try:
            client.delete_model_version(name, version)
            undone = f"version {version} was deleted again, so nothing was registered"
        except Exception:  # the store is gone: the version stays, with all its tags
            undone = (f"version {version} stays registered with all its tags but without the alias; "
                      f"set it with `MlflowClient().set_registered_model_alias({name!r}, {alias!r}, {version!r})` "
                      "or delete the version")
        raise RegistryError(f"{exc}; {undone}") from exc


def _quote(value: str) -> str:
    return value.replace("'", "\\'")


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
    if not source.startswith("file:"):
        return None
    folder = Path(unquote(urlparse(source).path))
    return model_sha256(folder) if (folder / "MLmodel").exists() else None


def log_folder(client: MlflowClient, experiment: str, folder: Path, tags: dict[str, str]) -> tuple[str, str]:
    """Log a model folder as the artifacts of a new run; return the run and the model's URI."""
    run = retry(lambda: client.create_run(experiment, tags={**tags, "mlflow.runName": "register"}),
                "start a registration run")
    run_id = run.info.run_id
    try:
        retry(lambda: client.log_artifacts(run_id, str(folder), "model"), "log the model folder")
    except BaseException as exc:  # a failure or a cancel: the run must not stay RUNNING
        client.set_terminated(run_id, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    retry(lambda: client.set_terminated(run_id), "finish the registration run")
    return run_id, f"{run.info.artifact_uri.rstrip('/')}/model"


def log_metrics(client: MlflowClient, run_id: str, metrics: dict[str, float]) -> None:
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    batch = [Metric(f"test_{k}", v, stamp, 0) for k, v in metrics.items()]
    retry(lambda: client.log_batch(run_id, metrics=batch), "log the test metrics")


def model_sha256(folder: Path) -> str:
    """SHA-256 of the serialized model file the folder's MLmodel names (model.skops, model.pkl)."""
    found = flavors(folder)  # the one MLmodel reader; any flavor here: a pin is only a hash
    name = ((found.get("sklearn") or {}).get("pickled_model")
            or (found.get("python_function") or {}).get("model_path"))
    candidates = [folder / name] if name else sorted(folder.glob("model.*"))
    files = [p for p in candidates if p.is_file()]
    if not files:
        raise ModelLoadError(f"{folder} holds no serialized model file (looked for {name or 'model.*'})")
    return file_sha256(files[0])


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
