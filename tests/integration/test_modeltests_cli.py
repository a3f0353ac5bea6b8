"""`mlgate test` end to end: the console script, the pytest plugin and the pipeline stage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
import yaml

pytestmark = pytest.mark.integration

MLGATE = str(Path(sys.executable).with_name("mlgate"))
PYTEST = str(Path(sys.executable).with_name("pytest"))
FAST = {
    "performance": {"accuracy": 0.6, "roc_auc": 0.6},
    "consistency": {"n_rows": 200, "single_rows": 5},
    "robustness": {"n_rows": 400},
    "feature_importance": {"n_bootstrap": 3, "n_rows": 300},
    "inference": {"single_calls": 20, "warmup": 2, "batch_size": 200, "batches": 2},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare folder with train.csv, test.csv, a fitted pipeline as model.joblib, and fast.yaml."""
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from mlgate.data.io import split_frame
    from mlgate.examples.churn import generate

    root = tmp_path_factory.mktemp("modeltest")
    train, test = split_frame(generate(1500, seed=5).drop(columns=["customer_id"]), "target", 0.3, 1)
    train.to_csv(root / "train.csv", index=False)
    test.to_csv(root / "test.csv", index=False)
    cats = make_column_selector(dtype_include=[object, "string", bool])
    model = Pipeline([("pre", ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore"), cats)],
                                                remainder="passthrough")),
                      ("m", HistGradientBoostingClassifier(max_iter=30, random_state=0))])
    model.fit(train.drop(columns=["target"]), train["target"])
    joblib.dump(model, root / "model.joblib")
    (root / "broken.joblib").write_bytes(b"not a pickle")
    config = {"data": {"train": "train.csv", "test": "test.csv", "protected": ["gender"]},
              "task": "binary", "gates": {"test": FAST}}
    (root / "fast.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return root


def _mlgate(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MLGATE, "test", *args], cwd=root, capture_output=True, text=True,
                          timeout=180, env=_env())


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}


def test_cli_runs_all_checks_and_writes_the_reports(project: Path) -> None:
    out = project / "out-pass"
    proc = _mlgate(project, "--model", "model.joblib", "--data", "test.csv", "--reference",
                   "train.csv", "--protected", "gender", "--config", "fast.yaml", "--output", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test: PASSED · 10/10 checks passed, roc_auc" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["passed"] and list(report["families"]) == list(FAST_ORDER)
    assert report["key_figure"].startswith("10/10 checks passed")
    html = (out / "report.html").read_text()
    for title in ("Robustness curve", "Permutation importance", "Fairness by gender", "Single-row latency"):
        assert title in html
    assert html.count("<svg") >= 4
    junit = (out / "junit.xml").read_text()
    assert 'name="fairness[gender]"' in junit and 'failures="0"' in junit


FAST_ORDER = ("performance", "consistency", "robustness", "feature_importance", "data_distribution",
              "fairness", "inference", "interpretability", "edge_cases", "reproducibility")


def test_cli_exits_1_when_a_check_fails(project: Path) -> None:
    proc = _mlgate(project, "--model", "model.joblib", "--data", "test.csv", "--checks",
                   "performance,edge_cases", "--output", str(project / "out-fail"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "below the minimum 0.85" in proc.stdout  # the seed's default accuracy threshold
    assert "2 checks, 1 failed" in proc.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "model.joblib", "--data", "test.csv", "--target", "churned"],
     "the test data has no column 'churned'"),
    (["--model", "broken.joblib", "--data", "test.csv"], "broken.joblib was refused"),
    (["--model", "model.joblib", "--data", "test.csv", "--checks", "speed"],
     "gates -> test -> checks: unknown model check 'speed'"),
    (["--data", "test.csv"], "no model: pass --model"),
])
def test_cli_exits_2_on_bad_input(project: Path, args: list[str], message: str,
                                  monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The console script's entry point, in-process (its exit mapping is what is tested)."""
    from mlgate.cli import main

    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "argv", ["mlgate", "test", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert message in " ".join(err.split()) and "Traceback" not in err


def test_pytest_plugin_yields_one_test_per_check(project: Path) -> None:
    proc = subprocess.run(
        [PYTEST, "-v", "-p", "no:cacheprovider", "--mlgate-model", "model.joblib", "--mlgate-data",
         "test.csv", "--mlgate-checks", "performance,edge_cases,fairness", "--mlgate-protected",
         "gender"], cwd=project, capture_output=True, text=True, timeout=180, env=_env())
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "mlgate::edge_cases PASSED" in proc.stdout
    assert "mlgate::fairness PASSED" in proc.stdout
    assert "mlgate::performance FAILED" in proc.stdout
    assert "mlgate performance failed: accuracy" in proc.stdout
    assert "1 failed, 2 passed" in proc.stdout


def test_pytest_plugin_reports_bad_input_without_a_traceback(project: Path) -> None:
    proc = subprocess.run(
        [PYTEST, "-p", "no:cacheprovider", "--mlgate-model", "model.joblib", "--mlgate-data",
         "test.csv", "--mlgate-target", "churned", "--mlgate-checks", "performance,fairness"],
        cwd=project, capture_output=True, text=True, timeout=180, env=_env())
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count("mlgate: the test data has no column 'churned'") >= 2
    assert "Traceback" not in proc.stdout and "2 failed" in proc.stdout


def test_pipeline_stage_tests_the_trained_model(project: Path, tmp_path: Path) -> None:
    """run_test(ctx) loads train's MLflow model folder and reads data and thresholds from config."""
    from mlgate.config import load_config
    from mlgate.context import StageContext
    from mlgate.models import save_model
    from mlgate.modeltests.stage import run_test

    model = joblib.load(project / "model.joblib")
    features = [str(c) for c in model.feature_names_in_]
    save_model(model, tmp_path / "train" / "model",
               {"features": features, "task": "binary", "target": "target", "seed": 0,
                "classes": [0, 1], "params": {}})
    notes: list[str] = []
    ctx = StageContext(config=load_config(project / "fast.yaml"), out_dir=tmp_path / "test",
                       upstream={"train": tmp_path / "train"},
                       progress=lambda note, fraction: notes.append(note))
    report = run_test(ctx)
    assert report.passed, [c.message for c in report.failures]
    assert report.key_figure.startswith("10/10 checks passed, roc_auc 0.")
    assert [c.column for c in report.checks if c.name == "fairness"] == ["gender"]
    assert report.extras["model"]["reference_rows"] == 1050
    assert any(n.startswith("reproducibility (10/10)") for n in notes)
    assert report.extras["details"]["reproducibility"]["train_rows"] == 1050
