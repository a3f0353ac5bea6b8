"""Group fairness figures, their permutation p-values and pairwise intervals, in vectorized numpy.

The figures equal fairlearn's ``MetricFrame`` by-group values and its ``demographic_parity_*``,
``equalized_odds_difference`` and ``equal_opportunity_difference``, including its conventions
for undefined rates (tested): a group with no true positives has no true positive rate, and
fairlearn counts it as 0; ``demographic_parity_ratio`` is NaN when every selection rate is 0.

Whether a gap is more than noise is answered by a permutation test of the group labels. Its
permutation distribution needs no row-level shuffling: with the group sizes fixed, the number
of successes (selected rows, true positives, ...) that land in each group under a random
relabelling is multivariate hypergeometric, so ``B`` permutations cost ``B x groups`` draws
whatever the number of rows. Each pairwise signed difference of rates gets a Newcombe hybrid
score interval (Wilson score intervals combined), Bonferroni-adjusted over the pairs so that
the pair a report singles out as the widest gap is still covered at the stated level.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

import numpy as np
import pandas as pd

MISSING_GROUP = "<missing>"

#: rate name -> (successes field, trials field) of ``GroupRates``
RATES: dict[str, tuple[str, str]] = {
    "selection_rate": ("selected", "count"), "tpr": ("tp", "positives"),
    "fpr": ("fp", "negatives"), "accuracy": ("correct", "count"),
}


@dataclass(frozen=True)
class FigureSpec:
    """A fairness figure: the spread (max minus min) of some rates, or the min/max ratio."""

    name: str
    rates: tuple[str, ...]
    kind: Literal["spread", "ratio"] = "spread"
    title: str = ""


FIGURES: dict[str, FigureSpec] = {f.name: f for f in (
    FigureSpec("parity_difference", ("selection_rate",), title="demographic parity difference"),
    FigureSpec("disparate_impact", ("selection_rate",), "ratio", title="disparate impact"),
    FigureSpec("equalized_odds_difference", ("tpr", "fpr"), title="equalized odds difference"),
    FigureSpec("equal_opportunity_difference", ("tpr",), title="equal opportunity difference"),
    FigureSpec("accuracy_difference", ("accuracy",), title="accuracy difference"),
)}


@dataclass
class GroupRates:
    """Per-group counts and rates for one protected attribute and one positive label."""

    groups: list[Any]
    count: np.ndarray
    selected: np.ndarray  # rows predicted positive
    positives: np.ndarray  # rows truly positive
    negatives: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    correct: np.ndarray

    def rate(self, name: str) -> np.ndarray:
        """A rate per group; NaN where a group has no rows to compute it on (undefined)."""
        k, m = (getattr(self, f) for f in RATES[name])
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(m > 0, k / np.maximum(m, 1), np.nan)

    @property
    def selection_rate(self) -> np.ndarray:
        return self.rate("selection_rate")

    @property
    def base_rate(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.positives / self.count

    @property
    def tpr(self) -> np.ndarray:
        return self.rate("tpr")

    @property
    def fpr(self) -> np.ndarray:
        return self.rate("fpr")

    @property
    def accuracy(self) -> np.ndarray:
        return self.rate("accuracy")

    def subset(self, keep: np.ndarray) -> GroupRates:
        return GroupRates([g for g, k in zip(self.groups, keep, strict=True) if k],
                          *(getattr(self, f)[keep] for f in
                            ("count", "selected", "positives", "negatives", "tp", "fp", "correct")))

    def undefined(self) -> dict[str, list[Any]]:
        """Groups whose true or false positive rate is undefined (no positives / no negatives)."""
        out = {name: [_jsonable(g) for g, v in zip(self.groups, self.rate(name), strict=True) if np.isnan(v)]
               for name in ("tpr", "fpr")}
        return {k: v for k, v in out.items() if v}

    def table(self) -> list[dict[str, Any]]:
        sel, base, tpr, fpr, acc = self.selection_rate, self.base_rate, self.tpr, self.fpr, self.accuracy
        return [{"group": _jsonable(g), "count": int(self.count[i]), "selection_rate": float(sel[i]),
                 "base_rate": float(base[i]), "tpr": _f(tpr[i]), "fpr": _f(fpr[i]), "accuracy": float(acc[i])}
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

    def count(mask: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(codes, weights=None if mask is None else mask.astype(float), minlength=k).astype(int)

    return GroupRates(groups, count(), count(p), count(t), count(~t), count(t & p), count(~t & p), count(t == p))


def figure(r: GroupRates, name: str, *, undefined_as_zero: bool = True) -> float:
    """One figure of ``FIGURES``. ``undefined_as_zero``: fairlearn's convention for a group
    without positives (or negatives); False leaves such groups out of the spread instead."""
    spec = FIGURES[name]
    rates = [r.rate(n) for n in spec.rates]
    if undefined_as_zero:
        rates = [np.nan_to_num(v, nan=0.0) for v in rates]
    return float(_statistic(spec, np.stack(rates)[:, None, :])[0])


def parity_difference(r: GroupRates) -> float:
    """Demographic parity difference: max minus min selection rate."""
    return figure(r, "parity_difference")


def parity_ratio(r: GroupRates) -> float:
    """Demographic parity ratio (disparate impact): min over max selection rate; NaN when all are 0."""
    return figure(r, "disparate_impact")


def equal_opportunity_difference(r: GroupRates) -> float:
    """Largest gap in true positive rate between groups (an undefined rate counts as 0)."""
    return figure(r, "equal_opportunity_difference")


def equalized_odds_difference(r: GroupRates) -> float:
    """The larger of the TPR gap and the FPR gap (fairlearn's ``agg='worst_case'``)."""
    return figure(r, "equalized_odds_difference")


def accuracy_difference(r: GroupRates) -> float:
    """Largest gap in accuracy between groups."""
    return figure(r, "accuracy_difference")


def permutation_p_value(r: GroupRates, name: str, *, n_permutations: int = 999, seed: int = 0) -> float:
    """P-value of "no gap at all" for one figure, from relabelling the groups at random.

    Judged on the groups where each rate is defined. Selection rate and accuracy permute the
    group labels over all rows (the null: the outcome does not depend on the group); true and
    false positive rates permute them within the truly positive and the truly negative rows
    (the null of equalized odds: given the true label, the prediction does not depend on the
    group). ``(1 + #{permuted >= observed}) / (1 + n_permutations)``, so never 0.
    """
    spec = FIGURES[name]
    rng = np.random.default_rng(seed)
    draws = []
    for rate in spec.rates:
        k, m = (getattr(r, f) for f in RATES[rate])
        # successes spread over the groups as under a random relabelling: multivariate hypergeometric
        counts = rng.multivariate_hypergeometric(m, int(k.sum()), size=n_permutations)
        with np.errstate(divide="ignore", invalid="ignore"):
            draws.append(np.where(m > 0, counts / np.maximum(m, 1), np.nan))
    permuted = _statistic(spec, np.stack(draws))
    observed = figure(r, name, undefined_as_zero=False)
    if np.isnan(observed):
        return 1.0
    tol = 1e-12  # ties (equal figures up to float error) count as "as extreme"
    extreme = permuted <= observed + tol if spec.kind == "ratio" else permuted >= observed - tol
    return float((1 + np.count_nonzero(extreme)) / (1 + n_permutations))


def wilson_interval(k: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``k / n`` (NaN where n == 0)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def newcombe_interval(k1: Any, n1: Any, k2: Any, n2: Any, *, level: float = 0.95) -> tuple[Any, Any]:
    """Newcombe's hybrid score interval (his method 10) for ``k1/n1 - k2/n2``.

    Its coverage stays near the nominal level for small groups and rates near 0 or 1, where
    the Wald interval fails; tested by simulation in the unit tests.
    """
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    k1, n1, k2, n2 = (np.asarray(v, dtype=float) for v in (k1, n1, k2, n2))
    l1, u1 = wilson_interval(k1, n1, z)
    l2, u2 = wilson_interval(k2, n2, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    return d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def pairwise_differences(r: GroupRates, rate: str, *, level: float = 0.95) -> list[dict[str, Any]]:
    """Signed difference of ``rate`` for every pair of groups where it is defined, with its
    Newcombe interval at ``level`` jointly over the pairs (Bonferroni)."""
    k, m = (getattr(r, f) for f in RATES[rate])
    idx = [i for i in range(len(r.groups)) if m[i] > 0]
    pairs = list(combinations(idx, 2))
    if not pairs:
        return []
    a, b = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    joint = 1 - (1 - level) / len(pairs)
    low, high = newcombe_interval(k[a], m[a], k[b], m[b], level=joint)
    share = k / np.maximum(m, 1)
    return [{"rate": rate, "a": _jsonable(r.groups[i]), "b": _jsonable(r.groups[j]), "rate_a": float(share[i]),
             "rate_b": float(share[j]), "difference": float(share[i] - share[j]), "low": float(lo),
             "high": float(hi), "level": level}
            for (i, j), lo, hi in zip(pairs, low, high, strict=True)]


def widest_pair(r: GroupRates, name: str, *, level: float = 0.95) -> dict[str, Any] | None:
    """The pair behind a figure (the rate and groups with the widest gap), oriented low minus high."""
    best: dict[str, Any] | None = None
    for rate in FIGURES[name].rates:
        for pair in pairwise_differences(r, rate, level=level):
            if best is None or abs(pair["difference"]) > abs(best["difference"]):
                best = pair
    if best is not None and best["difference"] > 0:  # the disadvantaged group first
        best = {**best, "a": best["b"], "b": best["a"], "rate_a": best["rate_b"], "rate_b": best["rate_a"],
                "difference": -best["difference"], "low": -best["high"], "high": -best["low"]}
    return best


def _statistic(spec: FigureSpec, rates: np.ndarray) -> np.ndarray:
    """``rates[rate, draw, group]`` -> the figure per draw; NaN rates (undefined) left out."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: every group undefined
        if spec.kind == "ratio":
            top, bottom = np.nanmax(rates[0], axis=-1), np.nanmin(rates[0], axis=-1)
            return np.where(top > 0, bottom / np.where(top > 0, top, 1.0), np.nan)  # type: ignore[no-any-return]
        spreads = np.nanmax(rates, axis=-1) - np.nanmin(rates, axis=-1)
        return np.nan_to_num(spreads, nan=0.0).max(axis=0)  # type: ignore[no-any-return]


def _f(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
