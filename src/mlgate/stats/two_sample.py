"""The three entry points: raw samples, counts per level or bin, and two proportions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mlgate.stats.comparison import Comparison
from mlgate.stats.methods import as_numeric, get_method, level_counts


def compare_samples(reference: Any, current: Any, method: str = "ks") -> Comparison:
    """Compare two 1-D raw samples; NaN/None are dropped and ``n`` counts what is left.

    A sample method (ks, wasserstein, mannwhitney, psi) needs numbers; a count method (chi2, tvd,
    js) counts the levels of each sample itself (categorical data). An empty side gives NaN
    figures, which never differ (``decide`` calls that "undecided").

    >>> compare_samples([1, 2, 3, 4], [1, 2, 3, 4]).statistic
    0.0
    """
    m = get_method(method)
    if "samples" in m.reads:
        ref, cur = as_numeric(reference), as_numeric(current)
        if not len(ref) or not len(cur):
            return m.empty((len(ref), len(cur)))
        return m.samples(ref, cur)
    if "counts" not in m.reads:
        raise ValueError(f"method {method!r} compares neither samples nor counts")
    r, c, _ = level_counts(reference, current)
    if not r.sum() or not c.sum():
        return m.empty((int(r.sum()), int(c.sum())))
    return m.counts(r, c)


def compare_counts(reference_counts: Mapping[Any, float], current_counts: Mapping[Any, float],
                   method: str = "chi2") -> Comparison:
    """Compare counts per level (categorical) or per bin (a histogram on shared edges).

    Keys are aligned on their union; a key missing on one side counts 0 there.

    >>> compare_counts({"a": 10, "b": 10}, {"a": 10, "b": 10}, method="tvd").effect
    0.0
    """
    m = get_method(method, reads="counts")
    keys = list(dict.fromkeys([*reference_counts, *current_counts]))
    r = np.array([float(reference_counts.get(k, 0)) for k in keys])
    c = np.array([float(current_counts.get(k, 0)) for k in keys])
    if (r < 0).any() or (c < 0).any():
        raise ValueError("counts must not be negative")
    if not r.sum() or not c.sum():
        return m.empty((int(r.sum()), int(c.sum())))
    return m.counts(r, c)


def compare_proportions(k_ref: int, n_ref: int, k_cur: int, n_cur: int, method: str = "fisher") -> Comparison:
    """Fisher's exact test (or ``method="ztest"``, the pooled two-proportion z-test) of k_ref/n_ref
    against k_cur/n_cur; effect = p_cur - p_ref.

    >>> compare_proportions(5, 100, 5, 100).p_value
    1.0
    """
    for k, n in ((k_ref, n_ref), (k_cur, n_cur)):
        if n < 0 or not 0 <= k <= max(n, 0):
            raise ValueError(f"a proportion needs 0 <= k <= n (got k={k}, n={n})")
    m = get_method(method, reads="proportions")
    return m.proportions(int(k_ref), int(n_ref), int(k_cur), int(n_cur))


def compare_paired(reference: Any, current: Any, method: str = "paired_t") -> Comparison:
    """One-sided paired t-test: is ``current`` larger than ``reference``, unit by unit?

    ``reference[i]`` and ``current[i]`` are the same unit (a row, under the same noise draws)
    measured for two models; a unit missing on either side is dropped. Effect: mean(cur - ref).

    >>> compare_paired([0.0, 0.1, 0.0, 0.2], [0.0, 0.1, 0.0, 0.2]).p_value
    1.0
    """
    ref = np.asarray(reference, dtype=float).ravel()
    cur = np.asarray(current, dtype=float).ravel()
    if ref.shape != cur.shape:
        raise ValueError(f"paired samples need the same length (got {len(ref)} and {len(cur)})")
    keep = ~(np.isnan(ref) | np.isnan(cur))
    ref, cur = ref[keep], cur[keep]
    m = get_method(method, reads="paired")
    if not len(ref):
        return m.empty((0, 0))
    return m.paired(ref, cur)
