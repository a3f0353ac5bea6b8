"""The deploy stage in the shape of every other: ``run_deploy(ctx, options) -> Report``.

``mlgate deploy`` builds the context with ``standalone_context("deploy", ...)`` and its flags
(environment, strategy, version, canary share, wait, server URL, CA file, API key, reason,
lock wait, force unlock) as ``DeployOptions``. Rollback and the canary commands act on a
deployment already made and stay plain functions in ``mlgate.deploy.actions``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate.deploy.actions import deploy
from mlgate.deploy.options import DeployOptions

if TYPE_CHECKING:
    from mlgate.context import StageContext
    from mlgate.reports.model import Report

__all__ = ["DeployOptions", "run_deploy"]


def run_deploy(ctx: StageContext, options: DeployOptions | None = None) -> Report:
    """Deploy a registry version to ``options.env`` (default staging) with its strategy."""
    o = options or DeployOptions()
    return deploy(ctx.config, o.env, strategy=o.strategy, version=o.version, percent=o.percent, wait=o.wait,
                  url=o.url, ca_file=o.ca_file, api_key=o.api_key, reason=o.reason, lock_wait_s=o.lock_wait,
                  force_unlock=o.force_unlock)
