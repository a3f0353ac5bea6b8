"""Start a model server: resolve the model, check the security settings, run uvicorn."""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.errors import ServeError
from mlgate.serve.auth import ADMIN_KEY_ENV, hash_key, key_hashes_from_env, read_keys_file
from mlgate.serve.settings import SETTINGS_ENV, ServeSettings, is_loopback

if TYPE_CHECKING:
    from mlgate.config import Config

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_model_threads(n: int = 1) -> None:
    """Set the thread env vars before scikit-learn loads OpenMP (each worker inherits them)."""
    for name in THREAD_ENV:
        os.environ.setdefault(name, str(n))


@dataclass
class ServeOptions:
    """What ``mlgate serve`` was asked for; None means "take it from the config"."""

    model: str
    host: str | None = None
    port: int | None = None
    workers: int | None = None
    api_keys_file: Path | None = None
    insecure: bool = False
    model_version: str | None = None
    prediction_log: Path | None = None
    no_prediction_log: bool = False
    access_log: bool = True


def build_settings(options: ServeOptions, config: Config | None) -> tuple[ServeSettings, str, int, int]:
    """Resolve the model and keys into worker settings, plus host, port and worker count."""
    from mlgate.config import ServeConfig
    from mlgate.serve.loading import resolve_model
    from mlgate.serve.ratelimit import parse_rate

    section = config.serve if config is not None else ServeConfig.model_validate({})
    host = options.host or section.host
    port = section.port if options.port is None else options.port
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
    resolved = resolve_model(options.model, config, options.model_version)
    log_dir: Path | None = None
    if not options.no_prediction_log:
        if options.prediction_log is not None:
            log_dir = options.prediction_log
        elif section.prediction_log:
            log_dir = config.resolve(section.prediction_log) if config is not None else Path(section.prediction_log)
    settings = ServeSettings(  # type: ignore[call-arg]
        model_path=resolved.path, model_source=resolved.spec, model_version=resolved.version,
        key_hashes=hashes, admin_key_hash=hash_key(admin) if admin else None,
        rate_limit=section.rate_limit, max_body_bytes=section.max_body_bytes,
        max_batch_rows=section.max_batch_rows,
        prediction_log=str(log_dir.resolve()) if log_dir else None,
        access_log=options.access_log)
    return settings, host, port, workers


def serve(options: ServeOptions, config: Config | None) -> int:
    """Run the server until interrupted; returns the exit code."""
    limit_model_threads()
    settings, host, port, workers = build_settings(options, config)
    import uvicorn

    from mlgate.serve.model import ServedModel

    # Loading once here turns a broken model into exit 2 with a message, before any worker.
    model = ServedModel.load(settings.model_path, version=settings.model_version,
                             source=settings.model_source)
    auth = "API keys required" if settings.key_hashes else "no API keys (open)"
    print(f"mlgate serve: {model.source} version {model.version} on http://{host}:{port} "
          f"({workers} worker{'s' if workers > 1 else ''}, {auth})", file=sys.stderr, flush=True)
    # proxy_headers off: the client address is the rate-limit identity, so a header a
    # client can forge must not replace it (put a trusted proxy's own limits in front).
    common = {"host": host, "port": port, "access_log": False, "log_level": "warning",
              "timeout_graceful_shutdown": 5, "proxy_headers": False}
    if workers == 1:
        from mlgate.serve.app import create_app

        uvicorn.run(create_app(settings, model), **common)  # type: ignore[arg-type]
        return 0
    os.environ[SETTINGS_ENV] = settings.to_env()
    with tempfile.TemporaryDirectory(prefix="mlgate-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run("mlgate.serve.app:create_app_from_env", factory=True, workers=workers,
                    **common)  # type: ignore[arg-type]
    return 0
