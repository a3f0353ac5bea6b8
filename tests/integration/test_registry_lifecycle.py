"""Register then compare against production on a real SQLite store; a stock MLflow client reads it all."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import joblib
import pandas as pd
import pytest

from _support.lifecycle import WEAK, churn, fit, project, save
from mlgate.context import StageContext, standalone_context
from mlgate.evaluation.stage import run_compare
from mlgate.registration import run_register

pytestmark = pytest.mark.integration



def test_register_then_compare_with_production(tmp_path: Path, mlgate_bin: list[str]) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    from mlgate.tracking import tracking_uri

    frame = churn(2400)
    cfg = project(tmp_path, frame, gates={"compare": {"bootstrap": 300}})
    test_rows = pd.read_csv(tmp_path / "data" / "test.csv")

    # production today: a weak model, registered from a joblib file and promoted by hand
    joblib.dump(fit(frame, WEAK, rows=slice(0, 1200)), tmp_path / "weak.joblib")
    run_register(standalone_context("register", cfg, model=str(tmp_path / "weak.joblib"),
                                    settings={"registry.alias": "production"}))

    # the pipeline's candidate: better, so compare passes against production v1
    save(fit(frame, rows=slice(0, 1200)), tmp_path / "train" / "model", frame, data_fingerprint="d" * 64)
    compare_dir = tmp_path / "compare"
    report = run_compare(StageContext(cfg, compare_dir, upstream={"train": tmp_path / "train"}))
    decision = json.loads((compare_dir / "decision.json").read_text())
    assert report.passed and decision["decision"] == "pass"
    assert decision["baseline"]["version"] == "1" and decision["significance"] == "significantly better"
    assert decision["mcnemar"]["p_value"] < 0.05
    (compare_dir / "report.json").write_text(json.dumps({"passed": report.passed, "key_figure": report.key_figure}))

    # register the candidate: version 2 @staging with the compare verdict among its gates
    reg = run_register(StageContext(cfg, tmp_path / "register",
                                          upstream={"train": tmp_path / "train", "compare": compare_dir}))
    assert reg.key_figure == "churn v2 @staging"
    mlflow.set_tracking_uri(tracking_uri(cfg))
    client = MlflowClient()
    staged = client.get_model_version_by_alias("churn", "staging")
    assert str(staged.version) == "2" and json.loads(staged.tags["mlgate.gates"]) == {"compare": True}
    assert set(client.get_registered_model("churn").aliases) == {"production", "staging"}
    served = mlflow.pyfunc.load_model("models:/churn@staging")
    raw = test_rows.drop(columns=["target", "customer_id"]).head(20)
    assert set(served.predict(raw)) <= {0, 1}

    # the other way round: the weak model as candidate fails against a better production
    client.set_registered_model_alias("churn", "production", "2")
    save(fit(frame, WEAK, rows=slice(0, 1200)), tmp_path / "train2" / "model", frame)
    worse = run_compare(StageContext(cfg, tmp_path / "compare2", upstream={"train": tmp_path / "train2"}))
    assert not worse.passed and "significantly worse" in worse.key_figure

    # the console script: exit 0 with the version, exit 2 naming the refused import
    done = subprocess.run([*mlgate_bin, "register", "--model", str(tmp_path / "weak.joblib"), "--alias", "manual"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "churn v3 @manual" in done.stdout
