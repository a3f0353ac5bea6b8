"""Deployment strategies, one small class each in ``STRATEGIES``.

Every strategy loads the new version into a slot that takes no traffic (the server warms
it up and self-tests it: a version that fails is never switched to), runs the smoke suite
against that slot, and only then gives it traffic:

    direct      switch the stable slot to the new version; the old one is unloaded
    blue-green  switch atomically and keep the old slot loaded (``deploy.keep_previous_s``)
                for an instant rollback; the production tests run after the switch and a
                failure rolls back on its own
    canary      route the first step's percent to the new version (sticky per client id);
                ``mlgate canary analyze`` then promotes, continues or rolls back
    shadow      copy a share of requests to the new version, answer clients from stable only
"""

from __future__ import annotations

from typing import ClassVar

from mlgate.deploy.context import DeployContext
from mlgate.errors import MlgateError, ModelLoadError


class Strategy:
    """Bring ``version`` into service on the context's environment; record each step."""

    name: ClassVar[str]
    role: ClassVar[str] = "candidate"

    def run(self, ctx: DeployContext, version: str, percent: float | None) -> bool:
        raise NotImplementedError

    def stage(self, ctx: DeployContext, version: str) -> bool:
        """Load the version into this strategy's slot and smoke-test it there; False (and the
        slot dropped) when the server's self-test or the smoke suite fails."""
        try:
            ctx.client.stage(version, self.role)
        except ModelLoadError as exc:
            ctx.check("self_test", False, str(exc), observed=version)
            return False
        ctx.check("self_test", True, f"version {version} loaded into the {self.role} slot, warmed up and "
                  "self-tested on its input example", observed=version)
        if ctx.smoke("smoke_before_traffic", self.role, version):
            return True
        ctx.client.discard(self.role)
        ctx.check("not_switched", False, f"version {version} failed its smoke tests and was dropped; "
                  "clients were never routed to it")
        return False


class Switch(Strategy):
    """Shared by direct and blue-green: stage, switch, set the alias, test the live server."""

    keep: ClassVar[bool] = True

    def run(self, ctx: DeployContext, version: str, percent: float | None) -> bool:
        before = ctx.server["slots"].get("stable")
        if not self.stage(ctx, version):
            ctx.record("deploy", self.name, before, version, "failed", "smoke tests before traffic failed")
            return False
        ctx.client.switch(None if self.keep else 0.0)
        registry = ctx.registry
        alias = ctx.config.environments[ctx.env].alias or ctx.env
        registry.set_alias(alias, version)
        for side in ("canary", "shadow"):
            registry.set_side(ctx.env, side, None)
        ctx.check("switched", True, f"{ctx.env} switched from version {before} to {version}; alias "
                  f"{alias!r} -> {version}", observed=version, expected=version)
        if ctx.smoke("production_tests", None, version):
            ctx.record("deploy", self.name, before, version, "switched")
            return True
        rollback_after_failed_tests(ctx, before, version, self.name)
        return False


def rollback_after_failed_tests(ctx: DeployContext, before: str | None, version: str, strategy: str) -> None:
    """Switch back to ``before`` after the live tests failed, on the server then in the registry."""
    try:
        ctx.client.rollback()
    except MlgateError:  # the previous slot is gone (direct): converge to the old alias instead
        ctx.registry.set_alias(ctx.config.environments[ctx.env].alias or ctx.env, before)
        ctx.client.reload()
    ctx.registry.set_alias(ctx.config.environments[ctx.env].alias or ctx.env, before)
    ctx.check("rolled_back", False, f"the tests after the switch failed: {ctx.env} rolled back from "
              f"version {version} to {before}", observed=before)
    ctx.record("rollback", strategy, version, before, "rolled back", "tests after the switch failed")


class Direct(Switch):
    """Replace the stable version; the old one is unloaded at once."""

    name: ClassVar[str] = "direct"
    keep: ClassVar[bool] = False


class BlueGreen(Switch):
    """Switch atomically, keeping the old slot loaded for an instant rollback."""

    name: ClassVar[str] = "blue-green"


class SideSlot(Strategy):
    """Shared by canary and shadow: stage the version in the side slot, then route it a share."""

    def default_share(self, ctx: DeployContext) -> float:
        raise NotImplementedError

    def started(self, ctx: DeployContext, version: str, stable: str | None, share: float) -> str:
        raise NotImplementedError

    def run(self, ctx: DeployContext, version: str, percent: float | None) -> bool:
        stable = ctx.server["slots"].get("stable")
        share = self.default_share(ctx) if percent is None else percent
        step = f"{self.role}-start"
        if not self.stage(ctx, version):
            ctx.record(step, self.name, stable, version, "failed", "smoke tests before traffic failed")
            return False
        ctx.client.route(**{self.role: share})
        ctx.registry.set_side(ctx.env, self.role, version, share)
        ctx.check(f"{self.role}_started", True, self.started(ctx, version, stable, share), observed=share)
        ctx.record(step, self.name, stable, version, f"{share:g}%")
        return True


class Canary(SideSlot):
    """Give the new version the first step's share of requests."""

    name: ClassVar[str] = "canary"
    role: ClassVar[str] = "canary"

    def default_share(self, ctx: DeployContext) -> float:
        return ctx.config.deploy.canary.steps[0]

    def started(self, ctx: DeployContext, version: str, stable: str | None, share: float) -> str:
        return (f"version {version} takes {share:g}% of {ctx.env}'s requests beside stable version {stable}; "
                f"run `mlgate canary analyze --env {ctx.env}`")


class Shadow(SideSlot):
    """Copy a share of requests to the new version; clients only ever see stable's answers."""

    name: ClassVar[str] = "shadow"
    role: ClassVar[str] = "shadow"

    def default_share(self, ctx: DeployContext) -> float:
        return ctx.config.deploy.shadow_percent

    def started(self, ctx: DeployContext, version: str, stable: str | None, share: float) -> str:
        return (f"version {version} receives a copy of {share:g}% of {ctx.env}'s requests; "
                f"clients are answered by version {stable}")


STRATEGIES: dict[str, type[Strategy]] = {c.name: c for c in (Direct, BlueGreen, Canary, Shadow)}
