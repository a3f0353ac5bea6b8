"""Slots as the request path sees them: one lane per loaded model, and the routing between them.

A request is routed once, after authentication and rate limiting: with no canary the
cost is one attribute test; with a canary, a CRC-32 of the client id (``X-Client-Id``, so
a client keeps its slot across requests) or a random draw picks the lane.

With a canary at w percent, a ``baseline`` lane (the stable model, its own micro-batcher)
takes another w percent, as Kayenta deploys a baseline beside the canary: analysis
compares canary with baseline, two lanes of equal traffic. Compared with the whole stable
slot, the canary would look slower for no fault of its own: a request of the smaller lane
more often shares an event-loop turn with, and waits behind, a batch of the larger one. A ``Routing``
is immutable: a switch replaces the server's reference to it in one assignment, so a
request sees either the old slots or the new ones, never a mixture.

While a canary or shadow slot exists, each lane records one observation per request
(time, role, version, latency, success, predicted labels) for ``mlgate canary analyze``.
"""

from __future__ import annotations

import json
import os
import random
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlgate.serve.batcher import MicroBatcher
    from mlgate.serve.metrics import ServerMetrics
    from mlgate.serve.model import ServedModel

CLIENT_ID_HEADER = "x-client-id"
_BUCKETS = 10_000
OBS_PREFIX = "obs-"


@dataclass
class Lane:
    """A loaded model in one role, with its own micro-batcher and metric children."""

    role: str
    model: ServedModel
    batcher: MicroBatcher
    metrics: ServerMetrics


class Recorder:
    """Appends observations to this worker's file in the state folder (flushed by the watcher)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / f"{OBS_PREFIX}{os.getpid()}.jsonl"
        self._fh: IO[str] | None = None

    def record(self, role: str, version: str, latency: float, ok: bool, labels: list[Any],
               agree: int | None = None) -> None:
        if self._fh is None:
            self._fh = self.path.open("a", encoding="utf-8")
        row: list[Any] = [round(time.time(), 3), role, version, round(latency * 1000, 3), ok, labels]
        if agree is not None:
            row.append(agree)
        self._fh.write(json.dumps(row, default=str) + "\n")

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_observations(folder: Path, since: float) -> list[list[Any]]:
    """Every worker's observations from ``since`` (a UNIX time) on."""
    rows: list[list[Any]] = []
    for file in sorted(folder.glob(f"{OBS_PREFIX}*.jsonl")):
        try:
            text = file.read_text(encoding="utf-8")
        except OSError:
            continue
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except ValueError:  # a line another worker is writing right now
                continue
            if isinstance(row, list) and len(row) >= 6 and row[0] >= since:
                rows.append(row)
    return rows


def clear_observations(folder: Path) -> None:
    """Empty every worker's observation file (workers append with O_APPEND, so this is safe)."""
    for file in folder.glob(f"{OBS_PREFIX}*.jsonl"):
        with file.open("w", encoding="utf-8"):
            pass


@dataclass(frozen=True)
class Routing:
    """The lanes of one plan generation and how requests are spread over them."""

    generation: int
    stable: Lane | None  # None before an environment's first version: requests get 503
    canary: Lane | None = None
    canary_weight: float = 0.0
    baseline: Lane | None = None
    shadow: Lane | None = None
    shadow_share: float = 0.0
    others: Mapping[str, Lane] = field(default_factory=dict)
    recorder: Recorder | None = None

    @property
    def _canary_cut(self) -> int:
        return int(round(self.canary_weight * _BUCKETS / 100))

    def pick(self, headers: Mapping[str, str]) -> Lane | None:
        """The lane that answers this request: the canary for its share of client ids, else stable."""
        canary = self.canary
        if canary is None or self.canary_weight <= 0:
            return self.stable
        cut = self._canary_cut
        b = bucket(headers.get(CLIENT_ID_HEADER))
        if b < cut:
            return canary
        if self.baseline is not None and b < cut + min(cut, _BUCKETS - cut):
            return self.baseline
        return self.stable

    def shadow_lane(self) -> Lane | None:
        """The shadow lane when this request is one of the copied share, else None."""
        shadow = self.shadow
        if shadow is None or self.shadow_share <= 0:
            return None
        return shadow if random.random() * 100 < self.shadow_share else None

    def lane(self, role: str) -> Lane | None:
        """The lane in a role (stable, canary, shadow, candidate, previous), or None."""
        if role == "stable":
            return self.stable
        if role == "canary":
            return self.canary
        if role == "baseline":
            return self.baseline
        if role == "shadow":
            return self.shadow
        return self.others.get(role)

    def lanes(self) -> list[Lane]:
        out = [x for x in (self.stable, self.canary, self.baseline, self.shadow) if x is not None]
        return out + list(self.others.values())


def bucket(client_id: str | None) -> int:
    """A stable bucket in [0, 10000) for a client id; a random one without an id."""
    if not client_id:
        return random.randrange(_BUCKETS)
    return zlib.crc32(client_id.encode("utf-8", "replace")) % _BUCKETS
