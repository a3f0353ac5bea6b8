"""Traffic roles: what a model in each slot of a server does, as data that serve and deploy both read.

A server holds one model per role. A role says who answers clients, whose requests are logged
for canary analysis, how requests reach it, and (for a side slot) how the registry names it:

    stable     answers every request not routed elsewhere; the live colour of the plan
    candidate  staged in the idle colour, reachable only through ``/_slot/candidate`` (admin key)
    previous   the idle colour after a switch, kept loaded for an instant rollback
    canary     answers a weight (percent of client ids, sticky); logged; alias ``<alias>-canary``
    shadow     gets a copy of a share of requests, answers no client; logged; alias ``<alias>-shadow``

The side roles (canary, shadow) each have a model field and a percent field on the server's
``Plan`` and the registry's ``EnvState`` (``canary``/``canary_weight``, ``shadow``/``shadow_share``)
and a registered-model tag ``mlgate.deploy.<alias>-<role>.<tag_key>`` holding the percent. A
deploy strategy names the role it stages into (``Strategy.role``); a new strategy that reuses
these roles is one class in ``mlgate.deploy.strategies``.

This module imports nothing from mlgate: it is the leaf both ``serve`` and ``deploy`` import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Routing = Literal["live", "weight", "copy", "admin"]


@dataclass(frozen=True)
class Role:
    """One traffic role; ``name`` is what plans, admin calls, observations and reports say."""

    name: str
    answers: bool  # its answers go back to clients
    logged: bool  # each request it serves is recorded for `mlgate canary analyze`
    routing: Routing  # live: default lane; weight: a percent of client ids; copy: a copy of a share;
    #                   admin: only through /_slot/<role> with the admin key
    share_field: str | None = None  # the percent's field on Plan and EnvState (side roles only)
    tag_key: str | None = None  # the percent's registered-model tag suffix (side roles only)
    stageable: bool = False  # `POST /admin/stage` and a strategy may load a version into it
    promotable: bool = False  # `mlgate canary promote` can make it the stable model

    @property
    def side(self) -> bool:
        """A slot beside the stable model with its own registry alias and percent."""
        return self.share_field is not None

    @property
    def steps(self) -> bool:
        """Its traffic rises through ``deploy.canary.steps`` on promotion (a weighted side role)."""
        return self.routing == "weight"

    def alias(self, env_alias: str) -> str:
        """The registry alias that names this role's version: ``production-canary``."""
        return env_alias if self.name == "stable" else f"{env_alias}-{self.name}"


STABLE = Role("stable", answers=True, logged=True, routing="live")
CANDIDATE = Role("candidate", answers=False, logged=False, routing="admin", stageable=True)
PREVIOUS = Role("previous", answers=False, logged=False, routing="admin")
CANARY = Role("canary", answers=True, logged=True, routing="weight", share_field="canary_weight",
              tag_key="weight", stageable=True, promotable=True)
SHADOW = Role("shadow", answers=False, logged=True, routing="copy", share_field="shadow_share",
              tag_key="share", stageable=True, promotable=True)

ROLES: dict[str, Role] = {r.name: r for r in (STABLE, CANDIDATE, PREVIOUS, CANARY, SHADOW)}
SIDE_ROLES: tuple[Role, ...] = tuple(r for r in ROLES.values() if r.side)
STAGEABLE: tuple[str, ...] = tuple(r.name for r in ROLES.values() if r.stageable)
BASELINE = "baseline"  # the stable model's lane of a weighted role's size (observations only, not a slot)


def role(name: str) -> Role:
    """The role called ``name``; a KeyError names the known ones."""
    try:
        return ROLES[name]
    except KeyError:
        raise KeyError(f"unknown traffic role {name!r}; roles: {', '.join(ROLES)}") from None


def side_names(joiner: str = " or ") -> str:
    """``canary or shadow``: the side roles for a message."""
    return joiner.join(r.name for r in SIDE_ROLES)
