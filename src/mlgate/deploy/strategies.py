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

A strategy names the traffic role it stages into (``mlgate.roles``); what the server does with
that role (who answers, what is logged, how requests reach it) is the role's, not the
strategy's. So a strategy that reuses a role is one class: a name, the role, and for a side
role the default percent, for example a dark launch that copies every request::

    class DarkLaunch(SideSlot):
        name: ClassVar[str] = "dark-launch"
        role: ClassVar[Role] = SHADOW

        def default_share(self, ctx: DeployContext) -> float:
            return 100.0
"""

from __future__ import annotations

from typing import ClassVar

from mlgate.deploy.context import DeployContext
from mlgate.deploy.state import EnvState
from mlgate.errors import ModelLoadError, UsageError
from mlgate.plugins import PluginTable
from mlgate.roles import CANARY, CANDIDATE, SHADOW, Role


class Strategy:
    """Bring ``version`` into service on the context's environment; record each step.

    The order of writes is the same for every strategy, so a kill at any moment leaves a state
    the server converges to: (1) the lock and the in-progress record in the registry, (2) the
    version staged on the server with no traffic and smoke-tested there, (3) the registry's
    aliases, (4) the server told to converge (it would on its own within
    ``serve.converge_interval_s``), (5) the tests on the live server, (6) the history, (7) the
    record closed and the lock given back.
    """

    name: ClassVar[str]
    role: ClassVar[Role] = CANDIDATE
    waits: ClassVar[bool] = False  # `deploy --wait` runs the canary analysis until a decision

    def run(self, ctx: DeployContext, version: str, percent: float | None) -> bool:
        raise NotImplementedError

    def stage(self, ctx: DeployContext, version: str) -> bool:
        """Load the version into this strategy's slot and smoke-test it there; False (and the
        slot dropped) when the server's self-test or the smoke suite fails."""
        try:
            ctx.client.stage(version, self.role.name)
        except ModelLoadError as exc:
            ctx.check("self_test", False, str(exc), observed=version)
            return False
        ctx.reached("stage")
        ctx.check("self_test", True, f"version {version} loaded into the {self.role.name} slot, warmed up and "
                  "self-tested on its input example", observed=version)
        passed = ctx.smoke("smoke_before_traffic", self.role.name, version)
        ctx.reached("smoke")
        if passed:
            return True
        ctx.client.discard(self.role.name)
        ctx.check("not_switched", False, f"version {version} failed its smoke tests and was dropped; "
                  "clients were never routed to it")
        return False


def _ended_sides(state: EnvState) -> str:
    """``canary 3 at 10%`` for the side slots a switch ends (what some clients were getting)."""
    return " and ".join(f"{name} {v} at {p:g}%" for name, (v, p) in state.sides().items() if v)


class Switch(Strategy):
    """Shared by direct and blue-green: stage, smoke, point the alias, converge, test the live server."""

    keep: ClassVar[bool] = True

    def run(self, ctx: DeployContext, version: str, percent: float | None) -> bool:
        ctx.begin("deploy", self.name, None, version)
        state = ctx.started_from()  # read under the lock: what the previous deploy left
        before = state.stable
        if not self.stage(ctx, version):
            ctx.record("deploy", self.name, before, version, "failed", "smoke tests before traffic failed")
            return False
        # registry first: the rollback target, then the alias; a canary or shadow ends with the switch
        ctx.holding()
        ctx.registry.point(ctx.env, version, before if before != version else state.previous)
        ctx.reached("alias")
        ctx.converge(None if self.keep else 0.0)
        ctx.reached("switch")
        ended = _ended_sides(state)
        ctx.check("switched", True, f"{ctx.env} switched from version {before} to {version}; alias "
                  f"{ctx.alias!r} -> {version}" + (f"; ended the {ended} (those clients now get version "
                                                   f"{version} too)" if ended else ""),
                  observed=version, expected=version)
        passed = ctx.smoke("production_tests", None, version)
        ctx.reached("tests")
        if passed:
            ctx.record("deploy", self.name, before, version, "switched",
                       f"ended the {ended}" if ended else "")
            ctx.reached("history")
            return True
        rollback_after_failed_tests(ctx, before, version, self.name, state.previous)
        return False


def rollback_after_failed_tests(ctx: DeployContext, before: str | None, version: str, strategy: str,
                                previous: str | None) -> None:
    """Back to ``before`` after the live tests failed: the registry first, then the server converges."""
    ctx.holding()
    ctx.registry.point(ctx.env, before, previous if before is not None else None)
    ctx.reached("rollback-alias")
    ctx.converge()
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
    """Stage the version in a side role's slot (``role``), then route it ``default_share`` percent."""

    def default_share(self, ctx: DeployContext) -> float:
        raise NotImplementedError

    def started(self, ctx: DeployContext, version: str, stable: str | None, share: float) -> str:
        """The check's message once the side slot takes its share, worded from what the role does."""
        if self.role.answers:
            return (f"version {version} takes {share:g}% of {ctx.env}'s requests beside stable version {stable}; "
                    f"run `mlgate canary analyze --env {ctx.env}`")
        return (f"version {version} receives a copy of {share:g}% of {ctx.env}'s requests; "
                f"clients are answered by version {stable}")

    def run(self, ctx: DeployContext, version: str, percent: float | None) -> bool:
        if ctx.registry.env_state(ctx.env).stable is None:
            raise UsageError(f"environment {ctx.env} serves no version yet, so a {self.name} has nothing to run "
                             f"beside: deploy the first version with --strategy blue-green or direct")
        share = self.default_share(ctx) if percent is None else percent
        step = f"{self.role.name}-start"
        ctx.begin(step, self.name, None, version)
        stable = ctx.started_from().stable
        if not self.stage(ctx, version):
            ctx.record(step, self.name, stable, version, "failed", "smoke tests before traffic failed")
            return False
        ctx.holding()
        ctx.registry.set_side(ctx.env, self.role.name, version, share)
        ctx.reached("alias")
        ctx.converge()
        ctx.reached("switch")
        ctx.check(f"{self.role.name}_started", True, self.started(ctx, version, stable, share), observed=share)
        ctx.record(step, self.name, stable, version, f"{share:g}%")
        ctx.reached("history")
        return True


class Canary(SideSlot):
    """Give the new version the first step's share of requests."""

    name: ClassVar[str] = "canary"
    role: ClassVar[Role] = CANARY
    waits: ClassVar[bool] = True

    def default_share(self, ctx: DeployContext) -> float:
        return ctx.config.deploy.canary.steps[0]


class Shadow(SideSlot):
    """Copy a share of requests to the new version; clients only ever see stable's answers."""

    name: ClassVar[str] = "shadow"
    role: ClassVar[Role] = SHADOW

    def default_share(self, ctx: DeployContext) -> float:
        return ctx.config.deploy.shadow_percent


STRATEGIES: PluginTable[Strategy] = PluginTable("mlgate.strategies", Strategy, (Direct, BlueGreen, Canary, Shadow))


def get_strategy(name: str, where: str = "deploy -> strategy") -> type[Strategy]:
    """The strategy class called ``name`` (built-in or plug-in); a UsageError naming ``where`` otherwise."""
    if name not in STRATEGIES:
        raise UsageError(f"{where}: {STRATEGIES.unknown(name, 'strategy')}")
    return STRATEGIES[name]
