"""Business metrics: expected cost and savings from the config's cost matrix, with intervals, as gates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _support.lifecycle import churn, fit
from mlgate.config import BusinessConfig, CompareGate, EvaluateGate
from mlgate.errors import ConfigError
from mlgate.evaluation import evaluate_model
from mlgate.evaluation.versus_baseline import BETTER, compare_models
from mlgate.models import LoadedModel

# a missed churner costs 100, a retention offer 10 (to a churner or not)
COSTS = BusinessConfig(costs={"1": {"0": 100, "1": 10}, "0": {"1": 10}}, unit="EUR")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return churn(3000)


def _loaded(frame: pd.DataFrame, columns: list[str] | None = None, target: str | None = None) -> LoadedModel:
    est = fit(frame, columns, rows=slice(0, 1500), regression_target=target)
    return LoadedModel(est, "memory", info={"features": list(est.feature_names_in_),
                                            "task": "regression" if target else "binary"})


def test_expected_cost_and_savings_equal_the_cost_matrix_by_hand(frame: pd.DataFrame) -> None:
    model, test = _loaded(frame), frame.iloc[1500:]
    report, result = evaluate_model(model, test, "target", EvaluateGate(bootstrap=300), business=COSTS,
                                    id_columns=["customer_id"], plots=False)
    y = test["target"].to_numpy()
    pred = model.estimator.predict(test.drop(columns=["target", "customer_id"]))
    cost = np.where((y == 1) & (pred == 0), 100.0, np.where(pred == 1, 10.0, 0.0))
    majority = int(np.bincount(y).argmax())
    base = np.where((y == 1) & (majority == 0), 100.0, np.where(majority == 1, 10.0, 0.0))
    assert result.metrics["expected_cost"] == pytest.approx(cost.mean())
    assert result.metrics["savings"] == pytest.approx(base.mean() - cost.mean())
    low, high = result.intervals["savings"]
    assert low < result.metrics["savings"] < high and high - low < 10
    assert report.extras["business"] == {"baseline": "majority", "unit": "EUR"}


def test_business_metrics_gate_like_any_metric(frame: pd.DataFrame) -> None:
    model, test = _loaded(frame), frame.iloc[1500:]
    loose = EvaluateGate(thresholds={"expected_cost": 1000, "savings": 0}, bootstrap=0)  # max cost, min savings
    tight = EvaluateGate(thresholds={"expected_cost": 1.0}, bootstrap=0)
    assert evaluate_model(model, test, "target", loose, business=COSTS, plots=False)[0].passed
    report, _ = evaluate_model(model, test, "target", tight, business=COSTS, plots=False)
    assert not report.passed and "expected_cost" in report.failures[0].message and "<= 1" in report.failures[0].message


def test_without_costs_the_business_metrics_are_not_offered(frame: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="thresholds -> savings: unknown metric"):
        evaluate_model(_loaded(frame), frame.iloc[1500:], "target", EvaluateGate(thresholds={"savings": 0}))


def test_regression_cost_per_unit_of_error_against_the_mean(frame: pd.DataFrame) -> None:
    rows = frame.drop(columns=["target"])
    model = _loaded(frame, ["internet_service", "tenure_months"], "monthly_charges")
    business = BusinessConfig(cost_per_unit=2.0)
    _, result = evaluate_model(model, rows.iloc[1500:], "monthly_charges", EvaluateGate(bootstrap=0),
                               business=business, id_columns=["customer_id"], plots=False)
    y = rows.iloc[1500:]["monthly_charges"].to_numpy()
    assert result.metrics["expected_cost"] == pytest.approx(2.0 * result.metrics["mae"])
    against_mean = 2.0 * np.abs(y - y.mean()).mean()
    assert result.metrics["savings"] == pytest.approx(against_mean - result.metrics["expected_cost"])


def test_compare_decides_on_savings(frame: pd.DataFrame) -> None:
    good, weak = _loaded(frame), _loaded(frame, ["gender", "region", "age"])
    gate = CompareGate(metric="savings", bootstrap=300)
    report, outcome = compare_models(good, weak, frame.iloc[1500:], "target", gate, id_columns=["customer_id"],
                                     business=COSTS)
    assert outcome.metric == "savings" and outcome.greater_is_better and outcome.verdict == BETTER
    assert outcome.table["expected_cost"]["delta"] < 0 and report.passed
    production = BusinessConfig(costs=COSTS.costs, baseline="production")
    _, against = compare_models(good, weak, frame.iloc[1500:], "target", gate, id_columns=["customer_id"],
                                business=production)
    assert against.baseline == 0.0 and against.candidate == pytest.approx(-outcome.table["expected_cost"]["delta"])


@pytest.mark.parametrize(("business", "match"), [
    (BusinessConfig(costs={"yes": {"0": 1}}), r"business -> costs -> yes: not a class of the model \(classes: 0, 1\)"),
    (BusinessConfig(costs={"1": {"0": 1}}, baseline="mean"), "'mean' is a regression baseline"),
    (BusinessConfig(cost_per_unit=1.0), "a classifier needs the cost of each confusion cell"),
])
def test_a_cost_matrix_that_does_not_fit_the_model_names_the_key(frame: pd.DataFrame, business: BusinessConfig,
                                                                 match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        evaluate_model(_loaded(frame), frame.iloc[1500:], "target", EvaluateGate(bootstrap=0), business=business,
                       plots=False)
