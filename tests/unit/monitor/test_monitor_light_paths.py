"""The light paths monitor takes at scale give scipy's numbers: chi-square through scipy.special."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from mlgate.stats import compare_counts
from mlgate.stats.methods import chi2_homogeneity

RNG = np.random.default_rng(13)


@pytest.mark.parametrize("levels", [2, 3, 11, 101])
@pytest.mark.parametrize("scale", [30, 5_000, 2_000_000])
def test_chi2_homogeneity_equals_chi2_contingency(levels: int, scale: int) -> None:
    for _ in range(20):
        shares = RNG.dirichlet(np.ones(levels))
        ref = RNG.multinomial(scale, shares).astype(float) + 1  # no empty column
        cur = RNG.multinomial(scale // 3 + 1, RNG.dirichlet(np.ones(levels) * 50)).astype(float) + 1
        table = np.vstack([ref, cur])
        want = chi2_contingency(table, correction=False)
        statistic, p_value = chi2_homogeneity(table)
        assert statistic == pytest.approx(float(want.statistic), rel=1e-12, abs=1e-12)
        assert p_value == pytest.approx(float(want.pvalue), rel=1e-9, abs=1e-300)


def test_compare_counts_chi2_equals_scipy_on_a_million_rows_of_a_shifted_level() -> None:
    ref = {"a": 333_000, "b": 334_000, "c": 333_000}
    cur = {"a": 336_000, "b": 333_000, "c": 331_000}
    want = chi2_contingency([list(ref.values()), list(cur.values())], correction=False)
    got = compare_counts(ref, cur, method="chi2")
    assert got.statistic == pytest.approx(float(want.statistic), rel=1e-12)
    assert got.p_value == pytest.approx(float(want.pvalue), rel=1e-9)
    assert 0 < got.p_value < 0.01  # a small but real difference: the p-value is in the tail
