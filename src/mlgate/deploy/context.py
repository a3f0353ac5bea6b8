"""What one deploy action works with: the environment, its server, the registry, the report.

Everything that can be wrong with the input is checked in ``open_context`` before anything
changes: the environment, the percent, the version, the server's reachability and the
admin key. A deploy action then records each step as a Check of its Report.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.deploy.client import AdminClient, admin_key, tls_verify
from mlgate.deploy.record import DeployLocked, EnvLock, Record, pause_point, read_record, write_record
from mlgate.deploy.state import EnvState, Event, Registry, env_alias, who
from mlgate.errors import MlgateError, UsageError
from mlgate.reports.model import Check, Report
from mlgate.smoke import run_smoke

if TYPE_CHECKING:
    from mlgate.config import Config

# The smoke checks run against a slot before it takes traffic and after a switch: rate
# limiting would drain the real clients' bucket, and authentication needs a key to pass.
CANDIDATE_CHECKS = ["health", "model_version", "prediction", "input_validation", "latency_p95"]
LIVE_CHECKS = [*CANDIDATE_CHECKS, "monitoring"]


@dataclass
class DeployContext:
    """The environment acted on and everything a strategy needs."""

    config: Config
    env: str
    url: str
    client: AdminClient
    report: Report
    api_key: str | None = None
    reason: str = ""
    server: dict[str, Any] = field(default_factory=dict)
    lock_wait_s: float | None = None  # None: deploy.lock_wait_s
    force_unlock: bool = False
    lock: EnvLock | None = None
    deployment: Record | None = None
    _registry: Registry | None = None

    @property
    def alias(self) -> str:
        return env_alias(self.config, self.env)

    # -- the order of writes: lock and record in the registry, then the server ---------

    def begin(self, action: str, strategy: str, from_version: str | None, to_version: str | None, *,
              take_over: bool = False) -> None:
        """Take the environment's deploy lock (the registry's write probe: a read-only or unreachable
        store stops here, before the server is touched) and write the in-progress record."""
        if self.lock is not None:
            return  # a canary step inside `deploy --wait` runs under the deploy's own lock
        deploy = self.config.deploy
        registry = self.registry
        last = read_record(registry, self.alias)
        wait = deploy.lock_wait_s if self.lock_wait_s is None else self.lock_wait_s
        self.lock = EnvLock(registry, self.alias, who(), action, deploy.lock_ttl_s, wait, self.force_unlock,
                            take_over).acquire()
        for message in self.lock.messages:
            self.check("lock_taken_over", True, message)
        if last is not None and last.state == "in-progress":  # we hold the lock: that deploy is dead
            self.note_interrupted(last, registry.env_state(self.env).stable)
        self.deployment = Record(action, strategy, from_version, to_version, who(), time.time(),
                                 token=self.lock.holder.token)
        write_record(registry, self.alias, self.deployment)

    def note_interrupted(self, last: Record, serving: str | None) -> None:
        """Say in the report and the history that the previous action was killed, and what clients got."""
        outcome = f"interrupted at step {last.step}; clients got version {serving or 'none'}"
        self.check("interrupted_before", True, f"the previous deploy on {self.env} ({last.describe()}) was "
                   f"{outcome}")
        self.record("interrupted", last.strategy, last.from_version, last.to_version, outcome,
                    f"{last.action} by {last.who} did not finish")

    def adopt(self, token: str, messages: list[str]) -> None:
        """Take over a lock the server took on this process's behalf (``/admin/env-rollback``)."""
        lock = EnvLock(self.registry, self.alias, who(), "rollback", self.config.deploy.lock_ttl_s)
        held = lock.current()
        if held is None or held.token != token:
            raise DeployLocked(f"the deploy lock of environment {self.alias} was taken over right after the "
                               f"server rolled back for this command (now: {held.describe() if held else 'nobody'})")
        lock.holder = held
        self.lock = lock
        self.deployment = read_record(self.registry, self.alias)
        for message in messages:
            print(f"mlgate: {message}", file=sys.stderr, flush=True)
            self.check("lock_taken_over", True, message)

    def started_from(self) -> EnvState:
        """The environment's registry state, read under the lock; the record's "from" follows it."""
        state = self.registry.env_state(self.env)
        if self.deployment is not None and self.deployment.from_version is None:
            self.deployment.from_version = state.stable
        return state

    def holding(self) -> None:
        """Raise DeployLocked unless this action still holds the lock (checked before each registry write)."""
        if self.lock is not None:
            self.lock.check()

    def reached(self, step: str) -> None:
        """Note the step in the record (so `mlgate status` can say where a killed deploy stopped)."""
        if self.lock is None or self.deployment is None:
            return
        self.lock.check()
        self.deployment.step = step
        write_record(self.registry, self.alias, self.deployment)
        pause_point(step)

    def end(self, passed: bool, outcome: str = "") -> None:
        """Close the record (done or failed) and give the lock back; nothing when the lock was taken over."""
        lock, self.lock = self.lock, None
        if lock is None:
            return
        try:
            if self.deployment is not None:
                lock.check()
                self.deployment.state = "done" if passed else "failed"
                self.deployment.outcome = outcome
                self.deployment.finished = time.time()
                write_record(self.registry, self.alias, self.deployment)
        except MlgateError:
            pass  # taken over, or the store went away: the record says in-progress, status says interrupted
        finally:
            lock.release()

    def converge(self, keep_s: float | None = None) -> dict[str, Any]:
        """Tell the server to converge to the registry now (it would on its own within an interval)."""
        self.client.reload(keep_s)
        self.server = self.client.state()
        return self.server

    @property
    def registry(self) -> Registry:
        """The registry, opened on first use (importing MLflow costs about 1.6 s: a rollback
        switches the server first)."""
        if self._registry is None:
            self._registry = Registry(self.config)
        return self._registry

    def check(self, name: str, passed: bool, message: str, **extra: Any) -> bool:
        self.report.add(Check(name=name, passed=passed, message=message, **extra))
        return passed

    def record(self, action: str, strategy: str, from_version: str | None, to_version: str | None,
               outcome: str, why: str = "") -> None:
        """Add the event to the registry's deployment history."""
        when = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        # the user's --reason, then the cause mlgate found (once, when the caller passed the reason on)
        reason = "; ".join(part for part in dict.fromkeys((self.reason, why)) if part)
        self.registry.record(Event(when, self.env, action, strategy, from_version or "", to_version or "",
                                   who(), reason, outcome))

    def smoke(self, name: str, slot: str | None, version: str) -> bool:
        """Run the smoke suite against a slot (``/_slot/<slot>``) or the live URL; add one Check."""
        import httpx

        base = f"{self.url}/_slot/{slot}" if slot else self.url
        checks = CANDIDATE_CHECKS if slot else LIVE_CHECKS + (["authentication"] if self.api_key else [])
        deploy = self.config.deploy
        with httpx.Client(timeout=30, verify=self.client.verify, headers={"X-Admin-Key": self.client.key}) as http:
            result = run_smoke(base, api_key=self.api_key, expect_version=version, checks=checks,
                               n_requests=deploy.smoke_requests, max_p95_ms=deploy.max_p95_ms, client=http)
        failed = [c for c in result.checks if not c.passed]
        where = f"the {slot} slot" if slot else "the live server"
        message = (f"smoke suite on {where} (version {version}): {len(result.checks) - len(failed)} of "
                   f"{len(result.checks)} checks passed" + (": " + "; ".join(f"{c.name}: {c.message}" for c in failed)
                                                            if failed else ""))
        return self.check(name, not failed, message, observed=[c.name for c in failed], expected=[],
                          details={"smoke": [c.model_dump() for c in result.checks]})


def open_context(config: Config, env: str, *, url: str | None = None, ca_file: str | None = None,
                 api_key: str | None = None, reason: str = "", stage: str = "deploy",
                 lock_wait_s: float | None = None, force_unlock: bool = False) -> DeployContext:
    """Check the environment, the server and the admin key; nothing is changed here."""
    env_alias(config, env)  # an unknown environment is a UsageError naming the known ones
    target = url or config.environments[env].url
    if not target.startswith(("http://", "https://")):
        raise UsageError(f"environments -> {env} -> url must start with http:// or https:// (got {target!r})")
    tls = config.serve.tls
    ca = ca_file or (str(config.resolve(tls.ca_file)) if tls and tls.ca_file else None)
    client = AdminClient(target, admin_key(), tls_verify(ca))
    try:
        server = client.state()  # unreachable server or wrong key: an error before any change
    except Exception:
        client.close()
        raise
    if server.get("env") not in (None, env):
        client.close()
        raise UsageError(f"the server at {target} serves environment {server['env']!r}, not {env!r}")
    report = Report(stage=stage, extras={"env": env, "url": target})
    return DeployContext(config, env, target, client, report, api_key, reason, server, lock_wait_s, force_unlock)


def check_percent(percent: float | None) -> None:
    if percent is not None and not 0 <= percent <= 100:
        raise UsageError(f"--canary-percent must be between 0 and 100 (got {percent:g})")


def default_version(ctx: DeployContext) -> str:
    """The version to deploy when none is given: staging's for other environments, else the newest."""
    versions = ctx.registry.versions()
    if not versions:
        raise UsageError(f"model {ctx.registry.name!r} has no versions in the registry: run `mlgate register` first")
    if ctx.env != "staging" and "staging" in ctx.config.environments:
        staged = ctx.registry.alias(env_alias(ctx.config, "staging"))
        if staged:
            return staged
    return versions[-1]
