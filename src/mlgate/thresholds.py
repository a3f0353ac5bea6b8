"""Metric thresholds of every gate: ``{roc_auc: 0.8}``, ``{rmse: 5}`` or ``{log_loss: {max: 0.5}}``.

A plain number is a minimum for a score and a maximum for a loss (the metric table's
direction decides: ``rmse: 5`` means rmse at most 5), in evaluate and test alike; ``{min: }``
and ``{max: }`` say the direction explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from mlgate.errors import ConfigError
from mlgate.metrics import greater_is_better
from mlgate.reports.model import Check


@dataclass(frozen=True)
class Bound:
    """One bound on one metric; ``check`` compares the observed value with the limit."""

    name: ClassVar[str] = ""
    symbol: ClassVar[str] = ""
    metric: str
    limit: float

    def holds(self, value: float) -> bool:
        raise NotImplementedError

    def check(self, value: float, interval: tuple[float, float], on: str = "estimate") -> Check:
        """``on='interval'`` judges the pessimistic end of the confidence interval."""
        judged = self.judged_value(value, interval, on)
        ok = math.isfinite(judged) and self.holds(judged)
        low, high = interval
        what = "interval bound" if on == "interval" else "estimate"
        return Check(name=f"{self.metric}_{self.name}", passed=ok, observed=round(judged, 6),
                     expected=f"{self.symbol} {self.limit:g}",
                     message=f"{self.metric} {value:.4f} [{low:.4f}, {high:.4f}]: {what} {judged:.4f} "
                             f"{'meets' if ok else 'misses'} the limit {self.symbol} {self.limit:g}",
                     details={"metric": self.metric, "value": value, "ci": [low, high]})

    def judged_value(self, value: float, interval: tuple[float, float], on: str) -> float:
        return value


class MinBound(Bound):
    """The metric must be at least ``limit``."""

    name: ClassVar[str] = "min"
    symbol: ClassVar[str] = ">="

    def holds(self, value: float) -> bool:
        return value >= self.limit

    def judged_value(self, value: float, interval: tuple[float, float], on: str) -> float:
        return interval[0] if on == "interval" else value


class MaxBound(Bound):
    """The metric must be at most ``limit``."""

    name: ClassVar[str] = "max"
    symbol: ClassVar[str] = "<="

    def holds(self, value: float) -> bool:
        return value <= self.limit

    def judged_value(self, value: float, interval: tuple[float, float], on: str) -> float:
        return interval[1] if on == "interval" else value


BOUNDS: dict[str, type[Bound]] = {b.name: b for b in (MinBound, MaxBound)}


def parse_thresholds(raw: dict[str, float | dict[str, float]], available: list[str],
                     key: str = "gates -> evaluate -> thresholds") -> list[Bound]:
    """Bounds from a thresholds mapping; unknown metrics or bound kinds are ConfigErrors naming ``key``."""
    bounds: list[Bound] = []
    for metric, spec in raw.items():
        where = f"{key} -> {metric}"
        if metric not in available:
            raise ConfigError(f"{where}: unknown metric for this model; available: {', '.join(available)}")
        if isinstance(spec, int | float):
            kind = MinBound if greater_is_better(metric) else MaxBound
            bounds.append(kind(metric, float(spec)))
            continue
        unknown = sorted(set(spec) - set(BOUNDS))
        if unknown or not spec:
            raise ConfigError(f"{where}: expected a number (a minimum for a score, a maximum for a loss) "
                              f"or a mapping with 'min' and/or 'max', got {spec!r}")
        bounds.extend(BOUNDS[kind_name](metric, float(limit)) for kind_name, limit in spec.items())
    return bounds
