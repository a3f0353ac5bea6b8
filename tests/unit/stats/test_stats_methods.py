"""Each method's statistic equals scipy's on the same data; effects are on their stated scale."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as ss
from scipy.spatial.distance import jensenshannon

from mlgate.stats import (
    METHODS,
    Comparison,
    compare_counts,
    compare_proportions,
    compare_samples,
    differs,
)
from mlgate.stats.methods import Method, pool_sparse

RNG = np.random.default_rng(7)
SMALL = (RNG.normal(size=30), RNG.normal(0.3, size=25))
LARGE = (RNG.normal(size=3000), RNG.normal(0.05, size=2000))


@pytest.mark.parametrize("ref,cur", [SMALL, LARGE], ids=["small-exact", "large-asymptotic"])
def test_ks_equals_scipy(ref: np.ndarray, cur: np.ndarray) -> None:
    got = compare_samples(ref, cur, "ks")
    want = ss.ks_2samp(ref, cur)
    assert got.statistic == pytest.approx(want.statistic, abs=1e-9)
    assert got.p_value == pytest.approx(want.pvalue, abs=1e-9)
    assert got.effect == got.statistic
    assert got.n == (len(ref), len(cur))


def test_ks_uses_exact_p_for_small_and_asymptotic_for_large() -> None:
    ref, cur = SMALL
    assert compare_samples(ref, cur).p_value == pytest.approx(ss.ks_2samp(ref, cur, method="exact").pvalue, abs=1e-9)
    ref, cur = RNG.normal(size=12_000), RNG.normal(0.02, size=11_000)  # past scipy's exact limit of 10,000
    assert compare_samples(ref, cur).p_value == pytest.approx(ss.ks_2samp(ref, cur, method="asymp").pvalue,
                                                              abs=1e-9)


def test_wasserstein_equals_scipy_and_is_scaled_by_reference_iqr() -> None:
    ref, cur = LARGE
    got = compare_samples(ref, cur, "wasserstein")
    assert got.statistic == pytest.approx(ss.wasserstein_distance(ref, cur), abs=1e-9)
    assert got.p_value is None
    q1, q3 = np.quantile(ref, [0.25, 0.75])
    assert got.effect == pytest.approx(got.statistic / (q3 - q1), abs=1e-9)


def test_wasserstein_of_constant_reference_falls_back_to_unscaled() -> None:
    got = compare_samples([3.0] * 40, [4.0] * 40, "wasserstein")
    assert got.statistic == pytest.approx(1.0) and got.effect == pytest.approx(1.0)


def test_mannwhitney_equals_scipy_and_effect_is_rank_biserial() -> None:
    ref, cur = SMALL
    got = compare_samples(ref, cur, "mannwhitney")
    want = ss.mannwhitneyu(ref, cur, alternative="two-sided")
    assert got.statistic == pytest.approx(want.statistic, abs=1e-9)
    assert got.p_value == pytest.approx(want.pvalue, abs=1e-9)
    assert got.effect == pytest.approx(abs(2 * want.statistic / (len(ref) * len(cur)) - 1), abs=1e-12)
    assert compare_samples([1, 2, 3], [4, 5, 6], "mannwhitney").effect == 1.0


def test_chi2_equals_scipy_on_a_table_without_sparse_cells() -> None:
    ref, cur = {"a": 40, "b": 35, "c": 25}, {"a": 20, "b": 30, "c": 30}
    got = compare_counts(ref, cur, "chi2")
    want = ss.chi2_contingency([[40, 35, 25], [20, 30, 30]], correction=False)
    assert got.statistic == pytest.approx(want.statistic, abs=1e-9)
    assert got.p_value == pytest.approx(want.pvalue, abs=1e-9)
    assert got.effect == pytest.approx(0.5 * (abs(0.4 - 0.25) + abs(0.35 - 0.375) + abs(0.25 - 0.375)))


def test_chi2_pools_sparse_levels_and_equals_scipy_on_the_pooled_table() -> None:
    ref = {"a": 500, "b": 480, "r1": 6, "r2": 5, "r3": 4}
    cur = {"a": 160, "b": 170, "r1": 2, "r2": 3, "r4": 4}
    got = compare_counts(ref, cur, "chi2")
    want = ss.chi2_contingency([[500, 480, 15], [160, 170, 9]], correction=False)
    assert got.statistic == pytest.approx(want.statistic, abs=1e-9)
    assert got.p_value == pytest.approx(want.pvalue, abs=1e-9)
    # a pool still too sparse for the test joins the smallest level
    got = compare_counts({"a": 500, "b": 480, "r1": 2, "r2": 2}, {"a": 160, "b": 170, "r3": 2}, "chi2")
    want = ss.chi2_contingency([[500, 484], [160, 172]], correction=False)
    assert got.statistic == pytest.approx(want.statistic, abs=1e-9)


def test_pool_sparse_folds_a_still_sparse_pool_into_the_smallest_level() -> None:
    table = np.array([[50.0, 30.0, 1.0], [50.0, 30.0, 0.0]])
    assert pool_sparse(table, 5).tolist() == [[50.0, 31.0], [50.0, 30.0]]
    assert pool_sparse(np.array([[3.0, 0.0], [2.0, 0.0]]), 5).shape == (2, 1)


def test_tvd_and_js_equal_their_definitions() -> None:
    r, c = np.array([10.0, 20.0, 70.0]), np.array([30.0, 30.0, 40.0])
    tvd = compare_counts(dict(enumerate(r)), dict(enumerate(c)), "tvd")
    assert tvd.statistic == pytest.approx(0.5 * np.abs(r / r.sum() - c / c.sum()).sum(), abs=1e-12)
    js = compare_counts(dict(enumerate(r)), dict(enumerate(c)), "js")
    assert js.statistic == pytest.approx(jensenshannon(r, c, base=2), abs=1e-9)
    assert tvd.p_value is None and js.p_value is None


def test_psi_from_counts_and_from_samples() -> None:
    got = compare_counts({"a": 50, "b": 50}, {"a": 60, "b": 40}, "psi")
    assert got.statistic == pytest.approx((0.6 - 0.5) * math.log(0.6 / 0.5) + (0.4 - 0.5) * math.log(0.4 / 0.5))
    ref, cur = LARGE
    assert compare_samples(ref, ref, "psi").effect == pytest.approx(0.0)
    assert compare_samples(ref, ref + 1.0, "psi").effect > 0.25


def test_fisher_equals_scipy_and_effect_is_signed_difference() -> None:
    got = compare_proportions(3, 200, 12, 180)
    want = ss.fisher_exact([[3, 197], [12, 168]])
    assert got.statistic == pytest.approx(want.statistic, abs=1e-9)
    assert got.p_value == pytest.approx(want.pvalue, abs=1e-9)
    assert got.effect == pytest.approx(12 / 180 - 3 / 200)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        compare_proportions(5, 3, 1, 10)


def test_categorical_samples_are_counted_per_level_and_missing_dropped() -> None:
    ref = ["a"] * 30 + ["b"] * 30 + [None] * 5
    cur = ["a"] * 10 + ["b"] * 30 + [float("nan")]
    got = compare_samples(ref, cur, "chi2")
    want = ss.chi2_contingency([[30, 30], [10, 30]], correction=False)
    assert got.statistic == pytest.approx(want.statistic, abs=1e-9)
    assert got.n == (60, 40)


def test_numeric_samples_drop_nan_and_none() -> None:
    got = compare_samples([1.0, None, 2.0, float("nan"), 3.0], [1.0, 2.0], "ks")
    assert got.n == (3, 2)


def test_empty_side_gives_nan_that_never_differs() -> None:
    got = compare_samples([float("nan")] * 3, [1.0, 2.0], "ks")
    assert got.n == (0, 2) and math.isnan(got.effect)
    assert not differs(got, alpha=0.5, material=0.0)
    assert math.isnan(compare_samples([], ["a"], "chi2").effect)


def test_text_into_a_numeric_method_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="needs numbers"):
        compare_samples(["a", "b"], ["c"], "ks")
    with pytest.raises(ValueError, match="unknown comparison method 'kss'"):
        compare_samples([1.0], [2.0], "kss")
    with pytest.raises(ValueError, match="'ks' does not compare counts .methods that do: psi, chi2"):
        compare_counts({"a": 1}, {"a": 1}, "ks")


def test_differs_needs_significance_and_materiality() -> None:
    c = Comparison("ks", 0.2, 0.001, 0.2, (100, 100))
    assert differs(c, alpha=0.01, material=0.1)
    assert not differs(c, alpha=0.0005, material=0.1)  # not significant
    assert not differs(c, alpha=0.01, material=0.3)  # immaterial
    assert not differs(c, alpha=0.01, material=0.1, p_value=0.02)  # adjusted p given
    assert differs(Comparison("tvd", 0.2, None, 0.2, (5, 5)), alpha=0.01, material=0.1)
    assert differs(Comparison("fisher", 2.0, 0.001, -0.2, (5, 5)), alpha=0.01, material=0.1)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_is_a_named_method_class_with_a_stated_effect(name: str) -> None:
    cls = METHODS[name]
    assert issubclass(cls, Method) and cls.name == name
    assert cls.effect_scale and cls.label and cls.__doc__ and "Effect" in cls.__doc__
    # what it reads is what it implements: each entry of ``reads`` is a method the class overrides
    assert cls.reads and cls.reads <= {"samples", "counts", "proportions", "paired"}
    for what in ("samples", "counts", "proportions", "paired"):
        assert (getattr(cls, what) is not getattr(Method, what)) == (what in cls.reads), what


@pytest.mark.parametrize("name", [n for n, c in METHODS.items() if c.per_column()])
def test_identical_samples_show_no_effect(name: str) -> None:
    values = np.repeat(np.arange(5.0), 20)
    got = compare_samples(values, values, name)
    assert got.effect == pytest.approx(0.0, abs=1e-12)
    assert got.p_value is None or got.p_value > 0.99


def test_method_table_is_complete() -> None:
    subclasses = {c for c in Method.__subclasses__()}
    assert subclasses == set(METHODS.values())


def test_paired_t_equals_scipy_and_only_a_rise_is_significant() -> None:
    from scipy.stats import ttest_rel

    from mlgate.stats import compare_paired

    rng = np.random.default_rng(8)
    ref = rng.random(300)
    cur = ref + rng.normal(0.05, 0.1, 300)
    cmp = compare_paired(ref, cur)
    expected = ttest_rel(cur, ref, alternative="greater")
    assert cmp.method == "paired_t" and cmp.n == (300, 300)
    assert abs(cmp.statistic - expected.statistic) < 1e-9 and abs(cmp.p_value - expected.pvalue) < 1e-9
    assert abs(cmp.effect - float(np.mean(cur - ref))) < 1e-12 and cmp.p_value < 1e-6
    falling = compare_paired(cur, ref)  # the current side smaller: never significant, though as large
    assert falling.p_value > 0.99 and falling.effect < 0
    assert compare_paired([1.0, 2.0], [3.0, 4.0]).p_value == 0.0  # constant difference, a rise
    with pytest.raises(ValueError, match="same length"):
        compare_paired([1.0, 2.0], [1.0])


def test_ztest_squared_equals_the_uncorrected_chi_square_of_the_two_by_two_table() -> None:
    from mlgate.stats import compare_proportions

    for k_ref, n_ref, k_cur, n_cur in ((75_000, 750_000, 25_500, 250_000), (3, 400, 12, 300), (0, 60, 3, 20)):
        cmp = compare_proportions(k_ref, n_ref, k_cur, n_cur, method="ztest")
        statistic, p_value = ss.chi2_contingency([[k_ref, n_ref - k_ref], [k_cur, n_cur - k_cur]], correction=False)[:2]
        assert abs(cmp.statistic**2 - statistic) < 1e-6 * statistic and abs(cmp.p_value - p_value) < 1e-9
        assert cmp.effect == k_cur / n_cur - k_ref / n_ref
    assert compare_proportions(0, 100, 0, 50, method="ztest").p_value == 1.0
    with pytest.raises(ValueError, match="does not compare proportions .methods that do: fisher, ztest"):
        compare_proportions(1, 10, 2, 10, method="ks")
