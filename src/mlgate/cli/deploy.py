"""``mlgate deploy``, ``mlgate rollback`` and ``mlgate canary analyze|promote|abort``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlgate.cli._common import ConfigOpt, OutputOpt, console, load
from mlgate.cli._plugins import PluginHelp
from mlgate.cli.app import app
from mlgate.deploy.options import DEFAULT_ENV

if TYPE_CHECKING:
    from mlgate.config import Config

canary_app = typer.Typer(help="Analyze, promote or abort the canary (or shadow) of an environment.",
                         no_args_is_help=True)
app.add_typer(canary_app, name="canary")

EnvOpt = Annotated[str, typer.Option("--env", "-e", help="Environment of mlgate.yaml (environments -> E).")]
UrlOpt = Annotated[str | None, typer.Option(help="Server URL (default: environments -> E -> url).")]
CaOpt = Annotated[Path | None, typer.Option(help="CA certificate (PEM) to verify the server's TLS "
                                            "certificate (default: serve -> tls -> ca_file).")]
ReasonOpt = Annotated[str, typer.Option(help="Why: recorded in the deployment history (default: none).")]
ApiKeyOpt = Annotated[str | None, typer.Option(envvar="MLGATE_API_KEY", help="API key for the smoke "
                                               "tests' predictions (default: none).")]


def _finish(report: object, output: Path | None, stage: str) -> int:
    from mlgate.cli._common import finish, report_dir

    return finish(report, output or report_dir(Path.cwd(), stage))  # type: ignore[arg-type]


@app.command(cls=PluginHelp)
def deploy(
    env: EnvOpt = DEFAULT_ENV,
    strategy: Annotated[str | None, typer.Option(help="One of {strategies} (default: deploy -> strategy).")] = None,
    version: Annotated[str | None, typer.Option(help="Registry version (default: staging's version, "
                                                "or the newest for staging).")] = None,
    canary_percent: Annotated[float | None, typer.Option(help="Canary weight or shadow share, percent "
                                                         "(default: the first canary step).")] = None,
    wait: Annotated[bool, typer.Option(help="Canary: analyze every interval until promoted or "
                                       "rolled back.")] = False,
    url: UrlOpt = None,
    ca_file: CaOpt = None,
    api_key: ApiKeyOpt = None,
    reason: ReasonOpt = "",
    lock_wait: Annotated[float | None, typer.Option(min=0, help="Seconds to wait while another deploy holds "
                                                    "the environment's lock, then exit 2 (default: "
                                                    "deploy -> lock_wait_s, 0).")] = None,
    force_unlock: Annotated[bool, typer.Option(help="Take the environment's deploy lock even though "
                                               "another deploy holds it (when that deploy is dead).")] = False,
    target: Annotated[str, typer.Option(help="local (a running `mlgate serve --env E`) or kubernetes "
                                        "(render manifests).")] = "local",
    render: Annotated[Path | None, typer.Option(help="With --target kubernetes: folder to write the "
                                                "Dockerfile and manifests into (default: none; required "
                                                "with --target kubernetes).")] = None,
    apply: Annotated[bool, typer.Option(help="With --target kubernetes: kubectl apply them.")] = False,
    image: Annotated[str | None, typer.Option(help="With --target kubernetes: the server image the manifests "
                                              "run (default: PROJECT-server:VERSION).")] = None,
    config: ConfigOpt = None,
    output: OutputOpt = None,
) -> int:
    """Deploy a registry version to an environment with a deployment strategy.

    Strategies: {strategies}. The version is loaded into an idle slot, self-tested and smoke-tested before it takes
    traffic, then switched (direct, blue-green), given a canary share, or shadowed. Needs
    MLGATE_ADMIN_KEY, the server's admin key.
    """
    cfg = load(config)
    if target == "kubernetes":
        return _kubernetes(cfg, env, render, apply, version, image)
    if target != "local":
        from mlgate.errors import UsageError

        raise UsageError(f"--target must be local or kubernetes (got {target!r})")
    from mlgate.cli._common import finish
    from mlgate.context import standalone_context
    from mlgate.deploy.stage import DeployOptions, run_deploy

    options = DeployOptions(env=env, strategy=strategy, version=version, percent=canary_percent, wait=wait, url=url,
                            ca_file=str(ca_file) if ca_file else None, api_key=api_key, reason=reason,
                            lock_wait=lock_wait, force_unlock=force_unlock)
    ctx = standalone_context("deploy", cfg, output=output)
    return finish(run_deploy(ctx, options), ctx.out_dir)


def _kubernetes(cfg: Config, env: str, render: Path | None, apply: bool, version: str | None,
                image: str | None = None) -> int:
    from mlgate.errors import UsageError

    if render is None:
        raise UsageError("--target kubernetes needs --render DIR (the folder for the Dockerfile and manifests)")
    from mlgate.deploy.kubernetes import render as render_manifests

    for path in render_manifests(cfg, render, env=env, version=version, apply=apply, image=image):
        console.print(f"wrote {path}")
    return 0


@app.command()
def rollback(env: EnvOpt = "production", url: UrlOpt = None, ca_file: CaOpt = None, reason: ReasonOpt = "",
             config: ConfigOpt = None, output: OutputOpt = None) -> int:
    """Roll an environment back to its previous version, or drop its canary or shadow.

    The previous version is still loaded, so clients get it at once; then the registry alias and
    the history follow."""
    from mlgate.deploy.actions import rollback as run_rollback

    report = run_rollback(load(config), env, url=url, ca_file=str(ca_file) if ca_file else None, reason=reason)
    return _finish(report, output, "rollback")


def _canary(command: str, env: str, dry_run: bool, url: str | None, ca_file: Path | None, api_key: str | None,
            reason: str, config: Path | None, output: Path | None) -> int:
    from mlgate.deploy.actions import canary

    report = canary(load(config), env, command, dry_run=dry_run, url=url, ca_file=str(ca_file) if ca_file else None,
                    api_key=api_key, reason=reason)
    return _finish(report, output, "canary")


@canary_app.command("analyze")
def canary_analyze(env: EnvOpt = "production",
                   dry_run: Annotated[bool, typer.Option(help="Report the verdict without acting on it.")] = False,
                   url: UrlOpt = None, ca_file: CaOpt = None, api_key: ApiKeyOpt = None, reason: ReasonOpt = "",
                   config: ConfigOpt = None, output: OutputOpt = None) -> int:
    """Compare canary with stable, then promote, wait or roll back; exit 1 on rollback.

    Error rate: Fisher's exact test; latency: Mann-Whitney U; predictions: chi-square; each with a
    minimum of requests and a materiality bound (deploy -> canary)."""
    return _canary("analyze", env, dry_run, url, ca_file, api_key, reason, config, output)


@canary_app.command("promote")
def canary_promote(env: EnvOpt = "production", url: UrlOpt = None, ca_file: CaOpt = None,
                   api_key: ApiKeyOpt = None, reason: ReasonOpt = "", config: ConfigOpt = None,
                   output: OutputOpt = None) -> int:
    """Move the canary to its next step (the last makes it the stable version) without analysis."""
    return _canary("promote", env, False, url, ca_file, api_key, reason, config, output)


@canary_app.command("abort")
def canary_abort(env: EnvOpt = "production", url: UrlOpt = None, ca_file: CaOpt = None, reason: ReasonOpt = "",
                 config: ConfigOpt = None, output: OutputOpt = None) -> int:
    """Drop the canary (or shadow) slot: every client is answered by the stable version."""
    return _canary("abort", env, False, url, ca_file, None, reason, config, output)
