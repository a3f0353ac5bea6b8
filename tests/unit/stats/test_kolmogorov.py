"""The large-sample KS test computed without scipy.stats equals scipy's, bit for bit, on every branch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as ss

from mlgate.stats import kolmogorov
from mlgate.stats.kolmogorov import ks_two_sided, kstwo_sf

# effective sizes: just past Pomeranz' limit, the long-double matrix's range, both sides of its
# 100,000 cut, and beyond
SIZES = [141, 150, 999, 5000, 25_000, 99_999, 100_000, 100_001, 2_000_000]


def _grid(n: int) -> list[float]:
    """x values reaching each branch for n: t <= 0.5, Ruben-Gambino's two ends, the matrix, Pelz-Good,
    2 * smirnov, the zero tail and x >= 0.5."""
    t_points = [0.3, 0.5, 0.75, 1.0, 1.5, n - 1.0, n - 0.5]
    z_points = [0.02, 0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.2, 1.4, 1.48, 1.5, 2.0, 3.0, 10.0, 19.0, 20.0]
    xs = [t / n for t in t_points] + [z / np.sqrt(n) for z in z_points]
    xs += [(1.4 / n) ** (2 / 3) * f for f in (0.99, 1.0, 1.01)]  # the matrix / Pelz-Good cut
    xs += [0.25, 0.5, 0.7, 0.999, 1.0, 1.5, 0.0, -0.1]
    return sorted(x for x in set(xs))


@pytest.mark.parametrize("n", SIZES)
def test_kstwo_sf_equals_scipy_on_every_branch(n: int) -> None:
    for x in _grid(n):
        want = float(ss.kstwo.sf(x, n))
        got = kstwo_sf(x, n)
        assert got == want, (n, x, got, want)


def test_kstwo_sf_refuses_the_sizes_left_to_scipy() -> None:
    with pytest.raises(ValueError, match="n > 140"):
        kstwo_sf(0.1, 140)


@pytest.mark.parametrize("shift", [0.0, 0.004, 0.02, 0.3, 5.0])
@pytest.mark.parametrize("sizes", [(10_001, 10_001), (200_000, 150_000), (12_000, 300), (50_000, 90)])
def test_ks_two_sided_equals_ks_2samp(sizes: tuple[int, int], shift: float) -> None:
    rng = np.random.default_rng(sizes[0] + sizes[1])
    ref, cur = rng.normal(size=sizes[0]), rng.normal(shift, size=sizes[1])
    want = ss.ks_2samp(ref, cur, method="auto")
    d, p = ks_two_sided(ref, cur)
    assert (d, p) == (float(want.statistic), float(want.pvalue))
    d, p = ks_two_sided(cur, ref)  # the larger sample second
    want = ss.ks_2samp(cur, ref, method="auto")
    assert (d, p) == (float(want.statistic), float(want.pvalue))


def test_ks_two_sided_with_ties_and_infinities() -> None:
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 5, 30_000).astype(float)
    cur = np.concatenate([rng.integers(0, 5, 20_000).astype(float), [np.inf, -np.inf]])
    want = ss.ks_2samp(ref, cur)
    assert ks_two_sided(ref, cur) == (float(want.statistic), float(want.pvalue))


def test_large_samples_do_not_import_scipy_stats() -> None:
    code = ("import sys, numpy as np; from mlgate.stats.methods import METHODS;"
            "rng = np.random.default_rng(0);"
            "c = METHODS['ks']().samples(rng.normal(size=20_000), rng.normal(size=30_000));"
            "assert 0 <= c.p_value <= 1; print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert kolmogorov.EXACT_MAX == 10_000
