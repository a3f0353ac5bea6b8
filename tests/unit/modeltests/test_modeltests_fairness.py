"""Fairness: figures equal fairlearn's (edge cases included), the interval's coverage and the
permutation test's false-alarm rate measured by simulation, and a verdict that fails bias, not noise."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as flm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from mlgate.modeltests import group_rates as F
from mlgate.modeltests import run


def _predictions(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])
    y = (rng.random(n) < np.where(groups == "a", 0.4, 0.25)).astype(int)
    flip = rng.random(n) < np.where(groups == "c", 0.35, 0.15)
    pred = np.where(flip, 1 - y, y)
    return y, pred, groups


def _fairlearn(y: np.ndarray, pred: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    kw = {"sensitive_features": groups}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fairlearn/sklearn warn about the undefined rates we test
        by_group = flm.MetricFrame(metrics=accuracy_score, y_true=y, y_pred=pred, **kw)
        return {"parity_difference": flm.demographic_parity_difference(y, pred, **kw),
                "disparate_impact": flm.demographic_parity_ratio(y, pred, **kw),
                "equalized_odds_difference": flm.equalized_odds_difference(y, pred, **kw),
                "equal_opportunity_difference": flm.equal_opportunity_difference(y, pred, **kw),
                "accuracy_difference": by_group.difference()}


@pytest.mark.parametrize("seed", [0, 1])
def test_group_rates_equal_fairlearn_metricframe(seed: int) -> None:
    y, pred, groups = _predictions(5000, seed)
    frame = flm.MetricFrame(
        metrics={"selection_rate": flm.selection_rate, "tpr": flm.true_positive_rate,
                 "fpr": flm.false_positive_rate, "accuracy": accuracy_score, "count": flm.count},
        y_true=y, y_pred=pred, sensitive_features=groups)
    rates = F.group_rates(y, pred, groups)
    by_group = frame.by_group
    for i, g in enumerate(rates.groups):
        assert rates.selection_rate[i] == pytest.approx(by_group.loc[g, "selection_rate"], abs=1e-12)
        assert rates.tpr[i] == pytest.approx(by_group.loc[g, "tpr"], abs=1e-12)
        assert rates.fpr[i] == pytest.approx(by_group.loc[g, "fpr"], abs=1e-12)
        assert rates.accuracy[i] == pytest.approx(by_group.loc[g, "accuracy"], abs=1e-12)
        assert rates.count[i] == by_group.loc[g, "count"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_summary_figures_equal_fairlearn(seed: int) -> None:
    y, pred, groups = _predictions(5000, seed)
    rates = F.group_rates(y, pred, groups)
    for name, expected in _fairlearn(y, pred, groups).items():
        assert F.figure(rates, name) == pytest.approx(expected, abs=1e-12), name


def test_a_group_without_positives_counts_as_rate_zero_as_in_fairlearn() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1, 0])
    pred = np.array([0, 1, 0, 0, 1, 0, 1, 1])
    groups = np.array(["a"] * 4 + ["b"] * 4)  # 'a' has no true positives: its TPR is undefined
    rates = F.group_rates(y, pred, groups)
    expected = _fairlearn(y, pred, groups)
    assert F.equalized_odds_difference(rates) == pytest.approx(expected["equalized_odds_difference"]) == 0.75
    assert F.equal_opportunity_difference(rates) == pytest.approx(expected["equal_opportunity_difference"])
    assert rates.undefined() == {"tpr": ["a"]}
    assert rates.table()[0]["tpr"] is None  # named as undefined in the report, not a made-up 0
    # judged without the undefined group, there is no TPR gap (one group left) and the FPR gap stays
    assert F.figure(rates, "equal_opportunity_difference", undefined_as_zero=False) == 0.0
    assert F.figure(rates, "equalized_odds_difference", undefined_as_zero=False) == pytest.approx(0.75)


def test_parity_ratio_when_every_rate_is_zero_is_nan_as_in_fairlearn() -> None:
    y = np.array([0, 1, 0, 1, 0, 1])
    pred = np.zeros(6, dtype=int)
    groups = np.array(["a", "a", "a", "b", "b", "b"])
    rates = F.group_rates(y, pred, groups)
    expected = _fairlearn(y, pred, groups)
    assert np.isnan(expected["disparate_impact"]) and np.isnan(F.parity_ratio(rates))
    assert F.parity_difference(rates) == expected["parity_difference"] == 0.0
    assert F.permutation_p_value(rates, "disparate_impact") == 1.0


def test_missing_attribute_values_form_their_own_group() -> None:
    rates = F.group_rates(np.array([1, 0, 1, 0]), np.array([1, 1, 0, 0]),
                          pd.Series(["a", None, "a", None]))
    assert rates.groups == ["a", F.MISSING_GROUP]
    assert rates.count.tolist() == [2, 2]


def test_newcombe_interval_matches_newcombes_published_example() -> None:
    # Newcombe (1998), Table II, example (a): 56/70 - 48/80, method 10 gives [0.0524, 0.3339]
    low, high = F.newcombe_interval(56, 70, 48, 80)
    assert float(low) == pytest.approx(0.0524, abs=5e-4) and float(high) == pytest.approx(0.3339, abs=5e-4)


def _null_data(n: int, seed: int, k: int = 2) -> F.GroupRates:
    """No disparity by construction: group, truth and prediction drawn independently of the group."""
    rng = np.random.default_rng(seed)
    groups = rng.choice([f"g{i}" for i in range(k)], n)
    y = (rng.random(n) < 0.4).astype(int)
    pred = np.where(rng.random(n) < 0.8, y, 1 - y)  # 80% accurate in every group alike
    return F.group_rates(y, pred, groups)


def test_interval_covers_zero_under_no_disparity_in_at_least_90_percent_of_200_datasets() -> None:
    """The old percentile bootstrap of the max-min gap covered 0 in 0 of 100 such datasets."""
    covered = {"two groups": 0, "widest of four": 0}
    for seed in range(200):
        pair = F.pairwise_differences(_null_data(300, seed), "selection_rate")[0]
        covered["two groups"] += pair["low"] <= 0 <= pair["high"]
        widest = F.widest_pair(_null_data(300, seed, k=4), "parity_difference")
        assert widest is not None
        covered["widest of four"] += widest["low"] <= 0 <= widest["high"]
    assert covered["two groups"] / 200 >= 0.90, covered
    assert covered["widest of four"] / 200 >= 0.90, covered


@pytest.mark.parametrize("figure", ["parity_difference", "equalized_odds_difference", "disparate_impact"])
def test_permutation_test_false_alarm_rate_is_at_most_about_5_percent(figure: str) -> None:
    p = [F.permutation_p_value(_null_data(300, seed, k=3), figure, n_permutations=199, seed=seed)
         for seed in range(200)]
    rate = float(np.mean(np.array(p) < 0.05))
    assert rate <= 0.075, rate
    assert np.mean(np.array(p) < 0.5) > 0.3  # not a test that never rejects: p spreads over (0, 1)


def test_permutation_test_and_interval_find_a_real_gap() -> None:
    hits = 0
    for seed in range(50):
        rng = np.random.default_rng(seed)
        groups = rng.choice(["a", "b"], 400)
        pred = (rng.random(400) < np.where(groups == "a", 0.45, 0.25)).astype(int)
        rates = F.group_rates(pred, pred, groups)
        pair = F.widest_pair(rates, "parity_difference")
        assert pair is not None
        hits += F.permutation_p_value(rates, "parity_difference", seed=seed) < 0.01 and pair["high"] < 0
    assert hits / 50 >= 0.9, hits


class _Biased:
    """Wraps a classifier and predicts the positive class for every 'male' row."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = inner.feature_names_in_  # type: ignore[attr-defined]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = np.array(self.inner.predict_proba(X), dtype=float)  # type: ignore[attr-defined]
        male = (X["gender"] == "male").to_numpy()
        proba[male] = [0.05, 0.95]
        return proba

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def test_biased_model_fails_fairness_naming_attribute_group_p_value_and_interval(binary_case) -> None:  # type: ignore[no-untyped-def]
    report = run(_Biased(binary_case.model), binary_case.test, checks=["fairness"],
                 protected=["gender"])
    (row,) = report.checks
    assert not row.passed and row.column == "gender"
    assert "gender" in row.message and "'female'" in row.message
    assert "demographic parity difference" in row.message and "80% rule" in row.message
    assert "permutation p=0.001" in row.message and "% CI [" in row.message
    assert report.key_figure.startswith("0/1 checks passed")
    assert any(f.title == "Fairness by gender" for f in report.figures)
    tests = {t["figure"]: t for t in row.details["per_label"]["1"]["tests"]}
    parity = tests["parity_difference"]
    assert parity["adjusted_p"] < 0.05 and parity["material"]
    assert parity["pair"]["a"] == "female" and parity["pair"]["high"] < 0


def test_fair_model_passes_and_small_groups_are_reported_not_gated(binary_case) -> None:  # type: ignore[no-untyped-def]
    test = binary_case.test.copy()
    test["segment"] = np.where(np.arange(len(test)) < 10, "tiny", "big")
    report = run(binary_case.model, test, protected=["gender", "segment"], checks=["fairness"],
                 config={"fairness": {"min_group_size": 30}})
    rows = {c.column: c for c in report.checks}
    assert rows["gender"].passed, rows["gender"].message
    assert rows["segment"].passed and "fewer than 2 groups" in rows["segment"].message
    small = report.extras["details"]["fairness"]["segment"]["small_groups"]
    assert [g["group"] for g in small] == ["tiny"]


def _unrelated_attribute_case(seed: int, n_test: int = 160) -> tuple[LogisticRegression, pd.DataFrame]:
    """A model of x alone and a 'gender' drawn independently: any gap between groups is noise."""
    rng = np.random.default_rng(seed)
    n = 600 + n_test
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "gender": rng.choice(["f", "m"], n),
                          "target": (x + rng.normal(0, 1.0, n) > 0.3).astype(int)})
    model = LogisticRegression().fit(frame[["x"]].iloc[:600], frame["target"].iloc[:600])
    return model, frame.iloc[600:]


def test_a_noisy_gap_above_the_limit_passes_and_says_it_is_within_noise() -> None:
    """The old note: a demo failed equalized odds 0.169 > 0.1 where gender has no effect by design."""
    for seed in range(40):
        model, test = _unrelated_attribute_case(seed)
        report = run(model, test, checks=["fairness"], protected=["gender"])
        (row,) = report.checks
        info = {t["figure"]: t for t in row.details["per_label"]["1"]["tests"]}
        if info["equalized_odds_difference"]["value"] > 0.1:
            break
    else:
        pytest.fail("no seed gave a noisy equalized-odds gap above 0.1")
    assert row.passed, row.message
    assert "within sampling noise" in row.message and "equalized odds difference" in row.message
    assert "Holm-adjusted" in row.message and ">= 0.05" in row.message


def test_the_check_rarely_fails_an_unrelated_attribute_where_the_point_rule_fails_half() -> None:
    """160 test rows, gender unrelated: measured 3 of 200 failures here, 100 of 200 for 'point > 0.1'."""
    failed = material = 0
    for seed in range(40):
        report = run(*_unrelated_attribute_case(seed), checks=["fairness"], protected=["gender"],
                     config={"fairness": {"n_permutations": 199}})
        failed += not report.passed
        material += any(t["material"] for t in report.checks[0].details["per_label"]["1"]["tests"])
    assert failed <= 2, failed  # alpha 0.05 family-wise
    assert material >= 10, material  # the gaps above the limits are there: only noise, and said so


def test_multiclass_is_judged_one_vs_rest_with_the_outcome_named(multiclass_case) -> None:  # type: ignore[no-untyped-def]
    class _Skewed:
        def __init__(self, inner: object) -> None:
            self.inner, self.classes_ = inner, np.array([0, 1, 2])

        def predict(self, X: pd.DataFrame) -> np.ndarray:
            out = np.asarray(self.inner.predict(X))  # type: ignore[attr-defined]
            return np.where((X["group"] == "b").to_numpy(), 2, out)

    report = run(_Skewed(multiclass_case.model), multiclass_case.test, checks=["fairness"], protected=["group"])
    (row,) = report.checks
    assert not row.passed and "(outcome 2)" in row.message
    assert set(row.details["per_label"]) == {"0", "1", "2"}


def test_no_protected_attribute_skips(binary_case) -> None:  # type: ignore[no-untyped-def]
    report = run(binary_case.model, binary_case.test, checks=["fairness"])
    assert report.checks[0].severity == "info" and "skipped" in report.checks[0].message
    assert report.extras["families"]["fairness"] == "skipped"


def test_a_group_without_positives_is_named_undefined_in_the_report() -> None:
    rng = np.random.default_rng(4)
    n = 400
    x = rng.normal(size=n)
    group = np.where(np.arange(n) < 80, "c", rng.choice(["a", "b"], n))
    target = np.where(group == "c", 0, (x + rng.normal(0, 1, n) > 0).astype(int))  # 'c' has no positives
    frame = pd.DataFrame({"x": x, "group": group, "target": target})
    model = LogisticRegression().fit(frame[["x"]], frame["target"])
    report = run(model, frame, checks=["fairness"], protected=["group"])
    (row,) = report.checks
    assert "tpr undefined for group(s) 'c' (no positives; fairlearn's figures count it as 0" in row.message
    entry = row.details["per_label"]["1"]
    assert entry["undefined"] == {"tpr": ["c"]}
    assert next(g for g in entry["groups"] if g["group"] == "c")["tpr"] is None
    expected = flm.equalized_odds_difference(frame["target"], model.predict(frame[["x"]]), sensitive_features=group)
    assert entry["equalized_odds_difference"] == pytest.approx(expected, abs=1e-12)
