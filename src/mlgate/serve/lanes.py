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

from mlgate.roles import BASELINE, ROLES, STABLE

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
    """The lanes of one plan generation and how requests are spread over them.

    Fields follow a role's ``routing`` (``mlgate.roles``): ``weighted`` is the lane of the role
    routed by weight (the canary), ``copied`` the lane of the role that gets copies (the shadow);
    roles reachable only through the admin slot path sit in ``others``.
    """

    generation: int
    stable: Lane | None  # None before an environment's first version: requests get 503
    weighted: Lane | None = None
    weight: float = 0.0
    baseline: Lane | None = None
    copied: Lane | None = None
    copy_share: float = 0.0
    others: Mapping[str, Lane] = field(default_factory=dict)
    recorder: Recorder | None = None

    @property
    def _weighted_cut(self) -> int:
        return int(round(self.weight * _BUCKETS / 100))

    def pick(self, headers: Mapping[str, str]) -> Lane | None:
        """The lane that answers this request: the weighted lane for its share of client ids, else stable."""
        weighted = self.weighted
        if weighted is None or self.weight <= 0:
            return self.stable
        cut = self._weighted_cut
        b = bucket(headers.get(CLIENT_ID_HEADER))
        if b < cut:
            return weighted
        if self.baseline is not None and b < cut + min(cut, _BUCKETS - cut):
            return self.baseline
        return self.stable

    def shadow_lane(self) -> Lane | None:
        """The copied lane when this request is one of the copied share, else None."""
        copied = self.copied
        if copied is None or self.copy_share <= 0:
            return None
        return copied if random.random() * 100 < self.copy_share else None

    def lane(self, name: str) -> Lane | None:
        """The lane in a role (``mlgate.roles``) or the baseline lane, or None."""
        if name == STABLE.name:
            return self.stable
        if name == BASELINE:
            return self.baseline
        kind = ROLES[name].routing if name in ROLES else None
        if kind == "weight":
            return self.weighted if self.weighted is not None and self.weighted.role == name else None
        if kind == "copy":
            return self.copied if self.copied is not None and self.copied.role == name else None
        return self.others.get(name)

    def lanes(self) -> list[Lane]:
        out = [x for x in (self.stable, self.weighted, self.baseline, self.copied) if x is not None]
        return out + list(self.others.values())


def bucket(client_id: str | None) -> int:
    """A stable bucket in [0, 10000) for a client id; a random one without an id."""
    if not client_id:
        return random.randrange(_BUCKETS)
    return zlib.crc32(client_id.encode("utf-8", "replace")) % _BUCKETS
