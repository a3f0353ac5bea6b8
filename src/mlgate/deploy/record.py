"""One deploy per environment at a time, and what the last one did: a lock and a record in the registry.

Both live in the MLflow store, so they hold across CI runners that share a tracking URI:

- **the lock** of environment E is a registered model of its own, ``<model>.deploy-lock.<alias>``.
  Creating a registered model is the one write every MLflow store refuses when the name
  exists (a unique name in SQL, ``RESOURCE_ALREADY_EXISTS`` over REST), so two deploys that
  start at the same moment cannot both take it. Its tags say who holds it, since when, and
  a heartbeat the holder renews every ``deploy.lock_ttl_s / 4`` seconds. A lock whose
  heartbeat is older than ``lock_ttl_s``, or whose holder was a process on this host that no
  longer exists, is stale: the next deploy takes it over and says so.
- **the record** of E is the registered-model tag ``mlgate.deploy.<alias>.record`` (JSON): the
  action, strategy, versions from and to, who, when, the step reached and the state
  (``in-progress``, ``done``, ``failed``). It is written before the server is touched; a
  record still ``in-progress`` whose lock is gone or stale belongs to an interrupted deploy,
  and `mlgate status` says so.

Taking the lock is the first write of every deploy action, so it is also the write probe: a
read-only or unreachable store stops the action before anything else changes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mlgate.errors import MlgateError, RegistryError, UsageError
from mlgate.registry.store import describe_write_failure, retry

if TYPE_CHECKING:
    from mlgate.deploy.state import Registry

PAUSE_ENV = "MLGATE_TEST_PAUSE_AT"
RECORD_TAG = "mlgate.deploy.{alias}.record"
LOCK_TAG = "mlgate.lock"


class DeployLocked(UsageError):
    """Another deploy holds the environment's lock (exit 2)."""


def pause_point(step: str) -> None:
    """Tests only: stop here for good when ``MLGATE_TEST_PAUSE_AT`` names this step (then they SIGKILL)."""
    if os.environ.get(PAUSE_ENV) == step:
        print(f"mlgate: paused at step {step} ({PAUSE_ENV})", file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)


def now_iso(stamp: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if stamp is None else stamp, UTC).isoformat(timespec="seconds")


@dataclass
class Holder:
    """Who holds a lock: a person or CI job, on which host and process, since when, last heard of when."""

    who: str
    host: str
    pid: int
    since: float
    heartbeat: float
    action: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    def stale(self, ttl: float, at: float | None = None) -> bool:
        """No heartbeat for ``ttl`` seconds, or a holder process on this host that is gone."""
        at = time.time() if at is None else at
        if at - self.heartbeat > ttl:
            return True
        if self.host == socket.gethostname():
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:  # alive, another user's
                return False
        return False

    def describe(self) -> str:
        return f"{self.who} ({self.action}, pid {self.pid} on {self.host}) since {now_iso(self.since)}"

    def to_tag(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_tag(cls, raw: str | None) -> Holder | None:
        try:
            data = json.loads(raw or "")
            return cls(str(data["who"]), str(data["host"]), int(data["pid"]), float(data["since"]),
                       float(data["heartbeat"]), str(data.get("action", "")), str(data["token"]))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass
class Record:
    """What the last deploy action on an environment did, or is doing."""

    action: str
    strategy: str
    from_version: str | None
    to_version: str | None
    who: str
    started: float
    state: str = "in-progress"  # in-progress | done | failed
    step: str = "start"
    outcome: str = ""
    token: str = ""
    finished: float | None = None

    def to_tag(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_tag(cls, raw: str | None) -> Record | None:
        try:
            data = json.loads(raw or "")
            return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError):
            return None

    def describe(self) -> str:
        versions = f"{self.from_version or '-'} -> {self.to_version or '-'}"
        strategy = f" ({self.strategy})" if self.strategy else ""
        return f"{self.action}{strategy} {versions} by {self.who} at {now_iso(self.started)}"


def lock_name(registry: Registry, alias: str) -> str:
    return f"{registry.name}.deploy-lock.{alias}"


class EnvLock:
    """The deploy lock of one environment; ``with EnvLock(...)`` takes it, renews it, releases it."""

    def __init__(self, registry: Registry, alias: str, who: str, action: str, ttl: float,
                 wait_s: float = 0.0, force: bool = False, take_over: bool = False) -> None:
        self.registry = registry
        self.alias = alias
        self.name = lock_name(registry, alias)
        now = time.time()
        self.holder = Holder(who, socket.gethostname(), os.getpid(), now, now, action)
        self.ttl = ttl
        self.wait_s = wait_s
        self.force = force
        self.take_over = take_over
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.lost: str | None = None

    # -- reading ----------------------------------------------------------------------

    def current(self) -> Holder | None:
        """The holder the store names now, or None when the environment is not locked."""
        return read_holder(self.registry, self.alias)

    # -- taking and giving back -------------------------------------------------------

    def _create(self) -> bool:
        """Create the lock model; False when it exists already (someone holds the lock)."""
        client = self.registry.client

        def attempt() -> bool:
            try:
                client.create_registered_model(self.name, tags={LOCK_TAG: self.holder.to_tag()},
                                               description="mlgate deploy lock (see docs/deploy.md)")
                return True
            except Exception as exc:
                if getattr(exc, "error_code", "") == "RESOURCE_ALREADY_EXISTS" or "already exists" in str(exc).lower():
                    return False
                raise

        try:
            return retry(attempt, f"take the deploy lock of {self.alias!r}")
        except Exception as exc:
            raise write_failure(self.registry, exc, f"take the deploy lock of {self.alias!r}") from exc

    def _remove(self, expected: Holder | None) -> None:
        """Delete the lock model when it still holds ``expected`` (or unconditionally when None)."""
        if expected is not None:
            now = self.current()
            if now is None or now.token != expected.token:
                return
        try:
            self.registry.client.delete_registered_model(self.name)
        except Exception as exc:
            if "not found" in str(exc).lower() or getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                return
            raise write_failure(self.registry, exc, f"release the deploy lock of {self.alias!r}") from exc

    def acquire(self, heartbeat: bool = True) -> EnvLock:
        """Take the lock (waiting up to ``wait_s``); ``heartbeat``: renew it from a thread until released."""
        deadline = time.monotonic() + self.wait_s
        announced = False
        while True:
            if self._create():
                if heartbeat:
                    self._start_heartbeat()
                return self
            held = self.current()
            if held is None:
                continue  # released between the create and the read
            if self.force or self.take_over or held.stale(self.ttl):
                why = ("--force-unlock" if self.force else "rollback takes over" if self.take_over
                       else "its holder is gone (no heartbeat, or the process no longer exists)")
                self.messages.append(f"took over the deploy lock of environment {self.alias!r} held by "
                                     f"{held.describe()}: {why}")
                print(f"mlgate: {self.messages[-1]}", file=sys.stderr, flush=True)
                self._remove(held)
                continue
            if time.monotonic() >= deadline:
                raise DeployLocked(f"environment {self.alias} is being deployed by {held.describe()}; wait "
                                   "(--lock-wait SECONDS) or use --force-unlock if that deploy is dead")
            if not announced:
                print(f"mlgate: environment {self.alias} is being deployed by {held.describe()}; waiting up to "
                      f"{self.wait_s:g} s", file=sys.stderr, flush=True)
                announced = True
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))

    def _start_heartbeat(self) -> None:
        self._beat = threading.Thread(target=self._heartbeat, name="mlgate-lock-heartbeat", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(max(self.ttl / 4, 0.2)):
            try:
                held = self.current()
                if held is None or held.token != self.holder.token:
                    self.lost = held.describe() if held else "nobody (the lock was removed)"
                    return
                self.holder.heartbeat = time.time()
                self.registry.client.set_registered_model_tag(self.name, LOCK_TAG, self.holder.to_tag())
            except Exception:  # a store hiccup: the next beat tries again; the lock expires only after ttl
                continue

    def check(self) -> None:
        """Raise when the lock was taken over (by a rollback or --force-unlock): stop before writing."""
        held = self.current()
        if held is None or held.token != self.holder.token:
            who = held.describe() if held else "nobody (the lock was removed)"
            raise DeployLocked(f"the deploy lock of environment {self.alias} was taken over by {who}; this "
                               "deploy stops here and changes nothing more")

    def release(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        with contextlib.suppress(MlgateError):  # else the lock expires on its own after lock_ttl_s
            self._remove(self.holder)

    def __enter__(self) -> EnvLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_holder(registry: Registry, alias: str) -> Holder | None:
    try:
        model = registry.client.get_registered_model(lock_name(registry, alias))
    except Exception:  # no lock model: not locked
        return None
    return Holder.from_tag(dict(model.tags).get(LOCK_TAG))


def read_record(registry: Registry, alias: str) -> Record | None:
    return Record.from_tag(registry.tags().get(RECORD_TAG.format(alias=alias)))


def write_record(registry: Registry, alias: str, record: Record) -> None:
    registry.set_tag(RECORD_TAG.format(alias=alias), record.to_tag())


def interrupted(record: Record | None, holder: Holder | None, ttl: float) -> bool:
    """A record still in progress with nobody alive holding its lock: its deploy was killed."""
    if record is None or record.state != "in-progress":
        return False
    return holder is None or holder.token != record.token or holder.stale(ttl)


def write_failure(registry: Registry, exc: BaseException, what: str) -> RegistryError:
    """A registry write that failed, said plainly: read-only, unreachable, or MLflow's first line."""
    return describe_write_failure(exc, what, registry.config)
