"""The vectorized fairness figures equal fairlearn's; a biased model fails and is named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as flm
from sklearn.metrics import accuracy_score

from mlgate.modeltests import fairness as F
from mlgate.modeltests import run


def _predictions(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])
    y = (rng.random(n) < np.where(groups == "a", 0.4, 0.25)).astype(int)
    flip = rng.random(n) < np.where(groups == "c", 0.35, 0.15)
    pred = np.where(flip, 1 - y, y)
    return y, pred, groups


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
        assert rates.selection_rate[i] == pytest.approx(by_group.loc[g, "selection_rate"])
        assert rates.tpr[i] == pytest.approx(by_group.loc[g, "tpr"])
        assert rates.fpr[i] == pytest.approx(by_group.loc[g, "fpr"])
        assert rates.accuracy[i] == pytest.approx(by_group.loc[g, "accuracy"])
        assert rates.count[i] == by_group.loc[g, "count"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_summary_figures_equal_fairlearn(seed: int) -> None:
    y, pred, groups = _predictions(5000, seed)
    rates = F.group_rates(y, pred, groups)
    kw = {"sensitive_features": groups}
    assert F.parity_difference(rates) == pytest.approx(flm.demographic_parity_difference(y, pred, **kw))
    assert F.parity_ratio(rates) == pytest.approx(flm.demographic_parity_ratio(y, pred, **kw))
    assert F.equalized_odds_difference(rates) == pytest.approx(flm.equalized_odds_difference(y, pred, **kw))
    assert F.equal_opportunity_difference(rates) == pytest.approx(
        flm.equal_opportunity_difference(y, pred, **kw))


def test_missing_attribute_values_form_their_own_group() -> None:
    rates = F.group_rates(np.array([1, 0, 1, 0]), np.array([1, 1, 0, 0]),
                          pd.Series(["a", None, "a", None]))
    assert rates.groups == ["a", F.MISSING_GROUP]
    assert rates.count.tolist() == [2, 2]


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


def test_biased_model_fails_fairness_naming_attribute_and_group(binary_case) -> None:  # type: ignore[no-untyped-def]
    report = run(_Biased(binary_case.model), binary_case.test, checks=["fairness"],
                 protected=["gender"])
    (row,) = report.checks
    assert not row.passed and row.column == "gender"
    assert "gender" in row.message and "'female'" in row.message
    assert "demographic parity difference" in row.message and "80% rule" in row.message
    assert report.key_figure.startswith("0/1 checks passed")
    assert any(f.title == "Fairness by gender" for f in report.figures)


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


def test_no_protected_attribute_skips(binary_case) -> None:  # type: ignore[no-untyped-def]
    report = run(binary_case.model, binary_case.test, checks=["fairness"])
    assert report.checks[0].severity == "info" and "skipped" in report.checks[0].message
    assert report.extras["families"]["fairness"] == "skipped"


def test_a_failing_difference_carries_its_bootstrap_interval(binary_case) -> None:  # type: ignore[no-untyped-def]
    report = run(_Biased(binary_case.model), binary_case.test, checks=["fairness"], protected=["gender"])
    (row,) = report.checks
    assert "demographic parity difference" in row.message and "(95% CI [" in row.message
    info = row.details["per_label"]["1"]
    low, high = info["intervals"]["parity_difference"]
    assert low <= info["parity_difference"] <= high


def test_bootstrap_interval_is_wide_on_few_rows_and_narrow_on_many() -> None:
    from mlgate.modeltests.fairness import bootstrap_interval, parity_difference

    rng = np.random.default_rng(3)

    def width(n: int) -> float:
        group = rng.choice(["a", "b"], n)
        pred = (rng.random(n) < 0.3).astype(int)  # no real difference between the groups
        low, high = bootstrap_interval(pred, pred, group, 1, parity_difference, seed=1)
        return high - low

    assert width(200) > 2 * width(20_000)
