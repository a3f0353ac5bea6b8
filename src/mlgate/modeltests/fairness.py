"""Group fairness figures in vectorized numpy: one ``bincount`` per count, any number of rows.

They equal fairlearn's ``MetricFrame`` by-group values and its ``demographic_parity_*``,
``equalized_odds_difference`` and ``equal_opportunity_difference`` (tested), at a fraction of
the time: on 1M predictions fairlearn takes seconds where this takes tens of milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

MISSING_GROUP = "<missing>"


@dataclass
class GroupRates:
    """Per-group counts and rates for one protected attribute and one positive label."""

    groups: list[Any]
    count: np.ndarray
    selection_rate: np.ndarray  # share predicted positive
    base_rate: np.ndarray  # share truly positive
    tpr: np.ndarray  # NaN where a group has no true positives
    fpr: np.ndarray  # NaN where a group has no true negatives
    accuracy: np.ndarray

    def subset(self, keep: np.ndarray) -> GroupRates:
        return GroupRates([g for g, k in zip(self.groups, keep, strict=True) if k],
                          *(getattr(self, f)[keep] for f in
                            ("count", "selection_rate", "base_rate", "tpr", "fpr", "accuracy")))

    def table(self) -> list[dict[str, Any]]:
        return [{"group": _jsonable(g), "count": int(self.count[i]),
                 "selection_rate": float(self.selection_rate[i]), "base_rate": float(self.base_rate[i]),
                 "tpr": _f(self.tpr[i]), "fpr": _f(self.fpr[i]), "accuracy": float(self.accuracy[i])}
                for i, g in enumerate(self.groups)]


def group_rates(y_true: np.ndarray, y_pred: np.ndarray, sensitive: Any, positive: Any = 1) -> GroupRates:
    """Counts by group with ``y == positive`` as the positive outcome; NaN groups kept apart."""
    codes, uniques = pd.factorize(pd.Series(sensitive), use_na_sentinel=True)
    groups = list(uniques)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(groups), codes)
        groups.append(MISSING_GROUP)
    k = len(groups)
    t = np.asarray(y_true) == positive
    p = np.asarray(y_pred) == positive

    def count(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(codes, weights=weights, minlength=k).astype(float)

    n, pos, neg = count(), count(t), count(~t)
    tp, fp, correct, sel = count(t & p), count(~t & p), count(t == p), count(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        return GroupRates(groups, n.astype(int), sel / n, pos / n,
                          np.where(pos > 0, tp / pos, np.nan), np.where(neg > 0, fp / neg, np.nan),
                          correct / n)


def parity_difference(r: GroupRates) -> float:
    """Demographic parity difference: max minus min selection rate."""
    return float(np.ptp(r.selection_rate)) if len(r.groups) else 0.0


def parity_ratio(r: GroupRates) -> float:
    """Demographic parity ratio (disparate impact): min over max selection rate."""
    top = r.selection_rate.max(initial=0.0)
    return float(r.selection_rate.min() / top) if top > 0 else 1.0


def equal_opportunity_difference(r: GroupRates) -> float:
    """Largest gap in true positive rate between groups."""
    return _spread(r.tpr)


def equalized_odds_difference(r: GroupRates) -> float:
    """The larger of the TPR gap and the FPR gap (fairlearn's ``agg='worst_case'``)."""
    return max(_spread(r.tpr), _spread(r.fpr))


def bootstrap_interval(y_true: np.ndarray, y_pred: np.ndarray, sensitive: Any, positive: Any,
                       figure: Any, *, min_group_size: int = 1, n_boot: int = 200, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """A percentile bootstrap interval of one figure (for example ``parity_difference``).

    Rows are re-sampled with replacement (Poisson weights, so each resample is a few
    ``bincount`` calls, not an index copy); groups under ``min_group_size`` rows are left out
    as in the check. On small test sets the interval shows how much of a gap is sampling noise.
    """
    codes, uniques = pd.factorize(pd.Series(sensitive), use_na_sentinel=True)
    k = len(uniques) + 1
    codes = np.where(codes < 0, k - 1, codes)
    t = np.asarray(y_true) == positive
    p = np.asarray(y_pred) == positive
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        w = rng.poisson(1.0, len(codes)).astype(float)

        def count(mask: np.ndarray | None = None, w: np.ndarray = w) -> np.ndarray:
            return np.bincount(codes, weights=w if mask is None else w * mask, minlength=k)

        n, pos, neg = count(), count(t), count(~t)
        keep = n >= min_group_size
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = GroupRates(list(range(int(keep.sum()))), n[keep].astype(int), (count(p) / n)[keep],
                               (pos / n)[keep], np.where(pos > 0, count(t & p) / pos, np.nan)[keep],
                               np.where(neg > 0, count(~t & p) / neg, np.nan)[keep], (count(t == p) / n)[keep])
        if len(rates.groups) >= 2:
            values.append(figure(rates))
    if not values:
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def _spread(values: np.ndarray) -> float:
    v = values[~np.isnan(values)]
    return float(v.max() - v.min()) if len(v) else 0.0


def _f(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
