"""What a server should serve: the plan of its slots, and the pure operations that change it.

A plan names the model in each slot: two colours, ``blue`` and ``green``, one of them live
(the stable slot, answering clients) and the other idle, holding either the ``previous``
version (kept loaded for an instant rollback) or a staged ``candidate`` (loaded, warmed up
and self-tested, reachable only through ``/_slot/candidate/...`` with the admin key); a
``canary`` slot taking ``canary_weight`` percent of requests; and a ``shadow`` slot that
receives a copy of ``shadow_share`` percent of requests and answers no client.

Operations return a new plan with the next generation and never mutate their input, so a
worker can apply a plan atomically by swapping one reference.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from mlgate.errors import UsageError
from mlgate.roles import CANDIDATE, PREVIOUS, ROLES, SIDE_ROLES, STABLE, role, side_names
from mlgate.serve.loading import pin_of

Colour = Literal["blue", "green"]


@dataclass(frozen=True)
class ModelRef:
    """A model version on local disk."""

    version: str
    path: str
    source: str = ""
    sha256: str | None = None  # the registered pin: every worker checks the bytes it loads

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> ModelRef | None:
        if not raw:
            return None
        return cls(str(raw["version"]), str(raw["path"]), str(raw.get("source", "")), raw.get("sha256"))

    def pinned(self) -> ModelRef:
        """This ref with the pin its folder was checked against in this process, when it has none."""
        pin = self.sha256 or pin_of(self.path)
        return self if pin == self.sha256 else replace(self, sha256=pin)


@dataclass(frozen=True)
class Plan:
    """The slots of one server at one generation."""

    generation: int
    live: Colour
    blue: ModelRef | None
    green: ModelRef | None = None
    idle_role: Literal["previous", "candidate"] | None = None
    keep_until: float | None = None
    canary: ModelRef | None = None
    canary_weight: float = 0.0
    shadow: ModelRef | None = None
    shadow_share: float = 0.0
    observe_since: float = field(default_factory=time.time)

    # -- reading ----------------------------------------------------------------------

    @property
    def idle(self) -> Colour:
        return "green" if self.live == "blue" else "blue"

    def colour(self, name: Colour) -> ModelRef | None:
        return self.blue if name == "blue" else self.green

    @property
    def empty(self) -> bool:
        """No version is live yet (an environment's server before its first deploy)."""
        return self.colour(self.live) is None

    @property
    def stable(self) -> ModelRef:
        ref = self.colour(self.live)
        assert ref is not None, "a plan always has a live model"
        return ref

    def slot(self, name: str) -> ModelRef | None:
        """The model in a role (``mlgate.roles``: stable, candidate, previous, canary, shadow), or None."""
        if name == STABLE.name:
            return self.colour(self.live)
        if name in (CANDIDATE.name, PREVIOUS.name):
            return self.colour(self.idle) if self.idle_role == name else None
        if name in ROLES and ROLES[name].side:
            ref: ModelRef | None = getattr(self, name)
            return ref
        return None

    def share(self, name: str) -> float:
        """A side role's percent of requests (0 for any other role)."""
        field_name = ROLES[name].share_field if name in ROLES else None
        return float(getattr(self, field_name)) if field_name else 0.0

    def sides(self) -> dict[str, ModelRef]:
        """``{side role: model}`` of the filled side slots."""
        return {r.name: ref for r in SIDE_ROLES if (ref := getattr(self, r.name)) is not None}

    def refs(self) -> list[ModelRef]:
        """Every model the plan keeps loaded (the previous one only until ``keep_until``)."""
        out = [] if self.empty else [self.stable]
        idle = self.colour(self.idle)
        if idle is not None and (self.idle_role == "candidate" or self.keep_until is None
                                 or time.time() < self.keep_until):
            out.append(idle)
        out += list(self.sides().values())
        return out

    def versions(self) -> dict[str, str]:
        """``{role: version}`` of the filled roles."""
        return {name: ref.version for name in ROLES if (ref := self.slot(name)) is not None}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def pinned(self) -> Plan:
        """The same plan with each registered model's pin (``ModelRef.pinned``); same generation."""
        def pin(ref: ModelRef | None) -> ModelRef | None:
            return ref.pinned() if ref is not None else None

        sides: dict[str, Any] = {r.name: pin(getattr(self, r.name)) for r in SIDE_ROLES}
        return replace(self, blue=pin(self.blue), green=pin(self.green), **sides)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Plan:
        refs: dict[str, Any] = {k: ModelRef.from_dict(raw.get(k)) for k in ("blue", "green",
                                                                               *(r.name for r in SIDE_ROLES))}
        shares: dict[str, Any] = {str(r.share_field): float(raw.get(str(r.share_field), 0)) for r in SIDE_ROLES}
        return cls(generation=int(raw["generation"]), live=raw["live"], idle_role=raw.get("idle_role"),
                   keep_until=raw.get("keep_until"), observe_since=float(raw.get("observe_since", time.time())),
                   **refs, **shares)

    # -- operations -------------------------------------------------------------------

    def _next(self, **changes: Any) -> Plan:
        return replace(self, generation=self.generation + 1, **changes)

    def _with_colour(self, name: Colour, ref: ModelRef | None, **changes: Any) -> Plan:
        return self._next(**{name: ref}, **changes)

    def stage(self, ref: ModelRef, name: str) -> Plan:
        """Load ``ref`` as the candidate (idle colour), or into a side role at 0% traffic."""
        if name == CANDIDATE.name:
            return self._with_colour(self.idle, ref, idle_role=CANDIDATE.name, keep_until=None)
        if name in ROLES and ROLES[name].side:
            return self._next(**{name: ref, str(ROLES[name].share_field): 0.0}, observe_since=time.time())
        raise UsageError(f"cannot stage into the {name!r} slot; use {CANDIDATE.name}, {side_names(', ')}")

    def switch(self, keep_s: float) -> Plan:
        """Make the staged candidate live; the old live model becomes ``previous``."""
        if self.idle_role != "candidate":
            raise UsageError("no candidate is staged: stage a version before switching")
        return self._next(live=self.idle, idle_role="previous", keep_until=time.time() + keep_s)

    def route(self, **percent: float | None) -> Plan:
        """Set side roles' percent of requests: ``route(canary=10)`` (None leaves one as it is)."""
        changes: dict[str, float] = {}
        for name, value in percent.items():
            if name not in ROLES or not ROLES[name].side:
                raise UsageError(f"cannot route to the {name!r} slot; use {side_names()}")
            if value is None:
                continue
            if not 0 <= value <= 100:
                raise UsageError(f"{name} percent must be between 0 and 100 (got {value:g})")
            if self.slot(name) is None and value > 0:
                raise UsageError(f"no {name} version is loaded: stage one first")
            changes[str(ROLES[name].share_field)] = float(value)
        return self._next(**changes, observe_since=time.time())

    def promote(self, keep_s: float) -> Plan:
        """The first promotable side role's model (the canary, else the shadow) becomes the live model;
        the old live one is kept as previous, and that side slot is emptied."""
        found = next(((r, ref) for r in SIDE_ROLES if r.promotable and (ref := self.slot(r.name)) is not None), None)
        if found is None:
            raise UsageError(f"no {side_names()} version to promote")
        side, ref = found
        staged = self._with_colour(self.idle, ref, idle_role=CANDIDATE.name, keep_until=None)
        promoted = staged.switch(keep_s)
        return replace(promoted, generation=self.generation + 1, **_emptied(side.name))

    def discard(self, name: str) -> Plan:
        """Remove a side slot or the candidate (clients keep the stable model)."""
        if name in ROLES and ROLES[name].side:
            return self._next(**_emptied(name))
        if name == CANDIDATE.name and self.idle_role == CANDIDATE.name:
            return self._with_colour(self.idle, None, idle_role=None)
        return self._next()

    def rollback(self) -> Plan:
        """Drop the side slots when there are any; else make the previous model live again."""
        if self.sides():
            return self._next(**{k: v for r in SIDE_ROLES for k, v in _emptied(r.name).items()})
        if self.idle_role != PREVIOUS.name or self.colour(self.idle) is None:
            raise UsageError(f"nothing to roll back to: no {side_names(', ')} or previous version on this server")
        return self._next(live=self.idle, idle_role=PREVIOUS.name, keep_until=self.keep_until)


def _emptied(name: str) -> dict[str, Any]:
    """The field changes that empty side role ``name``'s slot."""
    return {name: None, str(role(name).share_field): 0.0}


def initial_plan(stable: ModelRef | None, sides: dict[str, tuple[ModelRef | None, float]] | None = None) -> Plan:
    """The first plan of a server: stable in blue (None: an environment with no version yet),
    optionally side roles: ``{"canary": (ref, 10.0)}``."""
    fields: dict[str, Any] = {}
    for name, (ref, share) in (sides or {}).items():
        if ref is not None:
            fields |= {name: ref, str(role(name).share_field): share}
    return Plan(generation=1, live="blue", blue=stable, **fields)
