"""The registry part of a rollback, run by the model server itself: lock, record, aliases, in one call.

`mlgate rollback` would otherwise import MLflow (1.6 s) before it could write the registry,
and the registry must be written before the server switches (a server follows its registry:
a switch the registry does not name is undone). The ``--env`` server has MLflow loaded
already, so the command asks it (``POST /admin/env-rollback``) to take the environment's lock
on the command's behalf (its holder is the command's process, so a killed command leaves a
stale lock), write the in-progress record, point the aliases back and converge; the command
then writes the history, closes the record and gives the lock back.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.deploy.record import EnvLock, Record, read_record, write_record
from mlgate.deploy.state import EnvState, Registry, env_alias
from mlgate.errors import UsageError
from mlgate.roles import SIDE_ROLES, side_names

if TYPE_CHECKING:
    from mlgate.config import Config


@dataclass
class RollbackPlan:
    """What a rollback changes in the registry: the side slots it drops, else the stable version's target."""

    state: EnvState
    dropped: list[str]
    target: str | None

    @classmethod
    def of(cls, state: EnvState, slots: dict[str, str], alias: str, env: str) -> RollbackPlan:
        dropped = [r.name for r in SIDE_ROLES if state.version(r.name) or r.name in slots]
        target = state.stable if dropped else (state.previous or slots.get("previous"))
        if not dropped and target is None:
            raise UsageError(f"nothing to roll back to on {env}: no {side_names()}, and no previous version "
                             f"(alias {alias}-previous) in the registry")
        return cls(state, dropped, target)

    def write(self, registry: Registry, env: str) -> None:
        """Point the aliases back: drop the side roles, else the previous version becomes stable."""
        state = self.state
        if self.dropped:
            registry.point(env, state.stable, state.previous)
        else:
            registry.point(env, self.target, state.stable)

    def what(self, slots: dict[str, str]) -> str:
        if self.dropped:
            names = ", ".join(str(getattr(self.state, r) or slots.get(r)) for r in self.dropped)
            return f"dropped the {' and '.join(self.dropped)} slot ({names})"
        return f"switched from version {self.state.stable} back to {self.target}"

    def from_version(self, slots: dict[str, str]) -> str | None:
        if self.dropped:
            role = self.dropped[0]
            return getattr(self.state, role) or slots.get(role)
        return self.state.stable


@dataclass
class Started:
    """The answer of the server's registry part, for the command to finish the rollback with."""

    token: str
    plan: dict[str, Any]
    interrupted: dict[str, Any] | None = None
    messages: list[str] = field(default_factory=list)


def start_rollback(config: Config, env: str, slots: dict[str, str], who: str, host: str, pid: int) -> Started:
    """Take the lock for the command's process (over any deploy), write the record, point the aliases back."""
    registry = Registry(config)
    alias = env_alias(config, env)
    last = read_record(registry, alias)
    lock = EnvLock(registry, alias, who, "rollback", config.deploy.lock_ttl_s, take_over=True)
    lock.holder.host, lock.holder.pid = host, pid
    lock.acquire(heartbeat=False)  # the command gives it back; if the command dies, it goes stale
    state = registry.env_state(env)
    try:
        plan = RollbackPlan.of(state, slots, alias, env)
    except UsageError:
        lock.release()
        raise
    record = Record("rollback", "", state.stable, plan.target, who, time.time(), step="alias", token=lock.holder.token)
    write_record(registry, alias, record)
    plan.write(registry, env)
    interrupted = asdict(last) if last is not None and last.state == "in-progress" else None
    return Started(lock.holder.token, {"stable": state.stable, "previous": state.previous,
                                       **{name: v for name, (v, _) in state.sides().items()},
                                       "dropped": plan.dropped, "target": plan.target,
                                       "what": plan.what(slots), "from": plan.from_version(slots)},
                   interrupted, lock.messages)
