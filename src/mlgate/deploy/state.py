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
        try:
            found = self.client.search_model_versions(f"name = '{self.name}'")
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

    def env_state(self, env: str) -> EnvState:
        alias = env_alias(self.config, env)
        tags = self.tags()
        canary, shadow = self.alias(f"{alias}-canary"), self.alias(f"{alias}-shadow")
        return EnvState(env, alias, self.alias(alias), canary,
                        float(tags.get(f"{TAG}{alias}-canary.weight", 0) or 0) if canary else 0.0,
                        shadow, float(tags.get(f"{TAG}{alias}-shadow.share", 0) or 0) if shadow else 0.0)

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
    return [registry.env_state(env) for env in sorted(config.environments)], registry.history(limit)


def describe_state(state: EnvState) -> str:
    """``production: version 2 (canary 3 at 10%)``."""
    sides = [f"{role} {v} at {p:g}%" for role, v, p in (("canary", state.canary, state.canary_weight),
                                                       ("shadow", state.shadow, state.shadow_share)) if v]
    return f"{state.env}: version {state.stable or 'none'}" + (f" ({', '.join(sides)})" if sides else "")


# ---- the server side: resolving versions and converging to the registry ------------------


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
    """The environment's registry state and a model on disk for each version in it."""
    registry = Registry(config)
    state = registry.env_state(env)
    if state.stable is None:
        raise UsageError(f"the registry has no {state.alias!r} alias on {registry.name!r}, so environment "
                         f"{env!r} has nothing to serve: deploy a version first (`mlgate deploy --env {env} "
                         "--strategy direct --version V`) or serve with --model")
    refs: dict[str, ModelRef] = {}
    for role, version in (("stable", state.stable), ("canary", state.canary), ("shadow", state.shadow)):
        if version is not None:
            refs[role] = _loaded(plan, version) or registry.download(version)
    return state, refs


def converge_plan(settings: ServeSettings, current: Plan, loaded: Plan | None) -> Plan:
    """The plan that serves what the registry's aliases say for this server's environment."""
    if not settings.env:
        raise UsageError("this server serves no environment (start it with --env E) so it has no aliases "
                         "to converge to")
    state, refs = env_refs(_server_config(settings), settings.env, loaded)
    plan = current
    if refs["stable"].version != plan.stable.version:
        plan = plan.stage(refs["stable"], "candidate").switch(settings.keep_previous_s)
    plan = plan.discard("canary").discard("shadow")
    if "canary" in refs:
        plan = plan.stage(refs["canary"], "canary").route(canary=state.canary_weight)
    if "shadow" in refs:
        plan = plan.stage(refs["shadow"], "shadow").route(shadow=state.shadow_share)
    return plan


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
