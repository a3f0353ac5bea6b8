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

Colour = Literal["blue", "green"]
ROLES = ("stable", "candidate", "previous", "canary", "shadow")


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
        from mlgate.serve.loading import pin_of

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

    def slot(self, role: str) -> ModelRef | None:
        """The model in a role (stable, candidate, previous, canary, shadow), or None."""
        if role == "stable":
            return self.colour(self.live)
        if role in ("candidate", "previous"):
            return self.colour(self.idle) if self.idle_role == role else None
        if role == "canary":
            return self.canary
        if role == "shadow":
            return self.shadow
        return None

    def refs(self) -> list[ModelRef]:
        """Every model the plan keeps loaded (the previous one only until ``keep_until``)."""
        out = [] if self.empty else [self.stable]
        idle = self.colour(self.idle)
        if idle is not None and (self.idle_role == "candidate" or self.keep_until is None
                                 or time.time() < self.keep_until):
            out.append(idle)
        out += [r for r in (self.canary, self.shadow) if r is not None]
        return out

    def versions(self) -> dict[str, str]:
        """``{role: version}`` of the filled roles."""
        return {role: ref.version for role in ROLES if (ref := self.slot(role)) is not None}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def pinned(self) -> Plan:
        """The same plan with each registered model's pin (``ModelRef.pinned``); same generation."""
        def pin(ref: ModelRef | None) -> ModelRef | None:
            return ref.pinned() if ref is not None else None

        return replace(self, blue=pin(self.blue), green=pin(self.green), canary=pin(self.canary),
                       shadow=pin(self.shadow))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Plan:
        refs = {k: ModelRef.from_dict(raw.get(k)) for k in ("blue", "green", "canary", "shadow")}
        return cls(generation=int(raw["generation"]), live=raw["live"], idle_role=raw.get("idle_role"),
                   keep_until=raw.get("keep_until"), canary_weight=float(raw.get("canary_weight", 0)),
                   shadow_share=float(raw.get("shadow_share", 0)),
                   observe_since=float(raw.get("observe_since", time.time())), **refs)

    # -- operations -------------------------------------------------------------------

    def _next(self, **changes: Any) -> Plan:
        return replace(self, generation=self.generation + 1, **changes)

    def _with_colour(self, name: Colour, ref: ModelRef | None, **changes: Any) -> Plan:
        return self._next(**{name: ref}, **changes)

    def stage(self, ref: ModelRef, role: str) -> Plan:
        """Load ``ref`` as the candidate (idle colour), or as the canary/shadow at 0% traffic."""
        if role == "candidate":
            return self._with_colour(self.idle, ref, idle_role="candidate", keep_until=None)
        if role == "canary":
            return self._next(canary=ref, canary_weight=0.0, observe_since=time.time())
        if role == "shadow":
            return self._next(shadow=ref, shadow_share=0.0, observe_since=time.time())
        raise UsageError(f"cannot stage into the {role!r} slot; use candidate, canary or shadow")

    def switch(self, keep_s: float) -> Plan:
        """Make the staged candidate live; the old live model becomes ``previous``."""
        if self.idle_role != "candidate":
            raise UsageError("no candidate is staged: stage a version before switching")
        return self._next(live=self.idle, idle_role="previous", keep_until=time.time() + keep_s)

    def route(self, canary: float | None = None, shadow: float | None = None) -> Plan:
        """Set the canary weight and the shadow share (percent of requests)."""
        for name, value, ref in (("canary", canary, self.canary), ("shadow", shadow, self.shadow)):
            if value is None:
                continue
            if not 0 <= value <= 100:
                raise UsageError(f"{name} percent must be between 0 and 100 (got {value:g})")
            if ref is None and value > 0:
                raise UsageError(f"no {name} version is loaded: stage one first")
        return self._next(canary_weight=self.canary_weight if canary is None else float(canary),
                          shadow_share=self.shadow_share if shadow is None else float(shadow),
                          observe_since=time.time())

    def promote(self, keep_s: float) -> Plan:
        """The canary (or the shadow) becomes the live model; the old live one is kept as previous."""
        ref = self.canary or self.shadow
        if ref is None:
            raise UsageError("no canary or shadow version to promote")
        staged = self._with_colour(self.idle, ref, idle_role="candidate", keep_until=None)
        promoted = staged.switch(keep_s)
        return replace(promoted, generation=self.generation + 1, canary=None, canary_weight=0.0,
                       shadow=None if ref is self.shadow else self.shadow,
                       shadow_share=0.0 if ref is self.shadow else self.shadow_share)

    def discard(self, role: str) -> Plan:
        """Remove the canary, shadow or candidate slot (clients keep the stable model)."""
        if role == "canary":
            return self._next(canary=None, canary_weight=0.0)
        if role == "shadow":
            return self._next(shadow=None, shadow_share=0.0)
        if role == "candidate" and self.idle_role == "candidate":
            return self._with_colour(self.idle, None, idle_role=None)
        return self._next()

    def rollback(self) -> Plan:
        """Drop a canary or shadow when there is one; else make the previous model live again."""
        if self.canary is not None or self.shadow is not None:
            return self._next(canary=None, canary_weight=0.0, shadow=None, shadow_share=0.0)
        if self.idle_role != "previous" or self.colour(self.idle) is None:
            raise UsageError("nothing to roll back to: no canary, shadow or previous version on this server")
        return self._next(live=self.idle, idle_role="previous", keep_until=self.keep_until)


def initial_plan(stable: ModelRef | None, canary: ModelRef | None = None, canary_weight: float = 0.0,
                 shadow: ModelRef | None = None, shadow_share: float = 0.0) -> Plan:
    """The first plan of a server: stable in blue (None: an environment with no version yet),
    optionally a canary and a shadow."""
    return Plan(generation=1, live="blue", blue=stable, canary=canary,
                canary_weight=canary_weight if canary else 0.0, shadow=shadow,
                shadow_share=shadow_share if shadow else 0.0)
