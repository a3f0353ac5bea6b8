"""What the registry says a server should serve, and the plan that serves it.

The server side of ``mlgate.deploy.state``: an ``--env`` server reads its environment's aliases
(through ``Registry``), fetches each named version's model folder, and converges its plan to
them. Deploy writes the registry and never imports the server; the server reads what deploy
wrote, so serve sits above deploy.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.deploy.state import TAG, EnvState, Registry, Traffic, env_alias, traffic
from mlgate.errors import UsageError
from mlgate.registry.peek import aliases_and_tags
from mlgate.roles import CANDIDATE, SIDE_ROLES, STABLE
from mlgate.serve.loading import resolve_model
from mlgate.serve.plan import ModelRef, Plan
from mlgate.tracking import tracking_uri

if TYPE_CHECKING:
    from mlgate.config import Config
    from mlgate.serve.settings import ServeSettings


def server_config(settings: ServeSettings) -> Config:
    """The config an ``--env`` server was started with (read again: it names the registry)."""
    from mlgate.config import load_config  # pydantic's models: a --model worker never needs them

    if not settings.config_path:
        raise UsageError("this server was started without --env and --config, so it cannot read the "
                         "registry; start it with `mlgate serve --env E --config mlgate.yaml`")
    return load_config(settings.config_path)


def download(registry: Registry, version: str) -> ModelRef:
    """The version's model folder in MLflow's local cache."""
    uri = f"models:/{registry.name}/{version}"
    resolved = resolve_model(uri, registry.config, version)
    return ModelRef(version, resolved.path, uri)


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
    registry = Registry(server_config(settings))
    registry.check_version(version)
    return download(registry, version)


def env_refs(config: Config, env: str, plan: Plan | None = None) -> tuple[EnvState, dict[str, ModelRef]]:
    """The environment's registry state and a model on disk for each version in it (no ``stable``
    ref when the environment has no version yet; then no side role either)."""
    registry = Registry(config)
    state = registry.env_state(env)
    refs: dict[str, ModelRef] = {}
    if state.stable is None:
        return state, refs
    for name in (STABLE.name, *(r.name for r in SIDE_ROLES)):
        version = state.version(name)
        if version is not None:
            refs[name] = _loaded(plan, version) or download(registry, version)
    return state, refs


def converge_plan(settings: ServeSettings, current: Plan, loaded: Plan | None, *, tidy: bool = False,
                  keep_s: float | None = None) -> Plan:
    """The plan that serves what the registry's aliases say for this server's environment.

    Only what differs changes: a canary that stays keeps its observations. A slot staged at 0%
    by a deploy under way (a candidate, a canary or shadow not yet in the registry) stays
    unless ``tidy`` (an explicit reload) asks to drop the side ones.
    """
    if not settings.env:
        raise UsageError("this server serves no environment (start it with --env E) so it has no aliases "
                         "to converge to")
    state, refs = env_refs(server_config(settings), settings.env, loaded)
    plan = current
    if STABLE.name not in refs:
        if plan.empty:
            return plan
        raise UsageError(f"the registry names no version for environment {settings.env} (alias {state.alias!r} "
                         f"is gone); this server keeps serving version {plan.stable.version}. Deploy a version "
                         "or set the alias again")
    keep = settings.keep_previous_s if keep_s is None else keep_s
    if plan.empty or refs[STABLE.name].version != plan.stable.version:
        plan = plan.stage(refs[STABLE.name], CANDIDATE.name).switch(keep)
    for side in SIDE_ROLES:
        share = state.share(side.name)
        served = plan.slot(side.name)
        served_share = plan.share(side.name)
        if side.name in refs:
            if served is None or served.version != refs[side.name].version:
                plan = plan.stage(refs[side.name], side.name)
                served_share = 0.0
            if served_share != share:
                plan = plan.route(**{side.name: share})
        elif served is not None and (served_share > 0 or tidy):
            plan = plan.discard(side.name)
    return plan


def served_traffic(plan: Plan) -> Traffic:
    """What a plan gives clients, in the shape of ``EnvState.traffic`` (0% slots do not count)."""
    return traffic(None if plan.empty else plan.stable.version,
                   {r.name: ((ref.version if (ref := plan.slot(r.name)) else None), plan.share(r.name))
                    for r in SIDE_ROLES})


class RegistryWatch:
    """What the registry says an environment should serve, read cheaply and often (the server's follower).

    A SQLite store is read with one SQL query (``mlgate.registry.peek``); any other store through
    MLflow's client, opened once.
    """

    def __init__(self, config: Config, env: str) -> None:
        self.config = config
        self.env = env
        self.alias = env_alias(config, env)
        uri = tracking_uri(config)
        self.db = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
        self._registry: Registry | None = None

    def traffic(self) -> Traffic | None:
        """``EnvState.traffic()`` of the environment, or None when the store cannot be read now."""
        if self.db is not None:
            found = aliases_and_tags(self.db, self.config.model_name)
            if found is None:
                return None
            aliases, tags = found
            a = self.alias
            return traffic(aliases.get(a), {r.name: (aliases.get(r.alias(a)),
                                                     float(tags.get(f"{TAG}{r.alias(a)}.{r.tag_key}", 0) or 0))
                                            for r in SIDE_ROLES})
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
    return RegistryWatch(server_config(settings), settings.env)
