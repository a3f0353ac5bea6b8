"""The comparison methods, one small class each, in the ``METHODS`` table.

A sample method (``ks``, ``wasserstein``, ``mannwhitney``, ``psi``) reads two 1-D numeric samples.
A count method (``chi2``, ``tvd``, ``js``, ``psi``) reads two aligned count vectors: counts per
category, or per bin of a histogram on shared edges; given raw samples it counts the levels
itself. ``fisher`` reads two proportions, ``paired_t`` two aligned samples (the same units measured
twice). Every statistic that scipy has comes from scipy.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from mlgate.plugins import PluginTable
from mlgate.stats.comparison import Comparison
from mlgate.stats.kolmogorov import ks_two_sided

_EMPTY = float("nan")


class Method:
    """One way of comparing a reference with a current sample."""

    name: ClassVar[str]
    has_p_value: ClassVar[bool]
    effect_scale: ClassVar[str]  # what ``effect`` means, for docs and reports
    label: ClassVar[str]  # how a report names the effect
    # what it reads, each a method of the class: "samples" (two numeric samples), "counts"
    # (aligned counts per level or bin), "proportions" (k and n twice), "paired" (aligned samples)
    reads: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def per_column(cls) -> bool:
        """Usable on a table column (validate, test, monitor): it reads samples or counts."""
        return bool(cls.reads & {"samples", "counts"})

    def samples(self, ref: np.ndarray, cur: np.ndarray) -> Comparison:
        """Compare two 1-D numeric samples without missing values."""
        raise ValueError(f"method {self.name!r} compares counts, not numeric samples")

    def counts(self, ref: np.ndarray, cur: np.ndarray) -> Comparison:
        """Compare two aligned count vectors (same levels or bins, same order)."""
        raise ValueError(f"method {self.name!r} compares numeric samples, not counts")

    def proportions(self, k_ref: int, n_ref: int, k_cur: int, n_cur: int) -> Comparison:
        """Compare two proportions k_ref/n_ref and k_cur/n_cur."""
        raise ValueError(f"method {self.name!r} does not compare proportions")

    def paired(self, ref: np.ndarray, cur: np.ndarray) -> Comparison:
        """Compare two aligned samples (the same units measured twice)."""
        raise ValueError(f"method {self.name!r} does not compare paired samples")

    def empty(self, n: tuple[int, int]) -> Comparison:
        """The answer when a side has no values: undecidable, never 'differs'."""
        return Comparison(self.name, _EMPTY, _EMPTY if self.has_p_value else None, _EMPTY, n)


class KS(Method):
    """Two-sample Kolmogorov-Smirnov (``scipy.stats.ks_2samp``, method 'auto': exact p-value when
    the samples are small, asymptotic above; the large-sample case computed as scipy does without
    importing scipy.stats, ``mlgate.stats.kolmogorov``). Effect: the KS distance D itself, the largest gap
    between the two empirical CDFs (0 to 1). With ties (integer-coded data) the p-value is conservative."""

    name = "ks"
    has_p_value = True
    effect_scale = "KS distance D (largest gap between the empirical CDFs, 0-1)"
    label = "KS distance"
    reads = frozenset({"samples"})

    def samples(self, ref: np.ndarray, cur: np.ndarray) -> Comparison:
        d, p = ks_two_sided(ref, cur)
        return Comparison(self.name, d, p, d, (len(ref), len(cur)))


class Wasserstein(Method):
    """Earth mover's distance (``scipy.stats.wasserstein_distance``), a pure distance. Effect: the
    distance divided by the reference's interquartile range (its standard deviation when the IQR is
    0, unscaled when both are 0), so 0.5 means "half a typical spread"."""

    name = "wasserstein"
    has_p_value = False
    effect_scale = "Wasserstein distance / reference IQR"
    label = "Wasserstein/IQR"
    reads = frozenset({"samples"})

    def samples(self, ref: np.ndarray, cur: np.ndarray) -> Comparison:
        from scipy.stats import wasserstein_distance

        w = float(wasserstein_distance(ref, cur))
        return Comparison(self.name, w, None, w / _spread(ref), (len(ref), len(cur)))


class MannWhitney(Method):
    """Mann-Whitney U (``scipy.stats.mannwhitneyu``, two-sided, scipy's default method); the statistic
    is U of the reference. Effect: |rank-biserial correlation| = |2U/(n_ref n_cur) - 1| (0-1): 0 when
    neither sample tends to be larger, 1 when every value of one exceeds every value of the other."""

    name = "mannwhitney"
    has_p_value = True
    effect_scale = "|rank-biserial correlation| (0-1)"
    label = "rank-biserial"
    reads = frozenset({"samples"})

    def samples(self, ref: np.ndarray, cur: np.ndarray) -> Comparison:
        from scipy.stats import mannwhitneyu

        res = mannwhitneyu(ref, cur, alternative="two-sided")
        u = float(res.statistic)
        effect = abs(2.0 * u / (len(ref) * len(cur)) - 1.0)
        return Comparison(self.name, u, float(res.pvalue), effect, (len(ref), len(cur)))


class PSI(Method):
    """Population stability index, sum (c - r) ln(c / r) over bins, a pure distance. From samples the
    bins are the reference's deciles (open at both ends); an empty bin counts as a share of 1e-4.
    Effect: the PSI itself (the usual reading: < 0.1 stable, 0.1-0.25 moderate, > 0.25 large). PSI at
    0.1 misses a 0.25 sd mean shift; it is offered for users who already report it."""

    name = "psi"
    has_p_value = False
    effect_scale = "PSI (sum of (c - r) ln(c/r) over bins)"
    label = "PSI"
    reads = frozenset({"samples", "counts"})
    bins: ClassVar[int] = 10
    floor: ClassVar[float] = 1e-4

    def samples(self, ref: np.ndarray, cur: np.ndarray) -> Comparison:
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, self.bins + 1)[1:-1]))
        r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
        c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
        return self.counts(r, c)

    def counts(self, ref: np.ndarray, cur: np.ndarray) -> Comparison:
        r, c = np.maximum(ref / ref.sum(), self.floor), np.maximum(cur / cur.sum(), self.floor)
        psi = float(np.sum((c - r) * np.log(c / r)))
        return Comparison(self.name, psi, None, psi, (int(ref.sum()), int(cur.sum())))


class Chi2(Method):
    """Chi-square test of homogeneity on the 2 x k contingency table (``scipy.stats.chi2_contingency``,
    no continuity correction). Levels whose expected count is below 5 in either row are pooled into one
    before the test (the chi-square approximation fails on sparse cells; many rare levels otherwise
    raise false alarms); the statistic equals scipy's on the pooled table. Effect: the total variation
    distance of the shares (unpooled, 0-1), so a 10-point move of one category's share is 0.1."""

    name = "chi2"
    has_p_value = True
    effect_scale = "total variation distance of the shares (0-1)"
    label = "share distance (TVD)"
    reads = frozenset({"counts"})
    min_expected: ClassVar[float] = 5.0

    def counts(self, ref: np.ndarray, cur: np.ndarray) -> Comparison:
        n = (int(ref.sum()), int(cur.sum()))
        table = pool_sparse(np.vstack([ref, cur]).astype(float), self.min_expected)
        if table.shape[1] < 2:  # one level (after pooling): nothing can differ
            return Comparison(self.name, 0.0, 1.0, _tvd(ref, cur), n)
        statistic, p_value = chi2_homogeneity(table)
        return Comparison(self.name, statistic, p_value, _tvd(ref, cur), n)


def chi2_homogeneity(table: np.ndarray) -> tuple[float, float]:
    """Pearson's statistic and p-value of a 2 x k table without empty columns, as
    ``scipy.stats.chi2_contingency(table, correction=False)`` computes them (the same expected
    counts, sum and ``chdtrc`` survival function), through scipy.special: importing scipy.stats
    costs about 0.4 s more, which a monitor run on a stored profile would spend on nothing else."""
    from scipy.special import chdtrc

    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(chdtrc(table.shape[1] - 1, statistic))


class TVD(Method):
    """Total variation distance of the shares, half the L1 distance (0-1), a pure distance. Effect: the same."""

    name = "tvd"
    has_p_value = False
    effect_scale = "total variation distance of the shares (0-1)"
    label = "share distance (TVD)"
    reads = frozenset({"counts"})

    def counts(self, ref: np.ndarray, cur: np.ndarray) -> Comparison:
        tvd = _tvd(ref, cur)
        return Comparison(self.name, tvd, None, tvd, (int(ref.sum()), int(cur.sum())))


class JS(Method):
    """Jensen-Shannon distance in bits (``scipy.spatial.distance.jensenshannon``, base 2; the square
    root of the divergence, 0-1), a pure distance. Effect: the same."""

    name = "js"
    has_p_value = False
    effect_scale = "Jensen-Shannon distance, base 2 (0-1)"
    label = "Jensen-Shannon distance"
    reads = frozenset({"counts"})

    def counts(self, ref: np.ndarray, cur: np.ndarray) -> Comparison:
        from scipy.spatial.distance import jensenshannon

        js = float(jensenshannon(ref, cur, base=2))
        return Comparison(self.name, js, None, js, (int(ref.sum()), int(cur.sum())))


class Fisher(Method):
    """Fisher's exact test of two proportions (``scipy.stats.fisher_exact``, two-sided) on the table
    [[k_ref, n_ref - k_ref], [k_cur, n_cur - k_cur]]; the statistic is scipy's odds ratio.
    Effect: the signed difference of proportions p_cur - p_ref."""

    name = "fisher"
    has_p_value = True
    effect_scale = "difference of proportions p_cur - p_ref (signed)"
    label = "difference of proportions"
    reads = frozenset({"proportions"})

    def proportions(self, k_ref: int, n_ref: int, k_cur: int, n_cur: int) -> Comparison:
        from scipy.stats import fisher_exact

        if n_ref <= 0 or n_cur <= 0:
            return self.empty((n_ref, n_cur))
        res = fisher_exact([[k_ref, n_ref - k_ref], [k_cur, n_cur - k_cur]], alternative="two-sided")
        return Comparison(self.name, float(res.statistic), float(res.pvalue), k_cur / n_cur - k_ref / n_ref,
                          (n_ref, n_cur))


class TwoProportionZ(Method):
    """Two-proportion z-test with the pooled proportion, two-sided; z**2 equals the chi-square statistic
    of the 2 x 2 table without continuity correction (``scipy.stats.chi2_contingency(correction=False)``).
    Fisher's exact test costs seconds at a million rows; at that size the two agree. Effect: the
    signed difference of proportions p_cur - p_ref, as for ``fisher``."""

    name = "ztest"
    has_p_value = True
    effect_scale = "difference of proportions p_cur - p_ref (signed)"
    label = "difference of proportions"
    reads = frozenset({"proportions"})

    def proportions(self, k_ref: int, n_ref: int, k_cur: int, n_cur: int) -> Comparison:
        from scipy.special import ndtr

        if n_ref <= 0 or n_cur <= 0:
            return self.empty((n_ref, n_cur))
        p_ref, p_cur = k_ref / n_ref, k_cur / n_cur
        pooled = (k_ref + k_cur) / (n_ref + n_cur)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
        if se == 0:  # both shares 0 or both 1: nothing differs
            return Comparison(self.name, 0.0, 1.0, p_cur - p_ref, (n_ref, n_cur))
        z = (p_cur - p_ref) / se
        return Comparison(self.name, z, float(2 * ndtr(-abs(z))), p_cur - p_ref, (n_ref, n_cur))


class PairedT(Method):
    """Paired t-test of per-unit differences current - reference (``scipy.stats.ttest_rel``),
    one-sided: H0 "the current values are not larger on average". The two samples must be aligned
    (the same rows, the same noise draws). Effect: the mean difference mean(cur - ref), signed; a
    current sample smaller on average is never significant, so only a rise can differ."""

    name = "paired_t"
    has_p_value = True
    effect_scale = "mean paired difference mean(cur - ref), on the values' own scale (signed)"
    label = "mean paired difference"
    reads = frozenset({"paired"})

    def paired(self, ref: np.ndarray, cur: np.ndarray) -> Comparison:
        from scipy.stats import ttest_rel

        n = (len(ref), len(cur))
        diff = cur - ref
        if not np.any(diff != diff[0]):  # constant differences: no spread, the test is undefined
            p = 0.0 if diff[0] > 0 else 1.0
            return Comparison(self.name, float("inf") if diff[0] > 0 else 0.0, p, float(diff[0]), n)
        res = ttest_rel(cur, ref, alternative="greater")
        return Comparison(self.name, float(res.statistic), float(res.pvalue), float(diff.mean()), n)


METHODS: PluginTable[Method] = PluginTable("mlgate.methods", Method, (
    KS, Wasserstein, MannWhitney, PSI, Chi2, TVD, JS, Fisher, TwoProportionZ, PairedT))


def methods_reading(what: str) -> list[str]:
    """The names of the methods that read ``what`` (samples, counts, proportions, paired)."""
    return [name for name, cls in METHODS.items() if what in cls.reads]


def pool_sparse(table: np.ndarray, min_expected: float) -> np.ndarray:
    """Drop empty columns; pool columns whose expected count is below ``min_expected`` in any row.

    >>> pool_sparse(np.array([[50., 50., 1.], [50., 50., 0.]]), 5).tolist()
    [[51.0, 50.0], [50.0, 50.0]]
    """
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] <= 1:
        return table
    sparse = (_expected(table) < min_expected).any(axis=0)
    if not sparse.any():
        return table
    pooled, kept = table[:, sparse].sum(axis=1, keepdims=True), table[:, ~sparse]
    if not kept.shape[1]:
        return pooled
    merged = np.hstack([kept, pooled])
    if (_expected(merged)[:, -1] < min_expected).any():
        # the pooled column is itself still sparse: it joins the smallest kept level
        smallest = int(np.argmin(kept.sum(axis=0)))
        merged = kept.copy()
        merged[:, smallest] += pooled[:, 0]
    return merged


def _expected(table: np.ndarray) -> np.ndarray:
    return np.outer(table.sum(axis=1), table.sum(axis=0)) / max(float(table.sum()), 1.0)


def get_method(name: str, reads: str | None = None) -> Method:
    """The method called ``name`` (that reads ``reads``, when given); a ValueError naming the choices otherwise."""
    cls = METHODS.get(name)
    if cls is None:
        raise ValueError(METHODS.unknown(name, "comparison method"))
    if reads is not None and reads not in cls.reads:
        raise ValueError(f"method {name!r} does not compare {reads} (methods that do: "
                         f"{', '.join(methods_reading(reads))})")
    return cls()


def as_numeric(values: Any) -> np.ndarray:
    """A float array without NaN/None; a ValueError when the values are not numbers."""
    to_numpy = getattr(values, "to_numpy", None)
    try:
        arr = to_numpy(dtype=float, na_value=np.nan) if to_numpy else np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"numeric comparison needs numbers ({exc})") from exc
    arr = np.ravel(arr)
    return arr[~np.isnan(arr)]


def level_counts(ref: Any, cur: Any) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """Counts per level of two categorical samples, aligned on the union of levels (missing dropped)."""
    import pandas as pd

    r, c = np.ravel(np.asarray(ref, dtype=object)), np.ravel(np.asarray(cur, dtype=object))
    codes, levels = pd.factorize(np.concatenate([r, c]), use_na_sentinel=True)  # one hash pass; missing -> -1
    size = len(levels)
    a, b = codes[: len(r)], codes[len(r):]
    return (np.bincount(a[a >= 0], minlength=size), np.bincount(b[b >= 0], minlength=size), list(levels))


def _spread(ref: np.ndarray) -> float:
    q1, q3 = np.quantile(ref, [0.25, 0.75])
    iqr = float(q3 - q1)
    if iqr > 0:
        return iqr
    sd = float(np.std(ref))
    return sd if sd > 0 else 1.0


def _tvd(ref: np.ndarray, cur: np.ndarray) -> float:
    return float(0.5 * np.abs(ref / ref.sum() - cur / cur.sum()).sum())
