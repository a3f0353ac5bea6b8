"""Conformance over MODEL_CHECKS and the behaviour of each check on crafted models."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

import mlgate.modeltests.checks as checks_pkg
from _support.modeltests import FAST
from mlgate.errors import ConfigError
from mlgate.modeltests import MODEL_CHECKS, run
from mlgate.modeltests.base import ModelCheck

# names users already write in mlgate.yaml and read in reports: never renamed or reordered (a new
# check is appended to the table; this test needs no change for it)
STABLE = ["performance", "consistency", "robustness", "feature_importance", "data_distribution",
          "fairness", "inference", "interpretability", "edge_cases", "reproducibility"]


def test_table_keeps_the_stable_names_in_their_order() -> None:
    assert list(MODEL_CHECKS.builtin)[:len(STABLE)] == STABLE


def test_every_check_class_is_in_the_table() -> None:
    import pkgutil
    from importlib import import_module

    found = set()
    for info in pkgutil.iter_modules(checks_pkg.__path__):
        module = import_module(f"{checks_pkg.__name__}.{info.name}")
        found |= {obj for _, obj in inspect.getmembers(module, inspect.isclass)
                  if issubclass(obj, ModelCheck) and obj is not ModelCheck}
    assert found == set(MODEL_CHECKS.values())


@pytest.mark.parametrize("name", list(MODEL_CHECKS))
def test_check_conformance(name: str, any_case) -> None:  # type: ignore[no-untyped-def]
    """Every check: defaults valid, unknown keys rejected, runs on each task, rows named after it."""
    cls = MODEL_CHECKS[name]
    assert cls.name == name and cls.__doc__
    cls()  # every key has a default
    with pytest.raises(ConfigError, match=f"gates -> test -> {name}.*no_such_key"):
        run(any_case.model, any_case.test, {name: {"no_such_key": 1}}, checks=[name])
    config = {name: FAST.get(name, {})} if name != "performance" else {}
    report = run(any_case.model, any_case.test, config, reference=any_case.train,
                 protected=["group"] if "group" in any_case.test else ["gender"], checks=[name])
    assert report.checks and all(c.name == name for c in report.checks)
    assert all(c.message for c in report.checks)
    assert report.extras["families"][name] in ("passed", "failed", "skipped")
    assert not any("could not complete" in c.message for c in report.checks), report.checks


def test_performance_defaults_are_the_seeds_and_config_replaces_them(binary_case) -> None:  # type: ignore[no-untyped-def]
    default = run(binary_case.model, binary_case.test, checks=["performance"])
    assert default.checks[0].expected == {"accuracy": 0.85, "precision_weighted": 0.8, "recall_weighted": 0.8,
                                          "f1_weighted": 0.8}
    custom = run(binary_case.model, binary_case.test, {"performance": {"roc_auc": 0.6, "log_loss": 0.9}},
                 checks=["performance"])
    assert custom.checks[0].passed, custom.checks[0].message
    failing = run(binary_case.model, binary_case.test, {"performance": {"log_loss": 0.01}},
                  checks=["performance"])
    assert "log_loss" in failing.checks[0].message and "above the maximum 0.01" in failing.checks[0].message
    with pytest.raises(ConfigError, match="unknown metric"):
        run(binary_case.model, binary_case.test, {"performance": {"rmse": 1.0}}, checks=["performance"])


def test_robustness_reports_a_curve_and_keeps_the_absolute_limit_as_an_option(regression_case) -> None:  # type: ignore[no-untyped-def]
    ok = run(regression_case.model, regression_case.test, {"robustness": {"n_rows": 300}},
             reference=regression_case.train, checks=["robustness"])
    assert ok.passed, ok.checks[0].message
    curve = ok.extras["details"]["robustness"]["curve"]
    assert [p["level"] for p in curve] == [0.01, 0.05, 0.1, 0.2]
    assert curve[-1]["drop"] > curve[0]["drop"]  # more noise, larger drop: reported, not gated
    assert len(ok.checks) == 1  # no absolute limit unless asked for
    strict = run(regression_case.model, regression_case.test,
                 {"robustness": {"n_rows": 300, "max_drop": 0.0001}}, reference=regression_case.train,
                 checks=["robustness"])
    assert not strict.passed and "drops by" in strict.checks[1].message and strict.checks[0].passed


def _fragile_case(task: str, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three informative columns, a text column and eight columns of pure noise."""
    rng = np.random.default_rng(seed)
    n = 1600
    frame = pd.DataFrame(rng.normal(size=(n, 11)), columns=[f"x{i}" for i in range(11)])
    frame["color"] = rng.choice(["red", "green", "blue"], n)
    score = frame.x0 - 0.7 * frame.x1 + 0.5 * frame.x2 + 0.5 * (frame.color == "red")
    frame["target"] = (score + rng.normal(0, 1, n) > 0).astype(int) if task == "binary" else score + rng.normal(0, 1, n)
    return frame.iloc[:1200].reset_index(drop=True), frame.iloc[1200:].reset_index(drop=True)


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_robustness_passes_a_smooth_model_and_fails_a_one_nearest_neighbour(task: str) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    from _support.modeltests import pipeline_for as _pipeline

    train, test = _fragile_case(task)
    X, y = train.drop(columns=["target"]), train["target"]
    boosted = (HistGradientBoostingClassifier if task == "binary" else HistGradientBoostingRegressor)(
        max_iter=60, random_state=0)
    healthy = run(_pipeline(boosted).fit(X, y), test, reference=train, checks=["robustness"])
    assert healthy.passed, healthy.checks[0].message
    knn = (KNeighborsClassifier if task == "binary" else KNeighborsRegressor)(n_neighbors=1)
    fragile = run(_pipeline(knn).fit(X, y), test, reference=train, checks=["robustness"])
    row = fragile.checks[0]
    assert not fragile.passed and row.message.startswith("fragile:"), row.message
    assert "linear" in row.message or "ridge" in row.message
    assert row.details["excess_change"] > row.expected["material"]
    assert row.details["reference_fitted_on"] == "1200 training rows"


class _JumpyOnOneColumn:
    """Smooth in x0..x2, but its answer turns around with the parity of int(20 * x3)."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-(X.x0 - 0.7 * X.x1 + 0.5 * X.x2).to_numpy()))
        p = np.where(np.floor(20 * X.x3.to_numpy()) % 2 == 1, 1 - p, p)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)


def test_robustness_names_the_feature_a_fragile_model_jumps_on() -> None:
    train, test = _fragile_case("binary")
    report = run(_JumpyOnOneColumn(), test, reference=train, checks=["robustness"])
    row = report.checks[0]
    assert not report.passed and row.message.startswith("fragile:"), row.message
    by_feature = row.details["excess_by_feature"]
    assert list(by_feature)[0] == "x3" and by_feature["x3"] > row.expected["material"]
    assert all(v < 0.02 for c, v in by_feature.items() if c != "x3"), by_feature
    assert "noise on one feature alone: 'x3' +" in row.message and "lower `level`" in row.message


def test_robustness_leaves_values_many_rows_hold_alone() -> None:
    """No rain is 0 mm exactly, in most rows: a model that splits on "no rain" is not fragile for
    answering otherwise when noise moves 60% of the rows a few tenths of a millimetre off zero,
    to amounts the data never holds (a boosted model on Seattle's weather failed so, excess 0.10)."""
    from sklearn.tree import DecisionTreeClassifier

    from _support.modeltests import pipeline_for as _pipeline
    from mlgate.modeltests.columns import add_noise, atoms

    rng = np.random.default_rng(4)
    n = 1600
    rain = np.where(rng.random(n) < 0.6, 0.0, rng.exponential(5.0, n))
    frame = pd.DataFrame({"rain": rain, "wind": rng.normal(3, 1, n)})
    frame["target"] = ((rain == 0) ^ (rng.random(n) < 0.1)).astype(int)
    train, test = frame.iloc[:1200].reset_index(drop=True), frame.iloc[1200:].reset_index(drop=True)
    kept = atoms(train, ["rain", "wind"])
    assert list(kept) == ["rain"] and kept["rain"].tolist() == [0.0]
    noisy = add_noise(test, {"rain": 5.0, "wind": 1.0}, 0.1, np.random.default_rng(0), kept)
    plain = add_noise(test, {"rain": 5.0, "wind": 1.0}, 0.1, np.random.default_rng(0))
    assert (noisy.rain[test.rain == 0] == 0).all() and (noisy.rain != test.rain).sum() == (test.rain > 0).sum()
    assert noisy.wind.equals(plain.wind)  # the same noise elsewhere
    model = _pipeline(DecisionTreeClassifier(max_depth=2, random_state=0)).fit(train[["rain", "wind"]], train.target)
    report = run(model, test, reference=train, checks=["robustness"])
    assert report.passed, report.checks[0].message
    assert report.extras["details"]["robustness"]["values_kept"] == {"rain": [0.0]}
    assert report.checks[0].details["values_kept"] == {"rain": [0.0]}  # the HTML report shows check details


def test_robustness_without_training_rows_cross_fits_the_reference_on_the_test_rows() -> None:
    from sklearn.neighbors import KNeighborsClassifier

    from _support.modeltests import pipeline_for as _pipeline

    train, test = _fragile_case("binary", seed=1)
    knn = _pipeline(KNeighborsClassifier(n_neighbors=1)).fit(train.drop(columns=["target"]), train["target"])
    report = run(knn, test, checks=["robustness"])
    row = report.checks[0]
    assert not report.passed and "cross-fitted" in row.details["reference_fitted_on"], row.message
    tiny = run(knn, test.head(30), checks=["robustness"])
    assert tiny.passed and tiny.checks[0].severity == "warning" and "cannot decide" in tiny.checks[0].message


def test_robustness_defaults_to_the_headline_metric(binary_case, regression_case) -> None:  # type: ignore[no-untyped-def]
    """roc_auc's fall for a classifier; rmse's relative rise for a regressor (units cancel); `metric` overrides."""
    binary = run(binary_case.model, binary_case.test, {"robustness": {"n_rows": 300}},
                 reference=binary_case.train, checks=["robustness"])
    details = binary.extras["details"]["robustness"]
    assert details["metric"] == "roc_auc" and details["drop"] == "absolute"
    assert all("roc_auc" in p for p in details["curve"])
    assert "mean squared probability change" in binary.checks[0].message
    ours = run(regression_case.model, regression_case.test, {"robustness": {"n_rows": 300}}, checks=["robustness"])
    details = ours.extras["details"]["robustness"]
    assert details["metric"] == "rmse" and details["drop"] == "relative increase"
    assert details["baseline"] > 0  # rmse itself, not negated
    for point in details["curve"]:
        assert point["drop"] == pytest.approx(point["rmse"] / details["baseline"] - 1)
    named = run(regression_case.model, regression_case.test, {"robustness": {"n_rows": 300, "metric": "r2"}},
                checks=["robustness"])
    assert named.extras["details"]["robustness"]["metric"] == "r2"
    assert named.extras["details"]["robustness"]["drop"] == "absolute"


def test_feature_importance_defaults_to_the_headline_metric(multiclass_case, regression_case) -> None:  # type: ignore[no-untyped-def]
    fast = {"feature_importance": {"n_bootstrap": 2, "n_rows": 100}}
    multi = run(multiclass_case.model, multiclass_case.test, fast, checks=["feature_importance"])
    assert multi.extras["details"]["feature_importance"]["metric"] == "f1_macro"
    reg = run(regression_case.model, regression_case.test, fast, checks=["feature_importance"])
    assert reg.extras["details"]["feature_importance"]["metric"] == "rmse"
    named = run(regression_case.model, regression_case.test,
                {"feature_importance": {**fast["feature_importance"], "metric": "r2"}}, checks=["feature_importance"])
    assert named.extras["details"]["feature_importance"]["metric"] == "r2"


def test_feature_importance_resamples_and_flags_a_dominant_feature(multiclass_case) -> None:  # type: ignore[no-untyped-def]
    report = run(multiclass_case.model, multiclass_case.test,
                 {"feature_importance": {"n_bootstrap": 4, "n_rows": 300, "max_single_share": 0.3}},
                 checks=["feature_importance"])
    details = report.extras["details"]["feature_importance"]
    top = details["importances"][0]
    assert top["feature"] == "x1" and top["std"] > 0  # resamples differ, so the std is real
    concentration = [c for c in report.checks if "'x1' carries" in c.message]
    assert report.passed and concentration and concentration[0].severity == "warning"
    assert "proxy of the target" in concentration[0].message
    assert report.extras["families"]["feature_importance"] == "warning"
    strict = run(multiclass_case.model, multiclass_case.test,
                 {"feature_importance": {"n_bootstrap": 4, "n_rows": 300, "max_single_share": 0.3,
                                         "single_share_severity": "error"}}, checks=["feature_importance"])
    assert not strict.passed and any("'x1' carries" in c.message for c in strict.failures)


def test_data_distribution_flags_a_shifted_column(binary_case) -> None:  # type: ignore[no-untyped-def]
    shifted = binary_case.test.copy()
    shifted["monthly_charges"] = shifted["monthly_charges"] + 30
    report = run(binary_case.model, shifted, reference=binary_case.train, checks=["data_distribution"])
    assert not report.passed and "'monthly_charges': KS distance" in report.checks[0].message
    same = run(binary_case.model, binary_case.test, reference=binary_case.train,
               checks=["data_distribution"])
    assert same.passed, same.checks[0].message


class _NanCrasher:
    """A classifier whose predict raises on any missing value, as some hand-made models do."""

    classes_ = np.array([0, 1])

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def _guard(self, X: pd.DataFrame) -> None:
        if X.isna().to_numpy().any():
            raise RuntimeError("cannot handle NaN")

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        self._guard(X)
        return self.inner.predict(X)  # type: ignore[attr-defined, no-any-return]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self._guard(X)
        return self.inner.predict_proba(X)  # type: ignore[attr-defined, no-any-return]


def test_edge_cases_report_a_model_that_crashes_on_nan(binary_case) -> None:  # type: ignore[no-untyped-def]
    test = binary_case.test.dropna()
    report = run(_NanCrasher(binary_case.model), test, reference=binary_case.train,
                 checks=["edge_cases"])
    (row,) = report.checks
    assert not row.passed
    assert "nan[satisfaction_score]: rejected (RuntimeError: cannot handle NaN)" in row.message
    cases = {c["case"]: c for c in report.extras["details"]["edge_cases"]["cases"]}
    assert cases["nan[gender]"]["outcome"] == "rejected"  # reported, but gender never had NaN
    assert cases["single_row"]["outcome"] == "ok"
    healthy = run(binary_case.model, test, reference=binary_case.train, checks=["edge_cases"])
    assert healthy.passed, healthy.checks[0].message


class _Positional:
    """A regressor that reads its input by position: x1 first, whatever the column is called."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return X.iloc[:, 0].to_numpy(dtype=float) * 10 + 50


def test_edge_cases_column_order_compares_a_regressors_values_within_rounding(regression_case) -> None:  # type: ignore[no-untyped-def]
    """A seeded random forest on threads answers 1e-13 apart from call to call: no change of column
    order (it failed so on grunfeld); a model reading columns by position does change."""
    from _support.modeltests import pipeline_for as _pipeline

    X, y = regression_case.train.drop(columns=["target"]), regression_case.train["target"]
    model = _pipeline(_jittery_regressor()).fit(X, y)
    healthy = run(model, regression_case.test, reference=regression_case.train, checks=["edge_cases"])
    assert healthy.passed, healthy.checks[0].message
    positional = run(_Positional(), regression_case.test[["x1", "x2", "target"]],
                     checks=["edge_cases"])
    assert "wrong_column_order: invalid (reordered columns silently change" in positional.checks[0].message


class _WrongShape:
    """Returns one prediction too many: an invalid output, not an error."""

    classes_ = np.array([0, 1])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(X) + 1, dtype=int)


def test_edge_cases_flag_invalid_outputs(binary_case) -> None:  # type: ignore[no-untyped-def]
    report = run(_WrongShape(), binary_case.test, checks=["edge_cases"])
    assert not report.passed and "invalid (2 predictions for 1 rows)" in report.checks[0].message


class _Flaky:
    """A classifier whose probabilities change from call to call."""

    classes_ = np.array([0, 1])

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.rng.random(len(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)


def test_consistency_fails_a_nondeterministic_model(binary_case) -> None:  # type: ignore[no-untyped-def]
    report = run(_Flaky(), binary_case.test, {"consistency": {"n_rows": 100, "single_rows": 5}},
                 checks=["consistency"])
    assert not report.passed and "max repeat difference" in report.checks[0].message


def test_reproducibility_retrains_and_catches_an_unseeded_model(binary_case) -> None:  # type: ignore[no-untyped-def]
    from sklearn.ensemble import RandomForestClassifier

    from _support.modeltests import pipeline_for as _pipeline

    X, y = binary_case.train.drop(columns=["target"]), binary_case.train["target"]
    seeded = _pipeline(RandomForestClassifier(n_estimators=10, random_state=1)).fit(X, y)
    ok = run(seeded, binary_case.test, reference=binary_case.train, checks=["reproducibility"])
    assert ok.passed, ok.checks[0].message
    unseeded = _pipeline(RandomForestClassifier(n_estimators=10)).fit(X, y)
    bad = run(unseeded, binary_case.test, reference=binary_case.train, checks=["reproducibility"])
    assert not bad.passed and "model__random_state" in bad.checks[0].message
    skipped = run(seeded, binary_case.test, checks=["reproducibility"])
    assert skipped.extras["families"]["reproducibility"] == "skipped"


def test_interpretability_rejects_a_forbidden_top_feature(multiclass_case) -> None:  # type: ignore[no-untyped-def]
    report = run(multiclass_case.model, multiclass_case.test,
                 {"interpretability": {"method": "permutation", "forbidden_top_features": ["x1"],
                                       "top_k": 2}}, checks=["interpretability"])
    assert not report.passed and "forbidden feature(s) ['x1']" in report.checks[0].message


def test_inference_measures_latency_and_throughput(binary_case) -> None:  # type: ignore[no-untyped-def]
    report = run(binary_case.model, binary_case.test, {"inference": FAST["inference"]},
                 checks=["inference"])
    m = report.metrics
    assert 0 < m["latency_p50_ms"] <= m["latency_p95_ms"] <= m["latency_p99_ms"]
    assert m["throughput_rows_per_s"] > 0 and m["model_mb"] > 0
    assert any(f.title == "Single-row latency" for f in report.figures)


def test_interpretability_uses_shap_when_installed(any_case) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("shap")
    report = run(any_case.model, any_case.test, {"interpretability": {"method": "shap", "n_rows": 50}},
                 reference=any_case.train, checks=["interpretability"])
    ranking = report.extras["details"]["interpretability"]["ranking"]
    assert report.extras["details"]["interpretability"]["method"] == "shap"
    assert {r["feature"] for r in ranking} == set(any_case.test.columns) - {"target"}
    assert ranking[0]["feature"] in ("x1", "contract", "tenure_months")  # the strongest signal


def test_config_errors_of_every_family_are_reported_at_once(binary_case) -> None:  # type: ignore[no-untyped-def]
    bad = {"robustness": {"max_dorp": 0.1}, "fairness": {"max_parity_difference": 1.5}}
    with pytest.raises(ConfigError, match=r"\(2 problems\)") as info:
        run(binary_case.model, binary_case.test, bad, checks=["performance"])
    assert "gates -> test -> robustness -> max_dorp: unknown key" in str(info.value)
    assert "gates -> test -> fairness -> max_parity_difference" in str(info.value)
    with pytest.raises(ConfigError, match=r"gates -> test -> checks: unknown model check 'speed'"):
        run(binary_case.model, binary_case.test, {"checks": ["speed"]})
    with pytest.raises(ConfigError, match=r"gates -> test -> fairnes: unknown model check 'fairnes' "
                                          r"\(did you mean 'fairness'\?\)"):
        run(binary_case.model, binary_case.test, {"fairnes": {}})


def _saved_with_record(folder, train: pd.DataFrame, estimator, record: bool = True):  # type: ignore[no-untyped-def]
    """A model fitted, as the train stage fits, on the train table minus a seeded validation split,
    saved as an MLflow folder whose mlgate.json records (or not) the rows it was fitted on."""
    from _support.modeltests import pipeline_for as _pipeline
    from mlgate.data.io import split_frame
    from mlgate.data.table import rows_fingerprint
    from mlgate.models import save_model

    fit, val = split_frame(train, "target", 0.2, 7, classes=True)
    features = [c for c in train.columns if c != "target"]
    model = _pipeline(estimator).fit(fit[features], fit["target"])
    info = {"features": features, "task": "binary", "target": "target", "seed": 7}
    if record:
        info["trained_on"] = {"rows": len(fit), "validation_rows": len(val), "validation_fraction": 0.2,
                              "split_seed": 7, "table_rows": len(train),
                              "fit_fingerprint": rows_fingerprint(fit, [*features, "target"])}
    return save_model(model, folder, info)


def test_reproducibility_of_a_regressor_compares_values_within_the_tolerance(regression_case) -> None:  # type: ignore[no-untyped-def]
    """A random forest on several threads sums its trees in another order each call: values differ by
    about 1e-13, which made a seeded forest "predict differently on 23.64% of 55 rows" on grunfeld."""
    from _support.modeltests import pipeline_for as _pipeline

    X, y = regression_case.train.drop(columns=["target"]), regression_case.train["target"]
    close = run(_pipeline(_jittery_regressor()).fit(X, y), regression_case.test, reference=regression_case.train,
                checks=["reproducibility"])
    assert close.passed, close.checks[0].message
    apart = run(_pipeline(_jittery_regressor(1e-3)).fit(X, y), regression_case.test, reference=regression_case.train,
                checks=["reproducibility"])
    assert not apart.passed and "predicts differently" in apart.checks[0].message


def test_reproducibility_refits_on_the_recorded_rows_however_the_model_is_named(binary_case, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sklearn.ensemble import RandomForestClassifier

    folder = _saved_with_record(tmp_path / "model", binary_case.train,
                                RandomForestClassifier(n_estimators=10, random_state=1))
    by_path = run(str(folder), binary_case.test, reference=binary_case.train, checks=["reproducibility"])
    row = by_path.checks[0]
    assert by_path.passed and row.severity == "error", row.message
    assert by_path.extras["details"]["reproducibility"]["fit_rows"] == "the model's record"
    assert by_path.extras["details"]["reproducibility"]["train_rows"] == round(len(binary_case.train) * 0.8)
    # the record does not fit another table: the check cannot decide, it does not fail
    other = run(str(folder), binary_case.test, reference=binary_case.train.iloc[:-7], checks=["reproducibility"])
    assert other.passed and other.checks[0].severity == "warning", other.checks[0].message
    message = other.checks[0].message
    assert "cannot decide" in message and "not the table the model was trained on" in message


def test_reproducibility_without_a_record_cannot_decide(binary_case, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sklearn.ensemble import RandomForestClassifier

    folder = _saved_with_record(tmp_path / "model", binary_case.train,
                                RandomForestClassifier(n_estimators=10, random_state=1), record=False)
    report = run(str(folder), binary_case.test, reference=binary_case.train, checks=["reproducibility"])
    row = report.checks[0]
    assert report.passed and row.severity == "warning" and "no record of the rows it was fitted on" in row.message


class _Delayed:
    """A constant model whose calls take a delay: spent on the CPU, or waiting (as a starved
    process does). Constant, so that the model's own time does not blur the two."""

    def __init__(self, model, ms: float, *, spin: bool) -> None:  # type: ignore[no-untyped-def]
        self.model, self.seconds, self.spin = model, ms / 1000, spin
        self.classes_ = model.classes_

    def _delay(self) -> None:
        import time

        if not self.spin:
            time.sleep(self.seconds)
            return
        end = time.process_time() + self.seconds
        while time.process_time() < end:
            pass

    def predict(self, X):  # type: ignore[no-untyped-def]
        self._delay()
        return np.full(len(X), self.classes_[0])

    def predict_proba(self, X):  # type: ignore[no-untyped-def]
        self._delay()
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))


@pytest.mark.parametrize("spin", [True, False])
def test_inference_fails_a_slow_model_not_a_busy_machine(binary_case, spin: bool) -> None:  # type: ignore[no-untyped-def]
    """A model that spends 30 ms of CPU per row fails a 10 ms budget; one whose calls wait
    30 ms without using the CPU (what a starved process on a shared runner sees) passes,
    with the wait named."""
    settings = {**FAST["inference"], "single_calls": 20, "warmup": 0, "batches": 1, "batch_size": 10,
                "max_latency_p95_ms": 10, "min_throughput": 0}
    report = run(_Delayed(binary_case.model, 30, spin=spin), binary_case.test, {"inference": settings},
                 checks=["inference"])
    check = report.checks[0]
    assert report.metrics["latency_p95_ms"] > 10
    if spin:
        assert not check.passed and "p95 latency" in check.message
    else:
        assert check.passed and "on a busy machine" in check.message, (check.message, report.metrics)
        assert report.metrics["cpu_p95_ms"] < 10


def _jittery_regressor(jitter: float = 1e-12):  # type: ignore[no-untyped-def]
    """A regressor whose values differ by ``jitter`` (relative) from call to call, as a random
    forest's do when several threads sum its trees (about 1e-13)."""
    from sklearn.base import BaseEstimator, RegressorMixin

    class Jittery(RegressorMixin, BaseEstimator):  # type: ignore[misc]
        def __init__(self, jitter: float = 1e-12) -> None:
            self.jitter = jitter

        def fit(self, X, y):  # type: ignore[no-untyped-def]
            self.mean_ = float(np.mean(y))
            return self

        def predict(self, X):  # type: ignore[no-untyped-def]
            values = self.mean_ + np.arange(len(X), dtype=float)
            return values * (1 + np.random.default_rng().normal(0, self.jitter, len(X)))

    return Jittery(jitter)
