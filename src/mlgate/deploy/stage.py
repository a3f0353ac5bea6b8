"""The deploy stage in the shape of every other: ``run_deploy(ctx) -> Report``.

``mlgate deploy`` builds the context with ``standalone_context("deploy", ...)``; its flags
(environment, strategy, version, canary share, wait, server URL, CA file, API key, reason,
lock wait, force unlock)
travel in ``ctx.options``. Rollback and the canary commands act on a deployment already made
and stay plain functions in ``mlgate.deploy.actions``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate.deploy.actions import deploy

if TYPE_CHECKING:
    from mlgate.context import StageContext
    from mlgate.reports.model import Report

DEFAULT_ENV = "staging"


def run_deploy(ctx: StageContext) -> Report:
    """Deploy a registry version to ``options["env"]`` (default staging) with its strategy."""
    o = ctx.options
    return deploy(ctx.config, o.get("env", DEFAULT_ENV), strategy=o.get("strategy"), version=o.get("version"),
                  percent=o.get("percent"), wait=bool(o.get("wait", False)), url=o.get("url"),
                  ca_file=o.get("ca_file"), api_key=o.get("api_key"), reason=o.get("reason", ""),
                  lock_wait_s=o.get("lock_wait"), force_unlock=bool(o.get("force_unlock", False)))
