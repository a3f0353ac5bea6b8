"""Evaluate: metrics equal scikit-learn's, bootstrap intervals, thresholds, slices, plots."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from _support.lifecycle import churn, fit, project, save
from mlgate.config import EvaluateGate
from mlgate.context import StageContext
from mlgate.errors import ConfigError, DataError
from mlgate.evaluation import evaluate_model
from mlgate.evaluation.stage import run_evaluate
from mlgate.metrics import METRICS, Predictions, bootstrap, compute, interval, metric_names
from mlgate.models import LoadedModel
from mlgate.thresholds import BOUNDS, Bound, MaxBound, MinBound, parse_thresholds


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return churn(2000)


@pytest.fixture(scope="module")
def model(frame: pd.DataFrame) -> LoadedModel:
    est = fit(frame, rows=slice(0, 1000))
    return LoadedModel(est, "memory", info={"features": list(est.feature_names_in_), "task": "binary"})


def _preds(task: str, n: int = 600, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    if task == "regression":
        y = rng.normal(size=n)
        return Predictions("regression", y, y + rng.normal(scale=0.5, size=n))
    k = 2 if task == "binary" else 4
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    logits[:5] = 0.0  # ties in the scores
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return Predictions(task, y, proba.argmax(axis=1), proba, list(range(k)))


def _sklearn(name: str, p: Predictions) -> float:
    y, pred, proba = p.y, p.pred, p.proba
    binary = p.task == "binary"
    table = {
        "accuracy": lambda: skm.accuracy_score(y, pred),
        "precision": lambda: skm.precision_score(y, pred),
        "recall": lambda: skm.recall_score(y, pred),
        "f1": lambda: skm.f1_score(y, pred),
        "roc_auc": lambda: skm.roc_auc_score(y, proba[:, 1] if binary else proba, multi_class="ovr"),
        "pr_auc": lambda: skm.average_precision_score(y, proba[:, 1] if binary else proba),
        "log_loss": lambda: skm.log_loss(y, proba),
        "brier": lambda: skm.brier_score_loss(y, proba[:, 1]),
        "rmse": lambda: skm.root_mean_squared_error(y, pred),
        "mae": lambda: skm.mean_absolute_error(y, pred),
        "r2": lambda: skm.r2_score(y, pred),
    }
    for kind in ("precision", "recall", "f1"):
        for avg in ("weighted", "macro"):
            fn = getattr(skm, f"{kind}_score")
            table[f"{kind}_{avg}"] = lambda fn=fn, avg=avg: fn(y, pred, average=avg, zero_division=0)
    return float(table[name]())


CASES = [(task, name) for task in ("binary", "multiclass", "regression") for name in metric_names(task)]


@pytest.mark.parametrize(("task", "name"), CASES, ids=[f"{t}-{n}" for t, n in CASES])
def test_every_metric_equals_scikit_learn(task: str, name: str) -> None:
    p = _preds(task)
    assert compute(p, [name])[name] == pytest.approx(_sklearn(name, p), abs=1e-9)


def test_every_metric_is_listed_for_some_task() -> None:
    listed = {n for task in ("binary", "multiclass", "regression") for n in metric_names(task, has_costs=True)}
    assert listed == set(METRICS)


def test_bootstrap_is_seeded_resampling_around_the_estimate() -> None:
    p = _preds("binary", n=2000)
    a = bootstrap([p], ["roc_auc", "accuracy"], 400, seed=1)[0]
    b = bootstrap([p], ["roc_auc", "accuracy"], 400, seed=1)[0]
    c = bootstrap([p], ["roc_auc", "accuracy"], 400, seed=2)[0]
    np.testing.assert_array_equal(a["roc_auc"], b["roc_auc"])
    assert not np.array_equal(a["roc_auc"], c["roc_auc"])
    low, high = interval(a["roc_auc"])
    point = compute(p, ["roc_auc"])["roc_auc"]
    assert low < point < high
    # the spread of resampled accuracy follows the binomial standard error
    acc = compute(p, ["accuracy"])["accuracy"]
    assert a["accuracy"].std() == pytest.approx(np.sqrt(acc * (1 - acc) / 2000), rel=0.2)


def test_interval_narrows_with_more_rows() -> None:
    small = interval(bootstrap([_preds("binary", n=300)], ["roc_auc"], 300, seed=0)[0]["roc_auc"])
    large = interval(bootstrap([_preds("binary", n=3000)], ["roc_auc"], 300, seed=0)[0]["roc_auc"])
    assert (large[1] - large[0]) < 0.6 * (small[1] - small[0])


def test_every_bound_is_in_the_table() -> None:
    assert set(Bound.__subclasses__()) == set(BOUNDS.values())


@pytest.mark.parametrize("bound", list(BOUNDS.values()), ids=list(BOUNDS))
def test_bound_conformance(bound: type[Bound]) -> None:
    assert bound.name and bound.__doc__
    passing, failing = (0.9, 0.5) if bound is MinBound else (0.5, 0.9)
    ok = bound("roc_auc", 0.7).check(passing, (passing - 0.01, passing + 0.01))
    bad = bound("roc_auc", 0.7).check(failing, (failing - 0.01, failing + 0.01))
    assert ok.passed and not bad.passed
    assert ok.name == f"roc_auc_{bound.name}" and "0.7" in bad.message


def test_thresholds_parse_and_errors() -> None:
    bounds = parse_thresholds({"roc_auc": 0.8, "log_loss": {"max": 0.5, "min": 0.1}}, ["roc_auc", "log_loss"])
    assert [(type(b), b.metric, b.limit) for b in bounds] == [
        (MinBound, "roc_auc", 0.8), (MaxBound, "log_loss", 0.5), (MinBound, "log_loss", 0.1)]
    with pytest.raises(ConfigError, match="thresholds -> rocauc: unknown metric"):
        parse_thresholds({"rocauc": 0.8}, ["roc_auc"])
    with pytest.raises(ConfigError, match="'min' and/or 'max'"):
        parse_thresholds({"roc_auc": {"atleast": 0.8}}, ["roc_auc"])


def test_threshold_on_interval_is_stricter() -> None:
    bound = MinBound("roc_auc", 0.80)
    assert bound.check(0.81, (0.79, 0.83), "estimate").passed
    assert not bound.check(0.81, (0.79, 0.83), "interval").passed


def test_evaluate_model_report(frame: pd.DataFrame, model: LoadedModel) -> None:
    gate = EvaluateGate(thresholds={"roc_auc": 0.7, "accuracy": 0.99}, bootstrap=200, slices=["contract", "age"])
    report, result = evaluate_model(model, frame.iloc[1000:], "target", gate, seed=3, id_columns=["customer_id"])
    assert re.fullmatch(r"roc_auc 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\]", report.key_figure)
    verdicts = {c.name: c.passed for c in report.checks if c.severity == "error"}
    assert verdicts == {"roc_auc_min": True, "accuracy_min": False}
    assert not report.passed
    titles = ["ROC curve", "Precision-recall curve", "Confusion matrix", "Calibration"]
    assert [f.title for f in report.figures] == titles
    assert all(f.svg.startswith("<svg") for f in report.figures)
    contract = {row["value"]: row for row in result.slices["contract"]}
    assert set(contract) == {"month-to-month", "one-year", "two-year"}
    assert sum(r["n"] for r in contract.values()) == 1000
    assert len(result.slices["age"]) == 4  # a many-valued number is cut into quartiles
    low, high = result.intervals["roc_auc"]
    assert low < result.metrics["roc_auc"] < high


def test_evaluate_stage_writes_metrics_json(tmp_path: Path, frame: pd.DataFrame) -> None:
    cfg = project(tmp_path, frame, gates={"evaluate": {"thresholds": {"roc_auc": 0.75}, "bootstrap": 300}})
    save(fit(frame, rows=slice(0, 1000)), tmp_path / "train" / "model", frame)
    ctx = StageContext(cfg, tmp_path / "out", upstream={"train": tmp_path / "train"})
    report = run_evaluate(ctx)
    body = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert report.passed and body["task"] == "binary" and body["n_rows"] == 1000
    auc = body["metrics"]["roc_auc"]
    assert auc["ci_low"] < auc["value"] < auc["ci_high"] and auc["greater_is_better"]
    assert body["metrics"]["log_loss"]["greater_is_better"] is False
    assert report.to_dict()["intervals"]["roc_auc"] == [auc["ci_low"], auc["ci_high"]]


def test_regression_gets_residual_plots(frame: pd.DataFrame) -> None:
    est = fit(frame, rows=slice(0, 1000), regression_target="monthly_charges")
    loaded = LoadedModel(est, "memory", info={"features": list(est.feature_names_in_), "task": "regression"})
    gate = EvaluateGate(thresholds={"rmse": {"max": 100.0}, "r2": 0.2}, bootstrap=200)
    report, result = evaluate_model(loaded, frame.iloc[1000:].drop(columns=["target"]), "monthly_charges", gate,
                                    id_columns=["customer_id"])
    assert report.key_figure.startswith("rmse ")
    assert [f.title for f in report.figures] == ["Residuals", "Predicted versus actual"]
    assert set(result.metrics) == {"rmse", "mae", "r2"} and report.passed


def test_bad_inputs_name_the_column(frame: pd.DataFrame, model: LoadedModel) -> None:
    gate = EvaluateGate(bootstrap=0)
    with pytest.raises(DataError, match="'tenure_months'"):
        evaluate_model(model, frame.drop(columns=["tenure_months"]), "target", gate)
    with pytest.raises(ConfigError, match="slices: the test data has no column 'nope'"):
        evaluate_model(model, frame, "target", EvaluateGate(bootstrap=0, slices=["nope"]))
    with pytest.raises(DataError, match="no target column 'churned'"):
        evaluate_model(model, frame, "churned", gate)


def test_docs_example_runs() -> None:
    from _support.docs import python_blocks

    blocks = python_blocks("evaluate.md")
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/evaluate.md", "exec"), {})


def test_multiclass_model_end_to_end() -> None:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    x, y = make_classification(900, 6, n_informative=4, n_classes=3, random_state=0)
    data = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)]).assign(label=np.array(["a", "b", "c"])[y])
    est = RandomForestClassifier(n_estimators=30, random_state=0).fit(data.iloc[:600, :6], data["label"][:600])
    gate = EvaluateGate(thresholds={"f1_macro": 0.5, "log_loss": {"max": 2.0}}, bootstrap=200)
    report, result = evaluate_model(LoadedModel(est, "memory"), data.iloc[600:], "label", gate)
    assert result.task == "multiclass" and report.key_figure.startswith("f1_macro ")
    assert report.passed and "brier" not in result.metrics and "f1" not in result.metrics
    assert [f.title for f in report.figures] == ["ROC curve", "Precision-recall curve", "Confusion matrix"]
    assert result.metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(data["label"][600:], est.predict_proba(data.iloc[600:, :6]), multi_class="ovr"))


def test_slices_default_to_the_protected_attributes(tmp_path: Path) -> None:
    from mlgate.config import config_from_dict
    from mlgate.evaluation.stage import gate_with_slices

    base = {"data": {"train": "t.csv", "protected": ["gender"]}}
    assert gate_with_slices(config_from_dict(base, tmp_path)).slices == ["gender"]
    chosen = {**base, "gates": {"evaluate": {"slices": ["contract"]}}}
    assert gate_with_slices(config_from_dict(chosen, tmp_path)).slices == ["contract"]


def test_a_newer_model_from_mlgate_train_alone_is_pointed_out(tmp_path: Path, frame: pd.DataFrame) -> None:
    """`mlgate train` alone writes mlgate-reports/train/model and is no pipeline stage: evaluate,
    compare, test and register then judge the last `mlgate run`'s model, and say so."""
    import os

    from mlgate._paths import report_dir

    cfg = project(tmp_path, frame)
    judged = save(fit(frame, rows=slice(0, 500)), tmp_path / "run" / "train" / "model", frame)
    ctx = StageContext(cfg, tmp_path / "out", upstream={"train": tmp_path / "run" / "train"})
    assert ctx.newer_trained_model() is None  # nothing trained alone
    alone = save(fit(frame, rows=slice(0, 400)), report_dir(tmp_path, "train") / "model", frame)
    os.utime(judged, (1_000_000, 1_000_000))
    assert ctx.newer_trained_model() == alone
    os.utime(alone, (999_000, 999_000))  # older than the pipeline's: nothing to say
    assert ctx.newer_trained_model() is None
    given = StageContext(cfg, tmp_path / "out", upstream={"train": tmp_path / "run" / "train"}, model=str(judged))
    assert given.newer_trained_model() is None  # --model given: it is what the user chose
