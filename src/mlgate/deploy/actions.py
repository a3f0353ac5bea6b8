"""The deploy commands as library functions: deploy, rollback, canary analyze/promote/abort.

Each returns a Report (written by the CLI through ``write_report``); a check that fell
short makes it fail (exit 1); bad input raises before anything changes (exit 2).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import TYPE_CHECKING, Any

from mlgate.deploy.canary import Analysis, analysis_report, analyze, next_step
from mlgate.deploy.context import DeployContext, check_percent, default_version, open_context
from mlgate.deploy.record import Record
from mlgate.deploy.rollback import RollbackPlan
from mlgate.deploy.state import who
from mlgate.deploy.strategies import get_strategy, rollback_after_failed_tests
from mlgate.errors import ServeError, UsageError
from mlgate.reports.model import Check, Report
from mlgate.roles import CANARY, SIDE_ROLES, STABLE, Role, side_names

if TYPE_CHECKING:
    from mlgate.config import Config


def deploy(config: Config, env: str, *, strategy: str | None = None, version: str | None = None,
           percent: float | None = None, wait: bool = False, url: str | None = None, ca_file: str | None = None,
           api_key: str | None = None, reason: str = "", lock_wait_s: float | None = None,
           force_unlock: bool = False) -> Report:
    """Deploy a registry version to an environment's server with a strategy (one deploy per
    environment at a time: see ``mlgate.deploy.record``)."""
    started = time.perf_counter()
    name = strategy or config.deploy.strategy
    chosen = get_strategy(name, "--strategy" if strategy else "deploy -> strategy")
    check_percent(percent)
    ctx = open_context(config, env, url=url, ca_file=ca_file, api_key=api_key, reason=reason,
                       lock_wait_s=lock_wait_s, force_unlock=force_unlock)
    with ctx.client:
        target = ctx.registry.check_version(version) if version else default_version(ctx)
        ctx.report.extras.update({"strategy": name, "version": target, "before": ctx.server.get("slots", {})})
        try:
            running = chosen()
            ok = running.run(ctx, target, percent)
            if ok and wait and running.waits:
                _wait_for_canary(ctx, running.role)
        except BaseException as exc:
            ctx.end(False, f"stopped: {exc}")
            raise
        ctx.end(ctx.report.passed, "done" if ctx.report.passed else "; ".join(c.name for c in ctx.report.failures))
        ctx.report.key_figure = f"{env}: {name} of version {target} " + ("done" if ctx.report.passed else "failed")
    ctx.report.duration_s = round(time.perf_counter() - started, 3)
    return ctx.report


def rollback(config: Config, env: str, *, url: str | None = None, ca_file: str | None = None,
             reason: str = "") -> Report:
    """Back to the previous version (alias ``<env>-previous``), or drop the canary or shadow.

    Registry first, then the server converges: its previous slot is usually still loaded, so
    clients get the old answers as soon as the admin call returns. An ``--env`` server does the
    registry part itself (``/admin/env-rollback``: it has MLflow loaded, this command would
    first have to import it); the command then writes the history. A deploy under way is taken
    over (its lock is replaced and it stops at its next step), with a message.
    """
    started = time.perf_counter()
    ctx = open_context(config, env, url=url, ca_file=ca_file, reason=reason, stage="rollback")
    with ctx.client:
        before = ctx.server.get("slots", {})
        answer = _rollback_on_server(ctx)
        try:
            if answer is None:
                slots, what, from_version, target = _rollback_here(ctx, before)
            else:
                begun = answer["started"]
                ctx.adopt(begun["token"], begun["messages"])
                if begun["interrupted"]:
                    ctx.note_interrupted(Record(**begun["interrupted"]), begun["plan"]["stable"])
                slots = ctx.client.state().get("slots", {})
                plan = begun["plan"]
                what, from_version, target = plan["what"], plan["from"], plan["target"]
                ctx.reached("switch")
            ctx.check("rolled_back", slots.get(STABLE.name) == target, f"{env}: {what}; stable version "
                      f"{slots.get(STABLE.name)}", observed=slots, expected=target)
            ctx.record("rollback", "", from_version, target, "rolled back", reason or "manual rollback")
            ctx.reached("history")
        except BaseException as exc:
            ctx.end(False, f"stopped: {exc}")
            raise
        ctx.end(ctx.report.passed, "rolled back")
        ctx.report.key_figure = f"{env}: serving version {slots.get(STABLE.name)}"
        ctx.report.extras.update({"before": before, "after": slots})
    ctx.report.duration_s = round(time.perf_counter() - started, 3)
    return ctx.report


def _rollback_on_server(ctx: DeployContext) -> dict[str, Any] | None:
    """The server's answer to ``/admin/env-rollback``, or None when it cannot (not an --env server of
    this environment, or an older server without the endpoint)."""
    if ctx.server.get("env") != ctx.env:
        return None
    try:
        return ctx.client.call("POST", "/admin/env-rollback", {"who": who(), "host": socket.gethostname(),
                                                               "pid": os.getpid()})
    except ServeError as exc:
        if "has no /admin/env-rollback endpoint" in str(exc):
            return None
        raise


def _rollback_here(ctx: DeployContext, before: dict[str, str]) -> tuple[dict[str, str], str, str | None, str | None]:
    """The rollback's registry part from this process: lock, record, aliases; then the server converges."""
    RollbackPlan.of(ctx.registry.env_state(ctx.env), before, ctx.alias, ctx.env)  # nothing to roll back: exit 2
    ctx.begin("rollback", "", None, None, take_over=True)
    plan = RollbackPlan.of(ctx.started_from(), before, ctx.alias, ctx.env)  # again, under the lock
    if ctx.deployment is not None:
        ctx.deployment.to_version = plan.target
    ctx.holding()
    plan.write(ctx.registry, ctx.env)
    ctx.reached("alias")
    slots = ctx.converge().get("slots", {})
    ctx.reached("switch")
    return slots, plan.what(before), plan.from_version(before), plan.target


def _side(ctx: DeployContext) -> Role:
    """The side role the server runs (the first of ``SIDE_ROLES`` it has a slot for)."""
    slots = ctx.server.get("slots", {})
    for side in SIDE_ROLES:
        if side.name in slots:
            return side
    raise UsageError(f"{ctx.env} has no {side_names()} running (slots: {', '.join(slots)}); start one with "
                     f"`mlgate deploy --env {ctx.env} --strategy {CANARY.name}`")


def run_analysis(ctx: DeployContext, *, dry_run: bool = False) -> tuple[Analysis, str]:
    """Analyze the current step and act on the verdict unless ``dry_run``; return it and the action."""
    side = _side(ctx)
    observed = ctx.client.observations()
    analysis = analyze(observed["rows"], ctx.config.deploy.canary, side.name)
    weight = float(ctx.server.get(str(side.share_field), 0.0))
    if analysis.verdict == "rollback":
        action = "rolled back" if not dry_run else "would roll back"
        if not dry_run:
            abort(ctx, side.name, why=f"canary analysis: {analysis.reasons()}")
    elif analysis.verdict == "continue":
        action = "waiting for more requests"
    elif not side.steps:  # no steps to climb: a person decides (`canary promote`)
        action = "recommend promotion (`mlgate canary promote`)"
    else:
        step = next_step(ctx.config.deploy.canary.steps, weight)
        action = (f"{'would promote' if dry_run else 'promoted'} to {'production' if step is None else f'{step:g}%'}")
        if not dry_run:
            promote(ctx, step, why=f"canary analysis at {weight:g}%: every comparison same")
    return analysis, action


def abort(ctx: DeployContext, role: str, why: str) -> None:
    """Drop the canary (or shadow): its alias first, then the server converges; record why."""
    slots = ctx.server.get("slots", {})
    ctx.begin(f"{role}-rollback", role, slots.get(role), slots.get(STABLE.name))
    ctx.registry.set_side(ctx.env, role, None)
    ctx.reached("alias")
    ctx.converge()
    ctx.record(f"{role}-rollback", role, slots.get(role), slots.get(STABLE.name), "rolled back", why)


def promote(ctx: DeployContext, step: float | None, why: str) -> None:
    """Raise the canary to ``step`` percent, or (None) make it the stable version; registry first."""
    slots = ctx.server.get("slots", {})
    name = _side(ctx).name
    version = slots[name]
    ctx.begin(f"{name}-promote", name, slots.get(STABLE.name), version)
    if step is not None:
        ctx.registry.set_side(ctx.env, name, version, step)
        ctx.reached("alias")
        ctx.converge()
        ctx.record(f"{name}-step", name, slots.get(STABLE.name), version, f"{step:g}%", why)
        return
    state = ctx.registry.env_state(ctx.env)
    keep = {other: (v, p) for other, (v, p) in state.sides().items() if other != name and v}
    ctx.registry.point(ctx.env, version, slots.get(STABLE.name), keep)
    ctx.reached("alias")
    ctx.converge()
    ctx.record(f"{name}-promote", name, slots.get(STABLE.name), version, "promoted", why)
    if not ctx.smoke("production_tests", None, version):
        rollback_after_failed_tests(ctx, slots.get(STABLE.name), version, name, state.previous)


def canary(config: Config, env: str, command: str, *, dry_run: bool = False, url: str | None = None,
           ca_file: str | None = None, api_key: str | None = None, reason: str = "") -> Report:
    """``mlgate canary analyze|promote|abort``."""
    started = time.perf_counter()
    ctx = open_context(config, env, url=url, ca_file=ca_file, api_key=api_key, reason=reason, stage="canary")
    with ctx.client:
        try:
            report = _canary_command(ctx, command, dry_run, reason)
        except BaseException as exc:
            ctx.end(False, f"stopped: {exc}")
            raise
        ctx.end(report.passed, str(report.key_figure or ""))
    report.duration_s = round(time.perf_counter() - started, 3)
    return report


def _canary_command(ctx: DeployContext, command: str, dry_run: bool, reason: str) -> Report:
    env, config = ctx.env, ctx.config
    if command == "analyze":
        analysis, action = run_analysis(ctx, dry_run=dry_run)
        report = analysis_report(analysis, env=env, versions=ctx.server.get("slots", {}), action=action)
        report.checks[:0] = [c for c in ctx.report.checks]  # production tests after a promotion
        return report
    side = _side(ctx)
    if command == "abort":
        abort(ctx, side.name, why=reason or "manual abort")
        action = f"dropped the {side.name} slot"
    elif command == "promote":
        weight = float(ctx.server.get(str(side.share_field), 0.0))
        step = next_step(config.deploy.canary.steps, weight) if side.steps else None
        promote(ctx, step, why=reason or "manual promotion")
        action = f"promoted to {'production' if step is None else f'{step:g}%'}"
    else:
        raise UsageError(f"unknown canary command {command!r}; use analyze, promote or abort")
    report = ctx.report
    report.add(Check(name=command, passed=True, message=f"{env}: {action}"))
    report.key_figure = f"{env}: {action}"
    return report


def _wait_for_canary(ctx: DeployContext, side: Role) -> None:
    """``deploy --wait``: analyze every ``interval_s`` until promoted to production, rolled back,
    or ``max_wait_s`` passes (then rolled back: no decision is not a promotion).

    Each analysis is one block on stderr (the CI job's log): the step, both sample sizes, and
    each comparison's test, outcome and reason. The report fails unless the canary was promoted.
    """
    settings = ctx.config.deploy.canary
    version = str(ctx.report.extras.get("version"))
    deadline = time.monotonic() + settings.max_wait_s
    _say(f"canary of version {version} on {ctx.env}: an analysis every {settings.interval_s:g} s, "
         f"for at most {settings.max_wait_s:g} s (deploy -> canary -> interval_s, max_wait_s)")
    count = 0
    while (remaining := deadline - time.monotonic()) > 0:
        time.sleep(min(settings.interval_s, remaining))
        ctx.server = ctx.client.state()
        slots = ctx.server.get("slots", {})
        if side.name not in slots:  # promoted or dropped by someone else meanwhile
            promoted = slots.get(STABLE.name) == version
            ctx.check(f"{side.name}_gone", promoted, f"the {side.name} slot was "
                      f"{'promoted' if promoted else 'dropped'} outside this job; {ctx.env} serves version "
                      f"{slots.get(STABLE.name)}")
            return
        weight = float(ctx.server.get(str(side.share_field), 0.0))
        analysis, action = run_analysis(ctx)
        count += 1
        _say(progress(count, weight, analysis, action))
        ctx.check(f"{side.name}_{analysis.verdict}", analysis.verdict != "rollback",
                  f"at {weight:g}%: {action}; {analysis.reasons()}")
        if analysis.verdict == "rollback" or "production" in action:
            return
    abort(ctx, side.name, why=f"no decision within {settings.max_wait_s:g} s")
    _say(f"no decision within {settings.max_wait_s:g} s: rolled back; {ctx.env} keeps version "
         f"{ctx.server.get('slots', {}).get(STABLE.name)}")
    ctx.check(f"{side.name}_timeout", False, f"the {side.name} was neither promoted nor rolled back within "
              f"{settings.max_wait_s:g} s (deploy -> canary -> max_wait_s): rolled back")


def progress(count: int, weight: float, analysis: Analysis, action: str) -> str:
    """One analysis as the job log shows it: sample sizes, then each comparison's test and verdict."""
    lines = [f"analysis {count} at {weight:g}%: baseline {analysis.stable.requests} requests "
             f"({analysis.stable.errors} errors), {analysis.role} {analysis.candidate.requests} requests "
             f"({analysis.candidate.errors} errors) -> {analysis.verdict}: {action}"]
    for name, decision in analysis.decisions.items():
        method = decision.rule.method if decision.rule else (decision.comparison.method if decision.comparison else "?")
        lines.append(f"  {name} ({method}): {decision.outcome}: {decision.reason}")
    return "\n".join(lines)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
