"""Per-client token buckets that refill continuously, checked before any model work."""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict

from mlgate.errors import ConfigError

_UNITS = {"second": 1.0, "sec": 1.0, "s": 1.0, "minute": 60.0, "min": 60.0, "m": 60.0,
          "hour": 3600.0, "h": 3600.0}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$")


def parse_rate(text: str) -> tuple[float, float]:
    """``"100/minute"`` -> (capacity 100, refill 100/60 tokens a second); "0" or "off" disables."""
    if text.strip().lower() in ("0", "off", "none", ""):
        return 0.0, 0.0
    match = _RATE.match(text.lower())
    if not match or match.group(3) not in _UNITS:
        raise ConfigError(f"serve -> rate_limit: expected COUNT/UNIT like '100/minute', "
                          f"'10/second' or '1000/hour', or 'off' (got {text!r})")
    count = float(match.group(1))
    period = float(match.group(2) or 1) * _UNITS[match.group(3)]
    if count <= 0:
        raise ConfigError(f"serve -> rate_limit: the count must be positive (got {text!r})")
    return count, count / period


class RateLimiter:
    """A token bucket per client: ``capacity`` requests in a burst, refilled at ``rate``/s.

    The table of buckets is bounded (least recently seen clients are dropped first; a
    dropped client starts again with a full bucket, the same as a client idle long enough).
    """

    def __init__(self, capacity: float, rate: float, max_clients: int = 100_000) -> None:
        self.capacity = capacity
        self.rate = rate
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def acquire(self, client: str, now: float | None = None) -> float:
        """Take a token for ``client``: 0.0 when allowed, else the seconds until one is free."""
        if not self.enabled:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[client] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> str:
    """The ``Retry-After`` header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))
