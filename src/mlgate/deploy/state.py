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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.deploy.record import Holder, Record, interrupted, read_holder, read_record
from mlgate.errors import RegistryError, UsageError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlgate.config import Config
    from mlgate.serve.plan import ModelRef, Plan
    from mlgate.serve.settings import ServeSettings

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
    from mlgate.tracking import ci_job_id

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

    def traffic(self) -> Traffic:
        """What clients get: stable, canary and its weight, shadow and its share."""
        return traffic(self.stable, self.canary, self.canary_weight, self.shadow, self.shadow_share)


Traffic = tuple[str | None, str | None, float, str | None, float]


def traffic(stable: str | None, canary: str | None, weight: float, shadow: str | None, share: float) -> Traffic:
    """``(stable, canary, weight, shadow, share)`` with a side slot at 0% counted as absent."""
    canary = canary if canary and weight > 0 else None
    shadow = shadow if shadow and share > 0 else None
    return (stable, canary, weight if canary else 0.0, shadow, share if shadow else 0.0)


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
        from mlgate.registry.store import open_store

        self.config = config
        self.name = config.model_name
        self.client = client or open_store(config)

    # -- versions and aliases ---------------------------------------------------------

    def versions(self) -> list[str]:
        from mlgate.registry.store import retry

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
        from mlgate.registry.store import retry

        if version is None:
            if self.alias(alias) is not None:
                retry(lambda: self.client.delete_registered_model_alias(self.name, alias), f"delete alias {alias}")
            return
        retry(lambda: self.client.set_registered_model_alias(self.name, alias, version), f"set alias {alias}")

    def set_tag(self, key: str, value: str | None) -> None:
        from mlgate.registry.store import retry

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
        canary, shadow = aliases.get(f"{alias}-canary"), aliases.get(f"{alias}-shadow")
        state = EnvState(env, alias, aliases.get(alias), canary,
                         float(tags.get(f"{TAG}{alias}-canary.weight", 0) or 0) if canary else 0.0,
                         shadow, float(tags.get(f"{TAG}{alias}-shadow.share", 0) or 0) if shadow else 0.0,
                         aliases.get(f"{alias}-previous"))
        if with_lock:
            state.record = read_record(self, alias)
            state.holder = read_holder(self, alias)
            state.interrupted = interrupted(state.record, state.holder, self.config.deploy.lock_ttl_s)
        return state

    def point(self, env: str, stable: str | None, previous: str | None,
              canary: tuple[str, float] | None = None, shadow: tuple[str, float] | None = None) -> None:
        """Set what environment ``env`` serves (None removes an alias), in the order that keeps a
        rollback target: ``<alias>-previous`` first, then the stable alias, then canary and shadow."""
        alias = env_alias(self.config, env)
        self.set_alias(f"{alias}-previous", previous if previous != stable else None)
        self.set_alias(alias, stable)
        self.set_side(env, "canary", canary[0] if canary else None, canary[1] if canary else 0.0)
        self.set_side(env, "shadow", shadow[0] if shadow else None, shadow[1] if shadow else 0.0)

    def set_side(self, env: str, role: str, version: str | None, percent: float = 0.0) -> None:
        """Point ``<alias>-canary`` / ``<alias>-shadow`` at a version with its percent (None clears)."""
        alias = f"{env_alias(self.config, env)}-{role}"
        self.set_alias(alias, version)
        key = f"{TAG}{alias}.{'weight' if role == 'canary' else 'share'}"
        self.set_tag(key, None if version is None else f"{percent:g}")

    # -- history ----------------------------------------------------------------------

    def _history_experiment(self) -> str:
        from mlgate.tracking import artifact_root, tracking_uri

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
        from mlgate.registry.store import retry

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

    # -- models on disk ---------------------------------------------------------------

    def download(self, version: str) -> ModelRef:
        """The version's model folder in MLflow's local cache."""
        from mlgate.serve.loading import resolve_model
        from mlgate.serve.plan import ModelRef

        uri = f"models:/{self.name}/{version}"
        resolved = resolve_model(uri, self.config, version)
        return ModelRef(version, resolved.path, uri)


def deployment_summary(config: Config, limit: int = 10) -> tuple[list[EnvState], list[Event]]:
    """Each environment's registry state and the recent history; nothing when there is no store yet."""
    from mlgate.tracking import tracking_uri

    uri = tracking_uri(config)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return [], []
    registry = Registry(config)
    states = [registry.env_state(env, with_lock=True) for env in sorted(config.environments)]
    return states, registry.history(limit)


def describe_state(state: EnvState) -> str:
    """``production: version 2 (canary 3 at 10%)``, and a line on a deploy under way or interrupted."""
    from mlgate.deploy.record import now_iso

    sides = [f"{role} {v} at {p:g}%" for role, v, p in (("canary", state.canary, state.canary_weight),
                                                       ("shadow", state.shadow, state.shadow_share)) if v]
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


# ---- the server side: resolving versions and converging to the registry ------------------


def server_config(settings: ServeSettings) -> Config:
    """The config an ``--env`` server was started with (read again: it names the registry)."""
    return _server_config(settings)


def _server_config(settings: ServeSettings) -> Config:
    from mlgate.config import load_config

    if not settings.config_path:
        raise UsageError("this server was started without --env and --config, so it cannot read the "
                         "registry; start it with `mlgate serve --env E --config mlgate.yaml`")
    return load_config(settings.config_path)


def _loaded(plan: Plan | None, version: str) -> ModelRef | None:
    if plan is None:
        return None
    for ref in plan.refs():
        if ref.version == version:
            return ref
    return None


def resolve_for_server(settings: ServeSettings, version: str, plan: Plan | None) -> ModelRef:
    """A version's model on disk: one this server already holds, else fetched from the registry."""
    ref = _loaded(plan, version)
    if ref is not None:
        return ref
    registry = Registry(_server_config(settings))
    registry.check_version(version)
    return registry.download(version)


def env_refs(config: Config, env: str, plan: Plan | None = None) -> tuple[EnvState, dict[str, ModelRef]]:
    """The environment's registry state and a model on disk for each version in it (no ``stable``
    ref when the environment has no version yet; then no canary or shadow either)."""
    registry = Registry(config)
    state = registry.env_state(env)
    refs: dict[str, ModelRef] = {}
    if state.stable is None:
        return state, refs
    for role, version in (("stable", state.stable), ("canary", state.canary), ("shadow", state.shadow)):
        if version is not None:
            refs[role] = _loaded(plan, version) or registry.download(version)
    return state, refs


def converge_plan(settings: ServeSettings, current: Plan, loaded: Plan | None, *, tidy: bool = False,
                  keep_s: float | None = None) -> Plan:
    """The plan that serves what the registry's aliases say for this server's environment.

    Only what differs changes: a canary that stays keeps its observations. A slot staged at 0%
    by a deploy under way (a candidate, a canary or shadow not yet in the registry) stays
    unless ``tidy`` (an explicit reload) asks to drop the canary and shadow ones.
    """
    if not settings.env:
        raise UsageError("this server serves no environment (start it with --env E) so it has no aliases "
                         "to converge to")
    state, refs = env_refs(_server_config(settings), settings.env, loaded)
    plan = current
    if "stable" not in refs:
        if plan.empty:
            return plan
        raise UsageError(f"the registry names no version for environment {settings.env} (alias {state.alias!r} "
                         f"is gone); this server keeps serving version {plan.stable.version}. Deploy a version "
                         "or set the alias again")
    keep = settings.keep_previous_s if keep_s is None else keep_s
    if plan.empty or refs["stable"].version != plan.stable.version:
        plan = plan.stage(refs["stable"], "candidate").switch(keep)
    for role, share in (("canary", state.canary_weight), ("shadow", state.shadow_share)):
        served = plan.slot(role)
        served_share = plan.canary_weight if role == "canary" else plan.shadow_share
        if role in refs:
            if served is None or served.version != refs[role].version:
                plan = plan.stage(refs[role], role)
                served_share = 0.0
            if served_share != share:
                plan = plan.route(**{role: share})
        elif served is not None and (served_share > 0 or tidy):
            plan = plan.discard(role)
    return plan


def served_traffic(plan: Plan) -> Traffic:
    """What a plan gives clients, in the shape of ``EnvState.traffic`` (0% slots do not count)."""
    return traffic(None if plan.empty else plan.stable.version, plan.canary.version if plan.canary else None,
                   plan.canary_weight, plan.shadow.version if plan.shadow else None, plan.shadow_share)


class RegistryWatch:
    """What the registry says an environment should serve, read cheaply and often (the server's follower).

    A SQLite store is read with one SQL query (``mlgate.registry.peek``); any other store through
    MLflow's client, opened once.
    """

    def __init__(self, config: Config, env: str) -> None:
        from mlgate.tracking import tracking_uri

        self.config = config
        self.env = env
        self.alias = env_alias(config, env)
        uri = tracking_uri(config)
        self.db = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
        self._registry: Registry | None = None

    def traffic(self) -> Traffic | None:
        """``EnvState.traffic()`` of the environment, or None when the store cannot be read now."""
        if self.db is not None:
            from mlgate.registry.peek import aliases_and_tags

            found = aliases_and_tags(self.db, self.config.model_name)
            if found is None:
                return None
            aliases, tags = found
            a = self.alias
            canary, shadow = aliases.get(f"{a}-canary"), aliases.get(f"{a}-shadow")
            return traffic(aliases.get(a), canary, float(tags.get(f"{TAG}{a}-canary.weight", 0) or 0),
                           shadow, float(tags.get(f"{TAG}{a}-shadow.share", 0) or 0))
        try:
            if self._registry is None:
                self._registry = Registry(self.config)
            return self._registry.env_state(self.env).traffic()
        except Exception:  # an unreachable store: keep serving what the server has, try again later
            return None


def server_watch(settings: ServeSettings) -> RegistryWatch | None:
    """The registry watch of an ``--env`` server, else None."""
    if not settings.env or not settings.config_path:
        return None
    return RegistryWatch(_server_config(settings), settings.env)


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
    from dataclasses import asdict

    return asdict(event)
