"""Deployment state in the registry: the environments' aliases, the canary weight, the history.

The registry is the source of truth, so a CI job on another machine sees the same state:

- aliases: ``<env alias>`` (``staging``, ``production``) names the stable version,
  ``<alias>-canary`` the canary and ``<alias>-shadow`` the shadow;
- registered-model tags ``mlgate.deploy.<alias>-canary.weight`` and
  ``mlgate.deploy.<alias>-shadow.share`` hold their traffic percent;
- the history: one MLflow run per deploy, step, promotion or rollback in the experiment
  ``mlgate-deployments/<model>``, tagged with who, when (the run's start), why, the action,
  the strategy and the versions from and to.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.deploy.record import Holder, Record, interrupted, now_iso, read_holder, read_record
from mlgate.errors import RegistryError, UsageError
from mlgate.registry.store import open_store, retry
from mlgate.roles import SIDE_ROLES, role
from mlgate.tracking import artifact_root, ci_job_id, tracking_uri

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlgate.config import Config

TAG = "mlgate.deploy."
HISTORY_FIELDS = ("env", "action", "strategy", "from_version", "to_version", "who", "why", "outcome")


def env_alias(config: Config, env: str) -> str:
    """The registry alias of an environment (``environments.E.alias``, default the name)."""
    if env not in config.environments:
        known = ", ".join(sorted(config.environments)) or "none"
        raise UsageError(f"unknown environment {env!r}: mlgate.yaml 'environments' defines {known}; "
                         f"add environments -> {env} -> url")
    return config.environments[env].alias or env


def who() -> str:
    """The person or CI job acting: GitLab's or GitHub's user, else user@host; with the CI job id."""
    user = os.environ.get("GITLAB_USER_LOGIN") or os.environ.get("GITHUB_ACTOR")
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        user = f"{user}@{socket.gethostname()}"
    job = ci_job_id()
    return f"{user} (CI job {job})" if job else user


@dataclass
class EnvState:
    """What the registry says an environment should serve."""

    env: str
    alias: str
    stable: str | None
    canary: str | None = None
    canary_weight: float = 0.0
    shadow: str | None = None
    shadow_share: float = 0.0
    previous: str | None = None  # alias <alias>-previous: the target of `mlgate rollback`
    record: Record | None = None  # the last deploy action (see mlgate.deploy.record)
    holder: Holder | None = None  # who holds the deploy lock now
    interrupted: bool = False

    def version(self, name: str) -> str | None:
        """The version in a role (``stable``, ``previous`` or a side role), or None."""
        return getattr(self, name) if name in ("stable", "previous") or role(name).side else None

    def share(self, name: str) -> float:
        """A side role's percent (0 for any other role)."""
        field_name = role(name).share_field
        return float(getattr(self, field_name)) if field_name else 0.0

    def sides(self) -> dict[str, tuple[str | None, float]]:
        """``{side role: (version, percent)}``."""
        return {r.name: (self.version(r.name), self.share(r.name)) for r in SIDE_ROLES}

    def traffic(self) -> Traffic:
        """What clients get: stable, then each side role's version and percent."""
        return traffic(self.stable, self.sides())


Traffic = tuple[Any, ...]


def traffic(stable: str | None, sides: dict[str, tuple[str | None, float]]) -> Traffic:
    """``(stable, canary, weight, shadow, share)``: stable, then each side role's version and percent
    in ``SIDE_ROLES`` order, with a side slot at 0% counted as absent."""
    out: list[Any] = [stable]
    for side in SIDE_ROLES:
        version, share = sides.get(side.name, (None, 0.0))
        live = version if version and share > 0 else None
        out += [live, share if live else 0.0]
    return tuple(out)


@dataclass
class Event:
    """One line of the deployment history."""

    time: str
    env: str
    action: str
    strategy: str = ""
    from_version: str = ""
    to_version: str = ""
    who: str = ""
    why: str = ""
    outcome: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class Registry:
    """The registry operations deploy needs, on one model of one store."""

    def __init__(self, config: Config, client: MlflowClient | None = None) -> None:
        self.config = config
        self.name = config.model_name
        self.client = client or open_store(config)

    # -- versions and aliases ---------------------------------------------------------

    def versions(self) -> list[str]:
        try:  # retried: a server's worker reads while a deploy writes the same SQLite file
            found = retry(lambda: self.client.search_model_versions(f"name = '{self.name}'"),
                          f"list the versions of {self.name!r}")
        except Exception as exc:  # MLflow raises its own types for a broken store
            raise RegistryError(f"cannot list the versions of {self.name!r}: {exc}") from exc
        return sorted((str(v.version) for v in found), key=int)

    def check_version(self, version: str) -> str:
        """``version`` when it exists, else a UsageError listing the versions there are."""
        versions = self.versions()
        if version not in versions:
            listed = f"{versions[0]}-{versions[-1]}" if len(versions) > 2 else ", ".join(versions) or "none"
            raise UsageError(f"model {self.name!r} has no version {version} (versions: {listed}). "
                             "See `mlgate status`.")
        return version

    def alias(self, alias: str) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(self.name, alias).version)
        except Exception:  # MLflow raises RestException for a missing alias or model
            return None

    def tags(self) -> dict[str, str]:
        try:
            return dict(self.client.get_registered_model(self.name).tags)
        except Exception:  # the model does not exist yet
            return {}

    def set_alias(self, alias: str, version: str | None) -> None:
        if version is None:
            if self.alias(alias) is not None:
                retry(lambda: self.client.delete_registered_model_alias(self.name, alias), f"delete alias {alias}")
            return
        retry(lambda: self.client.set_registered_model_alias(self.name, alias, version), f"set alias {alias}")

    def set_tag(self, key: str, value: str | None) -> None:
        if value is None:
            if key in self.tags():
                retry(lambda: self.client.delete_registered_model_tag(self.name, key), f"delete tag {key}")
            return
        retry(lambda: self.client.set_registered_model_tag(self.name, key, value), f"set tag {key}")

    def aliases(self) -> dict[str, str]:
        """Every alias of the model and its version, in one call."""
        try:
            model = self.client.get_registered_model(self.name)
        except Exception:  # the model does not exist yet
            return {}
        raw = getattr(model, "aliases", None) or {}
        if isinstance(raw, dict):
            return {str(k): str(v) for k, v in raw.items()}
        return {str(a.alias): str(a.version) for a in raw}

    def env_state(self, env: str, with_lock: bool = False) -> EnvState:
        """The environment's versions (and, with ``with_lock``, its deploy record and lock holder)."""
        alias = env_alias(self.config, env)
        tags = self.tags()
        aliases = self.aliases()
        sides: dict[str, Any] = {}
        for side in SIDE_ROLES:
            version = aliases.get(side.alias(alias))
            sides[side.name] = version
            sides[str(side.share_field)] = float(tags.get(f"{TAG}{side.alias(alias)}.{side.tag_key}", 0) or 0) \
                if version else 0.0
        state = EnvState(env, alias, aliases.get(alias), previous=aliases.get(f"{alias}-previous"), **sides)
        if with_lock:
            state.record = read_record(self, alias)
            state.holder = read_holder(self, alias)
            state.interrupted = interrupted(state.record, state.holder, self.config.deploy.lock_ttl_s)
        return state

    def point(self, env: str, stable: str | None, previous: str | None,
              keep: dict[str, tuple[str, float]] | None = None) -> None:
        """Set what environment ``env`` serves (None removes an alias), in the order that keeps a
        rollback target: ``<alias>-previous`` first, then the stable alias, then the side roles."""
        alias = env_alias(self.config, env)
        self.set_alias(f"{alias}-previous", previous if previous != stable else None)
        self.set_alias(alias, stable)
        for side in SIDE_ROLES:  # ``keep``: the side roles that stay, with their version and percent
            kept = (keep or {}).get(side.name)
            self.set_side(env, side.name, kept[0] if kept else None, kept[1] if kept else 0.0)

    def set_side(self, env: str, name: str, version: str | None, percent: float = 0.0) -> None:
        """Point a side role's alias (``<alias>-canary``) at a version with its percent (None clears)."""
        side = role(name)
        alias = side.alias(env_alias(self.config, env))
        self.set_alias(alias, version)
        key = f"{TAG}{alias}.{side.tag_key}"
        self.set_tag(key, None if version is None else f"{percent:g}")

    # -- history ----------------------------------------------------------------------

    def _history_experiment(self) -> str:
        name = f"mlgate-deployments/{self.name}"
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        local = tracking_uri(self.config).startswith(("sqlite:", "file:"))
        try:
            return str(self.client.create_experiment(name, artifact_location=artifact_root(self.config)
                                                     if local else None))
        except Exception:  # another job created it between the lookup and the create
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return str(found.experiment_id)

    def record(self, event: Event) -> None:
        """Append an event to the history (an MLflow run, so every client of the store sees it)."""
        tags = {f"{TAG}{k}": str(getattr(event, k)) for k in HISTORY_FIELDS if getattr(event, k)}
        tags.update({f"{TAG}{k}": v for k, v in event.extra.items()})
        tags["mlflow.runName"] = f"{event.action} {event.env} {event.from_version or '-'} -> {event.to_version or '-'}"
        experiment = retry(self._history_experiment, "open the deployment history")
        run = retry(lambda: self.client.create_run(experiment, tags=tags), "record the deployment history")
        retry(lambda: self.client.set_terminated(run.info.run_id), "record the deployment history")

    def history(self, limit: int = 20, env: str | None = None) -> list[Event]:
        """The most recent events first."""
        found = self.client.get_experiment_by_name(f"mlgate-deployments/{self.name}")
        if found is None:
            return []
        query = f"tags.`{TAG}env` = '{env}'" if env else ""
        runs = self.client.search_runs([found.experiment_id], query, max_results=limit,
                                       order_by=["attributes.start_time DESC"])
        events = []
        for run in runs:
            tags = run.data.tags
            when = datetime.fromtimestamp(run.info.start_time / 1000, UTC).isoformat(timespec="seconds")
            fields: dict[str, Any] = {k: tags.get(f"{TAG}{k}", "") for k in HISTORY_FIELDS}
            events.append(Event(when, **fields))
        return events


def deployment_summary(config: Config, limit: int = 10) -> tuple[list[EnvState], list[Event]]:
    """Each environment's registry state and the recent history; nothing when there is no store yet."""
    uri = tracking_uri(config)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return [], []
    registry = Registry(config)
    states = [registry.env_state(env, with_lock=True) for env in sorted(config.environments)]
    return states, registry.history(limit)


def describe_state(state: EnvState) -> str:
    """``production: version 2 (canary 3 at 10%)``, and a line on a deploy under way or interrupted."""
    sides = [f"{name} {v} at {p:g}%" for name, (v, p) in state.sides().items() if v]
    line = f"{state.env}: version {state.stable or 'none'}" + (f" ({', '.join(sides)})" if sides else "")
    if state.previous:
        line += f"; rollback target: version {state.previous}"
    record = state.record
    if state.interrupted and record is not None:
        line += (f"\n  interrupted: {record.describe()} stopped at step '{record.step}'; clients get version "
                 f"{state.stable or 'none'} (what the registry says; the server converges to it)")
    elif record is not None and record.state == "in-progress" and state.holder is not None:
        line += (f"\n  being deployed: {record.describe()}, at step '{record.step}' (lock held by "
                 f"{state.holder.describe()})")
    elif state.holder is not None:
        line += f"\n  locked by {state.holder.describe()}"
    elif record is not None and record.state == "failed":
        line += f"\n  last deploy failed: {record.describe()}: {record.outcome} (finished {now_iso(record.finished)})"
    return line


def describe_event(event: Event) -> str:
    """``2026-12-01T23:10:00+00:00 production rollback (blue-green): 3 -> 2, rolled back, by ci: why``.

    A deploy refused before traffic reads as refused, naming the version that kept serving; a
    first deploy reads ``none -> 1``; a version deployed where it already served says so.
    """
    old, new = event.from_version, event.to_version
    strategy = f" ({event.strategy})" if event.strategy else ""
    why = f": {event.why}" if event.why else ""
    if event.outcome == "failed":
        kept = f"version {old} kept serving" if old else "nothing was serving"
        change = f"version {new or '-'} refused before any traffic ({kept})"
    elif old and old == new:
        change = f"version {new} (already serving), {event.outcome}" if event.outcome else f"version {new}"
    else:
        change = f"{old or 'none'} -> {new or '-'}" + (f", {event.outcome}" if event.outcome else "")
    return f"{event.time} {event.env} {event.action}{strategy}: {change}, by {event.who}{why}"


def as_dict(event: Event) -> dict[str, Any]:
    return asdict(event)
