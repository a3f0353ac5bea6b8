"""The tune stage on real SQLite storages: trials, pruning, resume, parallel workers, train reads it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import optuna
import pytest
import yaml

from mlgate.config import load_config
from mlgate.context import StageContext
from mlgate.errors import ConfigError
from mlgate.train.stage import BEST_PARAMS_FILE, run_train, run_tune

pytestmark = pytest.mark.integration




def _with_store(project: Path, template: Path) -> Path:
    (project / ".mlgate").mkdir(exist_ok=True)
    shutil.copy(template, project / ".mlgate" / "mlflow.db")
    return project


def _configure(project: Path, **tune: object) -> None:
    cfg = yaml.safe_load((project / "mlgate.yaml").read_text())
    cfg["models"] = [{"type": "logistic-regression"}, {"type": "gradient-boosting",
                                                       "params": {"max_iter": 30}}]
    cfg["tune"] = {"enabled": True, "model": "logistic-regression", "n_trials": 4, "cv_folds": 2,
                   **tune}
    (project / "mlgate.yaml").write_text(yaml.safe_dump(cfg))


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> tuple[Path, object]:
    from mlgate.examples.churn import write_example

    project = tmp_path_factory.mktemp("tune") / "project"
    write_example(project, n_rows=1500)
    _with_store(project, mlflow_template)
    _configure(project)
    out = project / "out" / "tune"
    out.mkdir(parents=True)
    report = run_tune(StageContext(config=load_config(project / "mlgate.yaml"), out_dir=out))
    return out, report


def test_tune_writes_best_params_and_a_report(tuned: tuple[Path, object]) -> None:
    out, report = tuned
    assert report.passed
    doc = yaml.safe_load((out / BEST_PARAMS_FILE).read_text())
    assert doc["model_type"] == "logistic-regression" and set(doc["params"]) == {"C"}
    assert doc["metric"] == "roc_auc" and doc["direction"] == "maximize"
    assert 0.6 < doc["best_value"] <= 1.0
    assert report.metrics["trials_this_call"] == 4
    assert len(report.extras["trials"]) == 4
    assert report.figures and report.figures[0].svg.startswith("<svg")


def test_trials_are_nested_mlflow_runs(tuned: tuple[Path, object]) -> None:
    from mlflow.tracking import MlflowClient

    out, report = tuned
    project = out.parent.parent
    client = MlflowClient(f"sqlite:///{project / '.mlgate' / 'mlflow.db'}")
    parent = report.extras["mlflow_parent_run_id"]
    exp = client.get_run(parent).info.experiment_id
    children = client.search_runs([exp], f"tags.mlflow.parentRunId = '{parent}'")
    assert len(children) == 4
    assert all("C" in r.data.params for r in children)
    done = [r for r in children if r.data.tags["optuna.state"] == "COMPLETE"]
    assert done and all("cv_roc_auc" in r.data.metrics for r in done)


def test_resume_adds_trials_and_train_uses_the_best_params(tuned: tuple[Path, object]) -> None:
    out, _ = tuned
    project = out.parent.parent
    config = load_config(project / "mlgate.yaml")
    again = run_tune(StageContext(config=config, out_dir=out))
    assert again.metrics["trials_total"] == 8 and again.metrics["trials_this_call"] == 4
    best = yaml.safe_load((out / BEST_PARAMS_FILE).read_text())
    train_out = project / "out" / "train"
    train_out.mkdir()
    report = run_train(StageContext(config=config, out_dir=train_out, upstream={"tune": out}))
    row = next(r for r in report.extras["candidates"] if r["model_type"] == "logistic-regression")
    assert row["tuned"] and row["params"]["C"] == pytest.approx(best["params"]["C"])
    other = next(r for r in report.extras["candidates"] if r["model_type"] == "gradient-boosting")
    assert not other["tuned"] and other["params"] == {"max_iter": 30}


def test_median_pruning_reports_every_fold(tmp_path: Path, churn_project: Path,
                                           mlflow_template: Path) -> None:
    _with_store(churn_project, mlflow_template)
    _configure(churn_project, n_trials=6, cv_folds=3, model="gradient-boosting",
               search_space={"max_iter": {"type": "int", "low": 5, "high": 60},
                             "learning_rate": {"type": "float", "low": 0.001, "high": 0.5, "log": True}})
    config = load_config(churn_project / "mlgate.yaml")
    run_tune(StageContext(config=config, out_dir=tmp_path))
    study = optuna.load_study(study_name="churn-gradient-boosting",
                              storage=f"sqlite:///{churn_project / '.mlgate' / 'optuna.db'}")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert all(sorted(t.intermediate_values) == [0, 1, 2] for t in complete)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert all(len(t.intermediate_values) < 3 for t in pruned)


def test_unknown_search_space_parameter_fails_before_any_trial(churn_project: Path, tmp_path: Path) -> None:
    _configure(churn_project, search_space={"penalty_strength": {"low": 0.1, "high": 1.0}})
    with pytest.raises(ConfigError, match="'penalty_strength'"):
        run_tune(StageContext(config=load_config(churn_project / "mlgate.yaml"), out_dir=tmp_path))


def test_cli_storage_that_cannot_be_opened_exits_2(churn_project: Path, mlgate_bin: list[str]) -> None:
    url = "sqlite:////nonexistent-dir-xyz/sub/optuna.db"
    done = subprocess.run([*mlgate_bin, "tune", "--n-trials", "1", "--storage", url],
                          cwd=churn_project, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert url in done.stderr and "Traceback" not in done.stderr


def test_unknown_storage_dialect_names_the_url(churn_project: Path, tmp_path: Path) -> None:
    from mlgate.train.standalone import override

    config = override(load_config(churn_project / "mlgate.yaml"), tune={"storage": "nosuchdb://host/x"})
    with pytest.raises(ConfigError, match=r"cannot open Optuna study .* storage nosuchdb://host/x"):
        run_tune(StageContext(config=config, out_dir=tmp_path))


def test_two_processes_share_one_sqlite_storage(churn_project: Path, mlgate_bin: list[str],
                                                tmp_path: Path, mlflow_template: Path) -> None:
    _with_store(churn_project, mlflow_template)
    _configure(churn_project, cv_folds=2)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    cmd = [*mlgate_bin, "tune", "--n-trials", "3", "--study-name", "shared", "--storage", storage,
           "--model-type", "logistic-regression"]
    workers = [subprocess.Popen([*cmd, "--output", str(tmp_path / f"w{i}")], cwd=churn_project,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    study = optuna.load_study(study_name="shared", storage=storage)
    assert len(study.trials) == 6
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    assert all(t.state in finished for t in study.trials)
    # Seeded by trial number: the two workers did not repeat each other's samples.
    assert len({t.params["C"] for t in study.trials}) == 6
    assert all((tmp_path / f"w{i}" / BEST_PARAMS_FILE).exists() for i in range(2))


def test_pipeline_runs_tune_then_train_with_the_tuned_params(churn_project: Path,
                                                             mlflow_template: Path) -> None:
    from mlgate.pipeline import STAGES, Pipeline

    _with_store(churn_project, mlflow_template)
    _configure(churn_project, n_trials=2, cv_folds=2)
    config = load_config(churn_project / "mlgate.yaml")
    stages = tuple(s for s in STAGES if s.name in ("tune", "train"))  # validate is not ours
    record = Pipeline(config, stages=stages).run()
    assert [(s.name, s.status) for s in record.stages] == [("tune", "ran"), ("train", "ran")]
    tune_dir, train_dir = (Path(s.out_dir) for s in record.stages)
    best = yaml.safe_load((tune_dir / BEST_PARAMS_FILE).read_text())
    report = json.loads((train_dir / "report.json").read_text())
    lr = next(r for r in report["candidates"] if r["model_type"] == "logistic-regression")
    assert lr["tuned"] and lr["params"]["C"] == pytest.approx(best["params"]["C"])
    assert report["tuned_from"] == str(tune_dir / BEST_PARAMS_FILE)
    again = Pipeline(config, stages=stages).run()  # unchanged: both cached
    assert [s.status for s in again.stages] == ["cached", "cached"]
