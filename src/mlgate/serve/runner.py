"""Start a model server: resolve the model, check the security settings, run uvicorn."""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mlgate.config import ServeConfig
from mlgate.errors import ServeError, UsageError
from mlgate.roles import SIDE_ROLES, STABLE
from mlgate.serve.auth import ADMIN_KEY_ENV, hash_key, key_hashes_from_env, read_keys_file
from mlgate.serve.converge import StateDir
from mlgate.serve.desired import env_refs
from mlgate.serve.loading import resolve_model
from mlgate.serve.model import ServedModel
from mlgate.serve.plan import ModelRef, initial_plan
from mlgate.serve.ratelimit import parse_rate
from mlgate.serve.settings import SETTINGS_ENV, ServeSettings, is_loopback

if TYPE_CHECKING:
    from mlgate.config import Config
    from mlgate.serve.plan import Plan

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_model_threads(n: int = 1) -> None:
    """Set the thread env vars before scikit-learn loads OpenMP (each worker inherits them)."""
    for name in THREAD_ENV:
        os.environ.setdefault(name, str(n))


@dataclass
class ServeOptions:
    """What ``mlgate serve`` was asked for; None means "take it from the config"."""

    model: str | None
    host: str | None = None
    port: int | None = None
    workers: int | None = None
    api_keys_file: Path | None = None
    insecure: bool = False
    model_version: str | None = None
    prediction_log: Path | None = None
    no_prediction_log: bool = False
    access_log: bool = True
    env: str | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None


def build_settings(options: ServeOptions, config: Config | None) -> tuple[ServeSettings, str, int, int]:
    """Resolve the model and keys into worker settings, plus host, port and worker count."""
    section = config.serve if config is not None else ServeConfig.model_validate({})
    host, port = listen_address(options, config)
    workers = options.workers or section.workers
    parse_rate(section.rate_limit)  # a bad rate is a config error before anything starts
    hashes = key_hashes_from_env()
    keys_file = options.api_keys_file or (
        config.resolve(section.api_keys_file) if config is not None and section.api_keys_file else None)
    if keys_file is not None:
        hashes += read_keys_file(Path(keys_file))
    if not hashes and not is_loopback(host) and not options.insecure:
        raise ServeError(f"refusing to serve on {host} without API keys: anyone who can reach the "
                         "port could use the model. Create a key with `mlgate keys create`, pass "
                         "--api-keys-file FILE (or set MLGATE_API_KEYS), or add --insecure")
    admin = os.environ.get(ADMIN_KEY_ENV)
    plan = _first_plan(options, config)

    resolved = ModelRef("", "", "") if plan.empty else plan.stable
    log_dir: Path | None = None
    if not options.no_prediction_log:
        if options.prediction_log is not None:
            log_dir = options.prediction_log
        elif section.prediction_log:
            log_dir = config.resolve(section.prediction_log) if config is not None else Path(section.prediction_log)
    settings = ServeSettings(  # type: ignore[call-arg]
        model_path=resolved.path, model_source=resolved.source, model_version=resolved.version,
        model_sha256=resolved.sha256, key_hashes=hashes, admin_key_hash=hash_key(admin) if admin else None,
        rate_limit=section.rate_limit, max_body_bytes=section.max_body_bytes,
        max_batch_rows=section.max_batch_rows,
        prediction_log=str(log_dir.resolve()) if log_dir else None,
        access_log=options.access_log, workers=workers, env=options.env,
        config_path=str(config.source.resolve()) if config is not None and config.source else None,
        keep_previous_s=config.deploy.keep_previous_s if config is not None else 3600.0,
        converge_interval_s=section.converge_interval_s)
    settings.state_dir = str(state_folder(config, options.env, port))
    state = StateDir(settings.state_dir)
    plan, carried = carry_observations(plan, state.last_plan())
    state.reset(keep_observations=carried)
    state.start(plan)
    return settings, host, port, workers


def listen_address(options: ServeOptions, config: Config | None) -> tuple[str, int]:
    """``--host``/``--port``, else the host and port of ``environments.E.url`` (``--env E``), else
    ``serve.host``/``serve.port``."""
    section = config.serve if config is not None else ServeConfig.model_validate({})
    host, port = section.host, section.port
    if options.env and config is not None and options.env in config.environments:
        url = config.environments[options.env].url
        try:
            parts = urlsplit(url)
            url_port = parts.port
        except ValueError as exc:
            raise UsageError(f"environments -> {options.env} -> url is not a URL ({url!r}): {exc}") from exc
        if parts.hostname:
            host = parts.hostname
        if url_port is not None:
            port = url_port
    return options.host or host, port if options.port is None else options.port


def state_folder(config: Config | None, env: str | None, port: int) -> Path:
    """Where a server keeps its plans, canary observations and metrics: ``serve.state_dir`` beside the
    config, one folder per environment and port (so a restarted server finds its canary's
    observations); without a config a temporary folder, removed at exit."""
    if config is None:
        _sweep_orphans()
        folder = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        (folder / OWNER_FILE).write_text(str(os.getpid()), encoding="utf-8")
        return folder
    folder = config.resolve(config.serve.state_dir) / f"{env or 'model'}-{port}"
    folder.mkdir(parents=True, exist_ok=True)
    _hold(folder)
    return folder


_held: list[Any] = []  # the open lock files of this process's state folders (released at its exit)


def _hold(folder: Path) -> None:
    """Hold the folder's ``server.lock`` for this process's life: a second server on the same
    environment and port must not clear the first one's plans before it fails to bind."""
    handle = (folder / SERVER_LOCK).open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ServeError(f"another `mlgate serve` uses the state folder {folder} (the same environment and "
                         "port) and is still running; stop it first, or give this one another --port") from None
    _held.append(handle)


SERVER_LOCK = "server.lock"
TEMP_PREFIX = "mlgate-state-"
OWNER_FILE = "owner.pid"


def _sweep_orphans() -> None:
    """Remove temporary state folders whose server is gone (one killed with SIGKILL cleans nothing)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        try:
            pid = int((folder / OWNER_FILE).read_text(encoding="utf-8"))
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):  # another user's, or no owner file: not ours to judge
            continue


def carry_observations(plan: Plan, last: Plan | None) -> tuple[Plan, bool]:
    """Keep the analysis window of a canary (or shadow) that a restarted server serves again unchanged."""
    if last is None:
        return plan, False
    sides_now, sides_last = plan.sides(), last.sides()
    same = all(name in sides_last and ref.version == sides_last[name].version and
               plan.share(name) == last.share(name) for name, ref in sides_now.items())
    if sides_now and same:
        return replace(plan, observe_since=last.observe_since), True
    return plan, False


def _first_plan(options: ServeOptions, config: Config | None) -> Plan:
    """What the server starts with: the environment's aliases (--env), else the --model given."""
    if options.env:
        if options.model:
            raise UsageError("give --env (serve what the registry's aliases say) or --model, not both")
        if config is None:
            raise UsageError("--env needs the config (mlgate.yaml, or --config FILE) for the registry and "
                             "the environment")

        state, refs = env_refs(config, options.env)
        pinned = {name: ref.pinned() for name, ref in refs.items()}
        return initial_plan(pinned.get(STABLE.name), {r.name: (pinned.get(r.name), state.share(r.name))
                                                      for r in SIDE_ROLES})
    if not options.model:
        raise UsageError("give --model PATH|URI, or --env E to serve an environment's registry aliases")
    resolved = resolve_model(options.model, config, options.model_version)
    return initial_plan(ModelRef(resolved.version, resolved.path, resolved.spec, resolved.sha256))


def tls_files(options: ServeOptions, config: Config | None) -> tuple[str | None, str | None]:
    """The certificate and key files from the flags, else from ``serve.tls``; both or neither."""
    tls = config.serve.tls if config is not None else None
    cert = options.ssl_certfile or (config.resolve(tls.certfile) if config and tls and tls.certfile else None)
    key = options.ssl_keyfile or (config.resolve(tls.keyfile) if config and tls and tls.keyfile else None)
    if bool(cert) != bool(key):
        raise UsageError("TLS needs both a certificate and its key: give --ssl-certfile and --ssl-keyfile "
                         "(or serve -> tls -> certfile and keyfile)")
    for path in (cert, key):
        if path is not None and not Path(path).is_file():
            raise UsageError(f"TLS file {path} does not exist")
    return (str(cert), str(key)) if cert and key else (None, None)


def serve(options: ServeOptions, config: Config | None) -> int:
    """Run the server until interrupted; returns the exit code."""
    limit_model_threads()
    certfile, keyfile = tls_files(options, config)
    settings, host, port, workers = build_settings(options, config)
    try:
        return _run(settings, host, port, workers, certfile, keyfile)
    finally:
        StateDir(str(settings.state_dir)).close(remove=config is None)


def _run(settings: ServeSettings, host: str, port: int, workers: int, certfile: str | None,
         keyfile: str | None) -> int:
    import uvicorn

    # Loading once here turns a broken model into exit 2 with a message, before any worker.
    model = ServedModel.load(settings.model_path, version=settings.model_version, source=settings.model_source,
                             expected_sha256=settings.model_sha256) if settings.model_path else None
    auth = "API keys required" if settings.key_hashes else "no API keys (open)"
    scheme = "https" if certfile else "http"
    env = f", environment {settings.env}" if settings.env else ""
    what = (f"{model.source} version {model.version}" if model is not None else
            f"no version yet (/ready answers 503 until `mlgate deploy --env {settings.env}` gives it one)")
    print(f"mlgate serve: {what} on {scheme}://{host}:{port} "
          f"({workers} worker{'s' if workers > 1 else ''}, {auth}{env})", file=sys.stderr, flush=True)
    if not certfile and not is_loopback(host):
        print(f"mlgate serve: warning: serving on {host} over plain HTTP: requests, answers and keys cross "
              "the network unencrypted; give --ssl-certfile and --ssl-keyfile (or serve.tls)",
              file=sys.stderr, flush=True)
    # proxy_headers off: the client address is the rate-limit identity, so a header a
    # client can forge must not replace it (put a trusted proxy's own limits in front).
    common = {"host": host, "port": port, "access_log": False, "log_level": "warning",
              "timeout_graceful_shutdown": 5, "proxy_headers": False,
              "ssl_certfile": certfile, "ssl_keyfile": keyfile}
    if workers == 1:
        from mlgate.serve.app import create_app, freeze_start_up_heap  # else only uvicorn workers build it

        app = create_app(settings, model)
        freeze_start_up_heap()
        uvicorn.run(app, **common)  # type: ignore[arg-type]
        return 0
    # workers exit when this process dies, even by SIGKILL (see mlgate.serve.parent)
    settings.parent_pid = os.getpid()
    os.environ[SETTINGS_ENV] = settings.to_env()
    metrics_dir = Path(str(settings.state_dir)) / "metrics"
    metrics_dir.mkdir(exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        uvicorn.run("mlgate.serve.app:create_app_from_env", factory=True, workers=workers,
                    **common)  # type: ignore[arg-type]
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
