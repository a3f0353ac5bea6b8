"""MLflow tracking and registry setup: the store URI, quiet logging, lineage tags.

The default store is SQLite inside the project (``.mlgate/mlflow.db``) with artifacts in
``.mlgate/mlartifacts``; ``MLFLOW_TRACKING_URI`` or ``registry.tracking_uri`` switches to a
server (then nothing is written under ``.mlgate/`` for tracking: runs, artifacts and versions
all go to the server). mlflow is imported only here and only when a stage needs it (about 1.6 s).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import subprocess
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from mlgate.errors import RegistryError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlgate.config import Config

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks (_store_lock)
    fcntl = None  # type: ignore[assignment]

# CI variables worth keeping on every run and version: GitLab first, then GitHub Actions.
CI_VARIABLES = ("CI_JOB_ID", "CI_PIPELINE_ID", "CI_COMMIT_SHA", "CI_PROJECT_PATH",
                "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_JOB", "GITHUB_SHA", "GITHUB_REPOSITORY")


def tracking_uri(config: Config) -> str:
    """The tracking URI in force: the environment, then the config, then the project store."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or config.registry.tracking_uri
    if not uri:
        return f"sqlite:///{config.root / '.mlgate' / 'mlflow.db'}"
    return resolve_sqlite_uri(uri, config.root)


def resolve_sqlite_uri(uri: str, root: Path) -> str:
    """Make a relative ``sqlite:///path`` absolute against ``root``; leave others alone."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        path = root / uri[len(prefix):]
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"{prefix}{path}"
    return uri


def artifact_root(config: Config) -> str:
    """Where a local store keeps artifacts (a file URI under ``.mlgate/``)."""
    return (config.root / ".mlgate" / "mlartifacts").as_uri()


def quiet_mlflow() -> None:
    """Keep MLflow's and Alembic's start-up chatter out of the user's terminal."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is first imported
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    # a tracking server makes MLflow print "View run ... at: URL" on stdout after every run
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    for name in ("mlflow", "alembic", "sqlalchemy", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # it logs every failed SQL write with its traceback (a read-only file: 60 lines) before raising;
    # mlgate says what failed in one line naming the store (mlgate.registry.store)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module=r"mlflow\..*")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"mlflow")


# MLflow imports parts of itself lazily; two threads importing it at once (a server's
# registry follower and an admin request) can meet a half-initialised mlflow.tracking
# ("cannot import name '_get_store' from partially initialized module"). One lock for both.
_MLFLOW_IMPORT = threading.RLock()


def import_mlflow() -> None:
    """Import MLflow's tracking client, one thread at a time (see ``_MLFLOW_IMPORT``)."""
    with _MLFLOW_IMPORT:
        import mlflow.tracking  # noqa: F401


def setup_mlflow(config: Config) -> MlflowClient:
    """Point MLflow at the project's store; return a client. Errors name the URI."""
    with _MLFLOW_IMPORT:
        return _setup_mlflow(config)


def _setup_mlflow(config: Config) -> MlflowClient:
    quiet_mlflow()
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(config)
    if uri.startswith(("http://", "https://")):
        bound_http_retries()
    try:
        with _store_lock(uri):
            if uri == f"sqlite:///{config.root / '.mlgate' / 'mlflow.db'}":
                relocate_local_store(config)
            _set_uris_keeping_environment(mlflow, uri)
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            experiment_id(config, client)
    except Exception as exc:  # MLflow raises many kinds for an unreachable or broken store
        raise RegistryError(f"cannot open {describe_store(uri)}: {_first_line(exc)}") from exc
    return client


_PATH_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"), ("model_versions", "source"),
                 ("model_versions", "storage_location"), ("logged_models", "artifact_location"))


def relocate_local_store(config: Config) -> None:
    """Point a project store that moved to another folder at its artifacts' new place.

    The SQLite store keeps absolute artifact paths; a CI job that receives ``.mlgate/`` as an
    artifact in another checkout folder (a shell runner, gitlab-ci-local) would otherwise read
    and write the previous job's folder. Rewrites the old ``.../.mlgate/mlartifacts`` prefix.
    """
    db = config.root / ".mlgate" / "mlflow.db"
    new = artifact_root(config)
    if not db.is_file():
        return
    con = sqlite3.connect(db)
    try:
        row = con.execute("SELECT artifact_location FROM experiments WHERE name = ?",
                          (experiment_name(config),)).fetchone()
        old = row[0] if row else None
        if not old or old == new or not old.endswith("/.mlgate/mlartifacts"):
            return
        with con:
            for table, column in _PATH_COLUMNS:
                with contextlib.suppress(sqlite3.OperationalError):  # a table or column of another MLflow
                    con.execute(f"UPDATE {table} SET {column} = ? || substr({column}, ?) "  # noqa: S608
                                f"WHERE substr({column}, 1, ?) = ?", (new, len(old) + 1, len(old), old))
    except sqlite3.Error:
        return  # not a store mlgate can read: MLflow's own error follows and names it
    finally:
        con.close()


# MLflow's client retries a failed HTTP request 7 times with backoff (about 250 s) and waits
# 120 s for an answer; mlgate retries registry writes itself within registry.retry_seconds.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def bound_http_retries() -> None:
    """Switch MLflow's own HTTP retries off (unless the user set them) so mlgate's budget holds."""
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)


def is_remote(uri: str) -> bool:
    """True for a tracking server (``http(s)://``, ``databricks``) or a database URL: no project file."""
    return uri.startswith("databricks") or ("://" in uri and not uri.startswith(("sqlite:", "file:")))


def describe_store(uri: str) -> str:
    """'the MLflow tracking server at http://host:5000' or 'the MLflow store at sqlite:///...' (no password)."""
    shown = uri
    try:
        parts = urlsplit(uri)
        if parts.password:
            netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
            shown = urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        pass
    kind = "tracking server" if uri.startswith(("http://", "https://")) else "store"
    return f"the MLflow {kind} at {shown}"


@contextlib.contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """An exclusive file lock beside a local SQLite store while it is opened.

    Parallel jobs opening a brand-new store would race on MLflow's schema migration (one
    fails with "table _alembic_tmp_... already exists"); other stores need no lock.
    """
    prefix = "sqlite:///"
    if fcntl is None:  # not POSIX: no advisory locks; a lone job needs none
        yield
        return
    if not uri.startswith(prefix):
        yield
        return
    lock = Path(uri[len(prefix):] + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _set_uris_keeping_environment(mlflow: Any, uri: str) -> None:
    """Point MLflow's fluent API at ``uri`` without leaving it in the environment.

    ``mlflow.set_tracking_uri`` also writes MLFLOW_TRACKING_URI into ``os.environ``; left
    there, it would win over the next project's config in the same process (tests, the
    demo) and leak into child processes. Only a variable the user set should win.
    """
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def experiment_name(config: Config) -> str:
    return config.registry.experiment or config.project


def experiment_id(config: Config, client: MlflowClient) -> str:
    """The project's experiment, created with artifacts under ``.mlgate/`` for a local store."""
    name = experiment_name(config)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = None if is_remote(tracking_uri(config)) else artifact_root(config)
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except Exception:  # another process created it between our lookup and create
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


def git_commit(root: Path) -> str | None:
    """The commit checked out in ``root`` (the CI variable when git is not there)."""
    env = os.environ.get("CI_COMMIT_SHA") or os.environ.get("GITHUB_SHA")
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return env
    return out.stdout.strip() if out.returncode == 0 else env


def ci_job_id() -> str | None:
    """The CI job id: GitLab's CI_JOB_ID or GitHub's run id and attempt."""
    if os.environ.get("CI_JOB_ID"):
        return os.environ["CI_JOB_ID"]
    if os.environ.get("GITHUB_RUN_ID"):
        return f"{os.environ['GITHUB_RUN_ID']}.{os.environ.get('GITHUB_RUN_ATTEMPT', '1')}"
    return None


def lineage_tags(root: Path) -> dict[str, str]:
    """Tags for runs and versions: commit, CI job id and the CI variables present."""
    tags: dict[str, str] = {}
    commit = git_commit(root)
    if commit:
        tags["mlgate.git_commit"] = commit
    job = ci_job_id()
    if job:
        tags["mlgate.ci_job_id"] = job
    for name in CI_VARIABLES:
        if os.environ.get(name):
            tags[f"ci.{name.lower()}"] = os.environ[name]
    return tags


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
