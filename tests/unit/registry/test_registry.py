"""Register: versions with lineage tags and an alias on a real SQLite MLflow store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import joblib
import pandas as pd
import pytest

from _support.lifecycle import churn, fit, project, save
from mlgate.context import StageContext, standalone_context
from mlgate.errors import ModelLoadError, RegistryError, UsageError
from mlgate.locations.refs import file_sha256
from mlgate.registration import run_register, upstream_gates
from mlgate.registry import model_sha256, retry
from mlgate.security.allowlist import policy_from
from mlgate.security.loader import load_file


@pytest.fixture(autouse=True)
def _own_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI, which would point later tests at an old store."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return churn(1200)


@pytest.fixture(scope="module")
def estimator(frame: pd.DataFrame) -> object:
    return fit(frame, rows=slice(0, 600))


class _Evil:
    def __reduce__(self):  # unpickling this would run a shell command
        return (os.system, ("echo pwned",))


def test_model_sha256_is_the_serialized_file(tmp_path: Path, frame: pd.DataFrame, estimator: object) -> None:
    folder = save(estimator, tmp_path / "model", frame)
    assert model_sha256(folder) == file_sha256(folder / "model.skops")
    with pytest.raises(ModelLoadError, match="MLmodel"):
        model_sha256(tmp_path)


def test_upstream_gates_read_report_json(tmp_path: Path) -> None:
    for stage, passed in (("train", True), ("test", False)):
        (tmp_path / stage).mkdir()
        (tmp_path / stage / "report.json").write_text(json.dumps({"passed": passed, "key_figure": stage}))
    gates = upstream_gates({"train": tmp_path / "train", "test": tmp_path / "test", "x": tmp_path / "none"})
    assert gates == {"test": {"passed": False, "key_figure": "test"}, "train": {"passed": True, "key_figure": "train"}}


def test_retry_backs_off_on_locks_only() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("(sqlite3.OperationalError) database is locked")
        return "ok"

    assert retry(flaky, "write") == "ok" and len(calls) == 3
    with pytest.raises(RegistryError, match="cannot write: boom"):
        retry(lambda: (_ for _ in ()).throw(ValueError("boom")), "write")


def test_pickle_check_refuses_system_calls(tmp_path: Path, estimator: object) -> None:
    joblib.dump(_Evil(), tmp_path / "evil.joblib")
    with pytest.raises(ModelLoadError, match=r"refused: it imports (posix|os)\.system.*--trust"):
        load_file(tmp_path / "evil.joblib", policy_from())
    joblib.dump(estimator, tmp_path / "good.joblib", compress=3)
    assert type(load_file(tmp_path / "good.joblib", policy_from())).__name__ == "Pipeline"
    policy = policy_from()
    assert not policy.allows("builtins", "eval") and not policy.allows("subprocess", "Popen")
    assert policy.allows("sklearn.pipeline", "Pipeline")


def test_register_stage_tags_metrics_alias(tmp_path: Path, frame: pd.DataFrame, estimator: object,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    from _support.docs import python_blocks
    from mlgate.registry import open_store
    from mlgate.tracking import experiment_id, tracking_uri

    cfg = project(tmp_path, frame, registry={"model_name": "churn", "alias": "candidate"})
    # the train stage's run: the model folder logged as its artifacts, its URI in mlgate.json
    client = open_store(cfg)
    train_run = client.create_run(experiment_id(cfg, client)).info.run_id
    folder = save(estimator, tmp_path / "train" / "model", frame, data_fingerprint="f" * 64,
                  git_commit="abc123", model_uri=f"runs:/{train_run}/model")
    client.log_artifacts(train_run, str(folder), "model")
    (tmp_path / "evaluate").mkdir()
    (tmp_path / "evaluate" / "report.json").write_text(json.dumps({"passed": True, "key_figure": "roc_auc 0.8"}))
    (tmp_path / "evaluate" / "metrics.json").write_text(json.dumps({"metrics": {"roc_auc": {"value": 0.81}}}))
    ctx = StageContext(cfg, tmp_path / "out", upstream={"train": tmp_path / "train", "evaluate": tmp_path / "evaluate"})
    report = run_register(ctx)
    registered = json.loads((tmp_path / "out" / "registered.json").read_text())
    assert report.passed and report.key_figure == "churn v1 @candidate"
    assert registered["version"] == "1" and registered["model_uri"] == "models:/churn/1"
    assert registered["run_id"] == train_run and registered["source"].endswith(f"{train_run}/artifacts/model")
    client = MlflowClient(tracking_uri(cfg), registry_uri=tracking_uri(cfg))
    version = client.get_model_version_by_alias("churn", "candidate")
    assert str(version.version) == "1"  # the SQL store answers an int here, the REST client a str
    assert version.tags["mlgate.data_fingerprint"] == "f" * 64
    assert version.tags["mlgate.model_sha256"] == file_sha256(tmp_path / "train" / "model" / "model.skops")
    assert json.loads(version.tags["mlgate.gates"]) == {"evaluate": True}
    assert {"mlgate.git_commit", "mlgate.ci_job_id"} <= set(version.tags)
    assert client.get_run(version.run_id).data.metrics == {"test_roc_auc": 0.81}

    # a joblib file from elsewhere becomes version 2, scanned and wrapped
    joblib.dump(estimator, tmp_path / "outside.joblib")
    outside = standalone_context("register", cfg, model=str(tmp_path / "outside.joblib"),
                                 settings={"registry.alias": "staging"})
    report = run_register(outside)
    assert report.key_figure == "churn v2 @staging"
    assert client.get_model_version("churn", "2").tags["mlgate.data_fingerprint"] == "unknown"
    with pytest.raises(UsageError, match="--model nope"):
        run_register(standalone_context("register", cfg, model="nope"))

    # the "Reading it back" example of docs/register.md runs against this store
    monkeypatch.chdir(tmp_path)
    for block in python_blocks("register.md"):
        exec(compile(block, "docs/register.md", "exec"), {})


def test_failed_upstream_gate_is_not_registered(tmp_path: Path, frame: pd.DataFrame, estimator: object) -> None:
    cfg = project(tmp_path, frame)
    save(estimator, tmp_path / "train" / "model", frame)
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "report.json").write_text(json.dumps({"passed": False}))
    report = run_register(StageContext(cfg, tmp_path / "out",
                                             upstream={"train": tmp_path / "train", "test": tmp_path / "test"}))
    assert not report.passed and report.key_figure == "not registered: test failed"
    assert not (tmp_path / "out" / "registered.json").exists()
    assert not (tmp_path / ".mlgate" / "mlflow.db").exists()

