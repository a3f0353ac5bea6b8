"""``mlgate serve``, ``mlgate smoke``, ``mlgate keys create`` (API keys) and ``mlgate keys signing``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mlgate.cli._common import ConfigOpt, OutputOpt, console, maybe_load
from mlgate.cli.app import app

keys_app = typer.Typer(help="API keys of `mlgate serve`, and model-signing key pairs.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@app.command()
def serve(
    model: Annotated[str | None, typer.Option("--model", "-m", help="An MLflow model folder, a "
                                              "models:/NAME@ALIAS URI, or a .joblib/.pkl file (default: "
                                              "none; give --model or --env).")] = None,
    config: ConfigOpt = None,
    env: Annotated[str | None, typer.Option("--env", "-e", help="Serve an environment of mlgate.yaml: "
                                            "the versions its registry aliases name (stable, canary, "
                                            "shadow), re-read on POST /admin/reload (default: none, "
                                            "serve --model).")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: serve.host, "
                                               "127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serve.port, 8000).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default: serve.workers, "
                                                   "1).")] = None,
    api_keys_file: Annotated[Path | None, typer.Option(help="File of SHA-256 key hashes, see `mlgate keys "
                                                       "create` (default: serve.api_keys_file, else the "
                                                       "MLGATE_API_KEYS variable).")] = None,
    insecure: Annotated[bool, typer.Option(help="Allow a non-loopback address without API keys.")] = False,
    model_version: Annotated[str | None, typer.Option(help="Version to report for a model folder "
                                                       "(default: the registry's, else 'local').")] = None,
    prediction_log: Annotated[Path | None, typer.Option(help="Folder of the prediction log "
                                                        "(default: serve.prediction_log, "
                                                        ".mlgate/predictions).")] = None,
    no_prediction_log: Annotated[bool, typer.Option(help="Do not log predictions.")] = False,
    access_log: Annotated[bool, typer.Option(help="JSON access log on stderr.")] = True,
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate (PEM): serve HTTPS "
                                                      "(default: serve.tls.certfile, else HTTP).")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM) (default: "
                                                     "serve.tls.keyfile).")] = None,
    trust: Annotated[bool, typer.Option(help="Serve a registry model that has no recorded hash "
                                             "(mlgate.model_sha256), unchecked.")] = False,
) -> int:
    """Serve a model over HTTP: /predict, /invocations, /model-info, /metrics, /health, /ready.

    With --env E it serves the environment's registry aliases in slots (stable, canary,
    shadow, and a blue/green pair for instant rollback) that `mlgate deploy`, `rollback` and
    `canary` switch through the /admin endpoints (key: MLGATE_ADMIN_KEY).
    """
    import contextlib
    import signal

    from mlgate.serve.runner import ServeOptions, limit_model_threads
    from mlgate.serve.runner import serve as run_server

    # the server stops on SIGTERM its own (uvicorn's) way: in-flight requests finish; not the
    # unwind-as-Ctrl-C that every other command gets (mlgate.cli.main)
    with contextlib.suppress(ValueError):  # called off the main thread (an embedding app): nothing to undo
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    limit_model_threads()  # before anything imports scikit-learn's OpenMP runtime
    if trust:  # the environment reaches the --env slots and every worker
        from mlgate.security.folders import TRUST_UNPINNED_ENV

        os.environ[TRUST_UNPINNED_ENV] = "1"
    options = ServeOptions(model=model, host=host, port=port, workers=workers,
                           api_keys_file=api_keys_file, insecure=insecure,
                           model_version=model_version, prediction_log=prediction_log,
                           no_prediction_log=no_prediction_log, access_log=access_log, env=env,
                           ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
    return run_server(options, maybe_load(config))


@app.command()
def smoke(
    url: Annotated[str, typer.Option("--url", help="Base URL of the server.")],
    api_key: Annotated[str | None, typer.Option(envvar="MLGATE_API_KEY",
                                                help="API key for /predict (default: none).")] = None,
    expect_version: Annotated[str | None, typer.Option(help="Registry version that must be served "
                                                        "(default: any).")] = None,
    requests: Annotated[int, typer.Option(min=1, help="Requests for the latency check.")] = 50,
    max_p95_ms: Annotated[float, typer.Option(help="Latency budget for p95.")] = 500.0,
    ca_file: Annotated[Path | None, typer.Option(help="CA certificate (PEM) that signed an https server's "
                                                 "certificate, for a private CA (default: the system's "
                                                 "CAs).")] = None,
    output: OutputOpt = None,
) -> int:
    """Run the deployment test suite against a running server; exit 1 on any failure."""
    from mlgate.cli._common import finish, report_dir
    from mlgate.deploy.client import tls_verify
    from mlgate.smoke import run_smoke

    report = run_smoke(url, api_key=api_key, expect_version=expect_version, n_requests=requests,
                       max_p95_ms=max_p95_ms, verify=tls_verify(ca_file))
    return finish(report, output or report_dir(Path.cwd(), "smoke"))


@keys_app.command("create")
def keys_create(
    file: Annotated[Path, typer.Option("--file", "-f", help="Keys file to append the hash to.")] = Path(
        ".mlgate/api-keys"),
    label: Annotated[str, typer.Option(help="A note stored beside the hash (default: none).")] = "",
) -> int:
    """Create an API key: print it once, store only its SHA-256 hash."""
    from mlgate.serve.auth import add_key

    key = add_key(file, label)
    console.print(f"New API key (shown once, store it now): [bold]{key}[/]")
    console.print(f"Its hash was appended to {file}; serve with --api-keys-file {file}")
    return 0


@keys_app.command("signing")
def keys_signing(
    private_key: Annotated[Path, typer.Option(help="Where to write the private key (PEM, mode 0600).")] = Path(
        ".mlgate/keys/signing-key.pem"),
    public_key: Annotated[Path, typer.Option(help="Where to write the public key (PEM).")] = Path(
        ".mlgate/keys/signing-key.pub.pem"),
    overwrite: Annotated[bool, typer.Option(help="Replace existing key files.")] = False,
) -> int:
    """Create a model-signing key pair (ECDSA P-256, offline) for security.signing_key / public_key."""
    from mlgate.security.signing import create_key_pair

    private, public = create_key_pair(private_key, public_key, overwrite=overwrite)
    console.print(f"Private key: {private} (keep it secret; register signs with security.signing_key)")
    console.print(f"Public key: {public} (serve/test verify with security.public_key)")
    return 0
