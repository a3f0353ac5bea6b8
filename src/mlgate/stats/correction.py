"""Multiplicity corrections across the columns of one gate: Holm (family-wise) and Benjamini-Hochberg."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

Correction = Literal["holm", "bh", "none"]
CORRECTIONS: tuple[str, ...] = ("holm", "bh", "none")


def adjust_p_values(p_values: Sequence[float | None], method: str = "holm") -> list[float | None]:
    """Adjusted p-values in the input order; None and NaN pass through and are not counted.

    ``holm`` controls the family-wise error rate (the chance of any false alarm) under any
    dependence between columns; ``bh`` controls the false discovery rate (it equals
    ``scipy.stats.false_discovery_control``); ``none`` returns the p-values unchanged.

    >>> adjust_p_values([0.01, 0.04, None, 0.03])
    [0.03, 0.06, None, 0.06]
    """
    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)} (got {method!r})")
    index = [i for i, p in enumerate(p_values) if p is not None and not math.isnan(p)]
    out: list[float | None] = list(p_values)
    if method == "none" or not index:
        return out
    ps = [float(p_values[i]) for i in index]  # type: ignore[arg-type]
    adjusted = _holm(ps) if method == "holm" else _bh(ps)
    for i, p in zip(index, adjusted, strict=True):
        out[i] = p
    return out


def _holm(ps: list[float]) -> list[float]:
    """Holm's step-down: the k-th smallest p times (m - k + 1), made monotone, capped at 1."""
    m = len(ps)
    order = sorted(range(m), key=ps.__getitem__)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


def _bh(ps: list[float]) -> list[float]:
    """Benjamini-Hochberg's step-up, through scipy."""
    from scipy.stats import false_discovery_control

    return [float(p) for p in false_discovery_control(ps, method="bh")]
