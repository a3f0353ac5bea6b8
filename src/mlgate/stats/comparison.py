"""The answer of a two-sample comparison, and the one rule that turns it into "differs"."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    """What one method says about a reference sample and a current sample.

    ``statistic`` is the method's own test statistic (equal to scipy's where scipy has it),
    ``p_value`` is None for a pure distance, ``effect`` is the effect size on the scale the
    method's docstring states (see ``METHODS``), and ``n`` the non-missing (reference, current) counts.
    """

    method: str
    statistic: float
    p_value: float | None
    effect: float
    n: tuple[int, int]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for report.json (NaN becomes None)."""
        return {"method": self.method, "statistic": _finite(self.statistic), "p_value": _finite(self.p_value),
                "effect": _finite(self.effect), "n": list(self.n)}


def differs(c: Comparison, *, alpha: float, material: float, p_value: float | None = None) -> bool:
    """Significant and material: noise at small n and trivia at large n both pass.

    ``p_value`` replaces ``c.p_value`` when given (a multiplicity-adjusted p). A method without a
    p-value is judged on its effect alone; the effect is compared by magnitude, so a signed
    effect (a difference of proportions) counts in either direction. NaN never differs.
    """
    p = c.p_value if p_value is None else p_value
    if p is not None and not (p < alpha):
        return False
    return bool(abs(c.effect) >= material)


def _finite(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return float(value)
