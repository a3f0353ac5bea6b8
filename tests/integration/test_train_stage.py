"""The train stage on a real SQLite MLflow store: matrix, best pick, model contract, CLI errors."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlgate.config import load_config
from mlgate.context import StageContext
from mlgate.train.stage import BEST_MODEL_FILE, run_train

pytestmark = pytest.mark.integration

CONTRACT_KEYS = {"name", "model_type", "params", "seed", "task", "target", "features", "dtypes",
                 "classes", "metrics", "mlflow_run_id", "model_uri", "data_fingerprint",
                 "trained_at", "git_commit"}




def _with_store(project: Path, template: Path) -> Path:
    (project / ".mlgate").mkdir(exist_ok=True)
    shutil.copy(template, project / ".mlgate" / "mlflow.db")
    return project


def _small_models(project: Path) -> None:
    """Keep the candidates quick: the example's matrix with fewer trees."""
    cfg = yaml.safe_load((project / "mlgate.yaml").read_text())
    cfg["models"] = [{"type": "logistic-regression"},
                     {"type": "random-forest", "params": {"n_estimators": 30, "max_depth": 6}},
                     {"type": "gradient-boosting", "params": {"max_iter": 40}}]
    (project / "mlgate.yaml").write_text(yaml.safe_dump(cfg))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> tuple[Path, object]:
    from mlgate.examples.churn import write_example

    project = tmp_path_factory.mktemp("train") / "project"
    write_example(project, n_rows=1500)
    _with_store(project, mlflow_template)
    _small_models(project)
    out = project / "out" / "train"
    out.mkdir(parents=True)
    notes: list[tuple[str, float | None]] = []
    ctx = StageContext(config=load_config(project / "mlgate.yaml"), out_dir=out,
                       progress=lambda n, f: notes.append((n, f)))
    report = run_train(ctx)
    assert any("random-forest" in n for n, _ in notes)
    return out, report


def test_matrix_trains_every_candidate_and_picks_the_best(trained: tuple[Path, object]) -> None:
    out, report = trained
    assert report.passed
    rows = report.extras["candidates"]
    assert [r["label"] for r in rows] == ["logistic-regression", "random-forest", "gradient-boosting"]
    best = max(rows, key=lambda r: r["metrics"]["roc_auc"])
    assert [r["chosen"] for r in rows] == [r is best for r in rows]
    doc = json.loads((out / BEST_MODEL_FILE).read_text())
    assert doc["model_type"] == best["model_type"]
    assert doc["metrics"]["roc_auc"] == pytest.approx(best["metrics"]["roc_auc"], abs=1e-6)
    assert doc["mlflow_run_id"] == best["mlflow_run_id"]
    assert 0.7 < doc["metrics"]["roc_auc"] < 1.0


def test_model_folder_follows_the_contract(trained: tuple[Path, object]) -> None:
    out, _ = trained
    info = json.loads((out / "model" / "mlgate.json").read_text())
    assert set(info) >= CONTRACT_KEYS
    assert info["task"] == "binary" and info["classes"] == [0, 1]
    assert "customer_id" not in info["features"] and "target" not in info["features"]
    assert set(info["dtypes"]) == set(info["features"])
    assert info["model_uri"] == f"runs:/{info['mlflow_run_id']}/model"
    assert len(info["data_fingerprint"]) == 64
    assert (out / "model" / "MLmodel").exists()


def test_saved_model_predicts_raw_rows_from_the_folder_and_from_mlflow(trained: tuple[Path, object]) -> None:
    import mlflow

    from mlgate.models import load_model

    out, _ = trained
    info = json.loads((out / "model" / "mlgate.json").read_text())
    project = out.parent.parent
    raw = pd.read_csv(project / "data" / "test.csv").drop(columns=["target"]).head(20)
    local = load_model(out / "model")
    proba = local.estimator.predict_proba(raw[info["features"]])
    assert proba.shape == (20, 2)
    mlflow.set_tracking_uri(f"sqlite:///{project / '.mlgate' / 'mlflow.db'}")
    remote = mlflow.pyfunc.load_model(info["model_uri"])
    assert list(remote.predict(raw[info["features"]])) == list(local.estimator.predict(raw[info["features"]]))


def test_each_candidate_is_an_mlflow_run_with_params_metrics_and_tags(trained: tuple[Path, object]) -> None:
    from mlflow.tracking import MlflowClient

    out, report = trained
    project = out.parent.parent
    client = MlflowClient(f"sqlite:///{project / '.mlgate' / 'mlflow.db'}")
    for row in report.extras["candidates"]:
        run = client.get_run(row["mlflow_run_id"])
        assert run.info.status == "FINISHED"
        assert run.data.params["model_type"] == row["model_type"]
        assert run.data.metrics["val_roc_auc"] == pytest.approx(row["metrics"]["roc_auc"], abs=1e-6)
        assert run.data.tags["mlgate.stage"] == "train"
        assert run.data.tags["mlflow.runName"] == row["label"]
    chosen = next(r for r in report.extras["candidates"] if r["chosen"])
    names = {a.path for a in client.list_artifacts(chosen["mlflow_run_id"], "model")}
    assert {"model/MLmodel", "model/mlgate.json"} <= names


def test_cli_bad_type_and_bad_param_exit_2(churn_project: Path, mlgate_bin: list[str], tmp_path: Path) -> None:
    bad = subprocess.run([*mlgate_bin, "train", "-t", "random-fores"], cwd=churn_project,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2, bad.stderr
    assert "unknown model type 'random-fores'" in bad.stderr and "random-forest" in bad.stderr
    params = tmp_path / "p.yaml"
    params.write_text("random-forest: {n_trees: 5}\n")
    bad = subprocess.run([*mlgate_bin, "train", "-t", "random-forest", "--params", str(params)],
                         cwd=churn_project, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2, bad.stderr
    assert "'n_trees'" in bad.stderr and "n_estimators" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_cli_trains_one_type_with_params(churn_project: Path, mlgate_bin: list[str], tmp_path: Path,
                                         mlflow_template: Path) -> None:
    _with_store(churn_project, mlflow_template)
    params = tmp_path / "p.yaml"
    params.write_text("max_iter: 30\n")
    out = tmp_path / "out"
    done = subprocess.run([*mlgate_bin, "train", "-t", "gradient-boosting", "--params", str(params),
                           "--output", str(out)], cwd=churn_project, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    info = json.loads((out / "model" / "mlgate.json").read_text())
    assert info["model_type"] == "gradient-boosting" and info["params"] == {"max_iter": 30, "learning_rate": 0.08}
    assert (out / "report.json").exists() and "PASSED" in done.stdout


def _synthetic_project(root: Path, template: Path, task: str) -> Path:
    import numpy as np

    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame({"row_id": range(n), "x1": rng.normal(size=n), "x2": rng.normal(size=n),
                          "colour": rng.choice(["red", "green", "blue"], n)})
    signal = frame["x1"] + (frame["colour"] == "red") * 1.5
    if task == "multiclass":
        frame["label"] = np.where(signal < -0.5, "low", np.where(signal < 0.8, "mid", "high"))
        models = [{"type": "logistic-regression"}, {"type": "random-forest", "params": {"n_estimators": 20}}]
    else:
        frame["label"] = signal * 3 + rng.normal(scale=0.5, size=n)
        models = [{"type": "linear-regression"}, {"type": "gradient-boosting", "params": {"max_iter": 30}},
                  {"type": "custom", "name": "tree", "params": {"factory": "my_models:tree", "max_depth": 3}}]
        root.mkdir()
        # A custom factory in the project folder, imported by "module:function".
        (root / "my_models.py").write_text(
            "from sklearn.tree import DecisionTreeRegressor\n\n"
            "def tree():\n    return DecisionTreeRegressor()\n")
    root.mkdir(exist_ok=True)
    frame.to_csv(root / "data.csv", index=False)
    (root / "mlgate.yaml").write_text(yaml.safe_dump({
        "project": f"syn-{task}", "data": {"path": "data.csv", "target": "label", "id_columns": ["row_id"]},
        "models": models}))
    return _with_store(root, template)


@pytest.mark.parametrize(("task", "metric"), [("multiclass", "f1_macro"), ("regression", "rmse")])
def test_task_is_inferred_and_drives_model_and_metric(tmp_path: Path, mlflow_template: Path,
                                                      task: str, metric: str) -> None:
    project = _synthetic_project(tmp_path / "p", mlflow_template, task)
    out = tmp_path / "out"
    out.mkdir()
    report = run_train(StageContext(config=load_config(project / "mlgate.yaml"), out_dir=out))
    info = json.loads((out / "model" / "mlgate.json").read_text())
    assert info["task"] == task and report.extras["selection_metric"] == metric
    assert "row_id" not in info["features"]
    rows = report.extras["candidates"]
    values = [r["metrics"][metric] for r in rows]
    best = (min if metric == "rmse" else max)(values)
    assert [r["chosen"] for r in rows] == [v == best for v in values]
    if task == "multiclass":
        assert info["classes"] == ["high", "low", "mid"]
    else:
        assert "classes" not in info
        tree = next(r for r in rows if r["label"] == "tree")
        assert tree["error"] is None and tree["model_type"] == "custom"


def test_tuned_params_for_a_type_not_trained_is_a_warning(tmp_path: Path, mlflow_template: Path) -> None:
    project = _synthetic_project(tmp_path / "p", mlflow_template, "regression")
    tune_dir = tmp_path / "tune"
    tune_dir.mkdir()
    (tune_dir / "best_params.yaml").write_text(yaml.safe_dump(
        {"model_type": "random-forest", "params": {"n_estimators": 10}}))
    out = tmp_path / "out"
    out.mkdir()
    report = run_train(StageContext(config=load_config(project / "mlgate.yaml"), out_dir=out,
                                    upstream={"tune": tune_dir}))
    assert report.passed
    assert [c.name for c in report.warnings] == ["tuned_params_unused"]
    assert not any(r["tuned"] for r in report.extras["candidates"])


def test_same_seed_same_model(trained: tuple[Path, object]) -> None:
    from mlgate.train.preprocess import feature_set
    from mlgate.train.training import fit_candidate, make_candidates, validation_split

    out, report = trained
    project = out.parent.parent
    config = load_config(project / "mlgate.yaml")
    frame = pd.read_csv(project / "data" / "train.csv").drop(columns=["customer_id"])
    features = feature_set(frame, "target")
    fit, val = validation_split(frame, "target", "binary", config.seed)
    (cand,) = make_candidates(config.models[1:2], "binary", config.seed)
    first, second = (fit_candidate(cand, features, "binary", fit, val, "target") for _ in range(2))
    # Forest threads sum in any order: equal up to float rounding.
    assert first.metrics == pytest.approx(second.metrics, rel=1e-9)


def test_mlgate_json_lists_the_columns_trained_with_missing_values(tmp_path: Path) -> None:
    from mlgate.examples.churn import write_example
    from mlgate.pipeline import Pipeline

    write_example(tmp_path, n_rows=1500)
    config = load_config(tmp_path / "mlgate.yaml")
    config.tune.enabled = False
    config.models = config.models[:1]
    record = Pipeline(config).run(until="train")
    train_dir = Path(record.stages[-1].out_dir)
    info = json.loads((train_dir / "model" / "mlgate.json").read_text())
    assert set(info["nullable"]) == {"total_charges", "last_login_days", "satisfaction_score"}


def test_a_train_where_every_candidate_fails_writes_its_report_like_any_gate(tmp_path: Path,
                                                                              mlflow_template: Path) -> None:
    from mlgate.pipeline import STAGES, Pipeline

    project = _synthetic_project(tmp_path / "p", mlflow_template, "multiclass")
    cfg = yaml.safe_load((project / "mlgate.yaml").read_text())
    cfg["models"] = [{"type": "custom", "name": "broken", "params": {"factory": "broken:model"}}]
    (project / "mlgate.yaml").write_text(yaml.safe_dump(cfg))
    (project / "broken.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n\n"
        "class Broken(LogisticRegression):\n    def fit(self, X, y):\n        raise ValueError('cannot fit')\n\n"
        "def model():\n    return Broken()\n")
    train = tuple(s for s in STAGES if s.name == "train")
    record = Pipeline(load_config(project / "mlgate.yaml"), stages=train).run()
    assert [s.status for s in record.stages] == ["failed"] and record.exit_code == 1
    report = json.loads((Path(record.stages[0].out_dir) / "report.json").read_text())
    failed = [c for c in report["checks"] if not c["passed"] and c["severity"] == "error"]
    assert report["passed"] is False and [c["name"] for c in failed] == ["candidates_trained"]
    assert "every candidate failed to train: broken: ValueError: cannot fit" in failed[0]["message"]
