"""The CI train matrix in one process: candidates trained one by one, then pick-best, equal `mlgate run`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from mlgate.ci.matrix import pick_best
from mlgate.config import load_config
from mlgate.context import standalone_context
from mlgate.errors import ConfigError, UsageError
from mlgate.pipeline import Pipeline
from mlgate.reports import write_report
from mlgate.train.standalone import override, run_standalone

MODELS = [{"type": "logistic-regression"}, {"type": "random-forest", "params": {"n_estimators": 15, "max_depth": 4}}]


@pytest.fixture
def project(tmp_path: Path, mlflow_template: Path) -> Path:
    from mlgate.examples.churn import write_example

    root = tmp_path / "project"
    write_example(root, n_rows=800)
    cfg = yaml.safe_load((root / "mlgate.yaml").read_text())
    cfg["models"], cfg["tune"] = MODELS, {"enabled": False}
    (root / "mlgate.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (root / ".mlgate").mkdir()
    shutil.copy(mlflow_template, root / ".mlgate" / "mlflow.db")
    return root


def _copy(project: Path, to: Path) -> Path:
    shutil.copytree(project, to)
    return to


def test_matrix_then_pick_best_equals_the_train_stage(project: Path, tmp_path: Path) -> None:
    whole = _copy(project, tmp_path / "whole")
    record = Pipeline(load_config(whole / "mlgate.yaml")).run(until="train")
    expected = json.loads((Path(record.run_dir) / "train" / "report.json").read_text())

    matrix = _copy(project, tmp_path / "matrix")
    config = load_config(matrix / "mlgate.yaml")
    Pipeline(config).run(until="validate")
    for label in ("logistic-regression", "random-forest"):
        ctx = standalone_context("train", override(config, candidates=[label]),
                                 output=matrix / ".mlgate" / "candidates" / label)
        report, _ = run_standalone(ctx, "train")
        write_report(report, matrix / ".mlgate" / "candidates" / label, html=False)
    picked = pick_best(config, matrix / ".mlgate" / "candidates")
    statuses = {s.name: s.status for s in picked.stages}
    assert statuses == {"validate": "cached", "train": "ran"}
    got = json.loads((Path(picked.run_dir) / "train" / "report.json").read_text())
    assert got["key_figure"] == expected["key_figure"]
    assert got["metrics"] == pytest.approx(expected["metrics"])
    assert [c["message"].split(" in ")[0] for c in got["checks"]] == \
        [c["message"].split(" in ")[0] for c in expected["checks"]]
    assert (Path(picked.run_dir) / "train" / "model" / "MLmodel").exists()
    # the stage key is the one `mlgate run` computes, so the next stage finds train cached
    assert picked.stages[-1].key == record.stages[-1].key


def test_pick_best_errors_name_the_folder(project: Path, tmp_path: Path) -> None:
    config = load_config(project / "mlgate.yaml")
    with pytest.raises(UsageError, match="no such folder"):
        pick_best(config, tmp_path / "nowhere")
    stray = project / ".mlgate" / "candidates" / "svm"
    stray.mkdir(parents=True)
    record = pick_best(config, project / ".mlgate" / "candidates")
    train = record.stages[-1]
    assert (train.name, train.status, record.exit_code) == ("train", "error", 2)
    assert "holds 'svm', which is not a candidate in models: logistic-regression, random-forest" in train.message


def test_unknown_candidate_is_a_config_error(project: Path) -> None:
    expected = "--candidate 'svm' is not a candidate in models; candidates: logistic-regression"
    with pytest.raises(ConfigError, match=expected):
        override(load_config(project / "mlgate.yaml"), candidates=["svm"])
